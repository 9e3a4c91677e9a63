"""Issue 10, items 1, 5, 6 and 7 on the pages: each view parses a form, calls one action and keeps
what was typed on refusal, naming the field."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from care.models import CareStatus
from clinic import actions
from patients.models import Cause, LabNotDrawn, LabResult, Patient
from protocols.models import ProtocolProfile
from tests.ui.builders import Clinic, today

pytestmark = pytest.mark.django_db

REFERRAL = {
    "mrn": "NEW-001",
    "given_name": "Mary",
    "family_name": "Somerville",
    "birth_date": "1960-12-26",
    "sex": "female",
    "email": "mary@example.org",
    "phone": "",
    "email_reminders_consent": "on",
}


def referral(**changes: Any) -> dict[str, Any]:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    return {**REFERRAL, "profile": profile.pk, **changes}


# Registration --------------------------------------------------------------------------------------


def test_a_nurse_registers_a_referral_who_gets_a_regimen_and_a_care_status(nurse_client: Client) -> None:
    page = nurse_client.get(reverse("patient_create"))
    assert page.status_code == 200
    assert page.context["form"]["profile"].value() == ProtocolProfile.objects.get(slug="monthly-cyanocobalamin").pk
    response = nurse_client.post(reverse("patient_create"), referral(), follow=True)
    patient = Patient.objects.get(mrn="NEW-001")
    assert response.redirect_chain[-1][0] == reverse("patient_detail", args=[patient.pk])
    assert "Mary Somerville (NEW-001) registered." in response.content.decode()
    assert patient.regimen.profile.slug == "monthly-cyanocobalamin"
    assert CareStatus.objects.get(patient=patient).phase == "not_started"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mrn": "TAKEN"}, "mrn"),
        ({"mrn": ""}, "mrn"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"birth_date": "1960-13-40"}, "birth_date"),
        ({"email": ""}, "email"),  # consent without an address
        ({"sex": "robot"}, "sex"),
        ({"profile": "999"}, "profile"),
    ],
)
def test_registration_refuses_bad_input_keeping_what_was_typed(
    nurse_client: Client, make_patient, changes: dict[str, str], field: str
) -> None:
    make_patient(mrn="TAKEN", given_name="Someone", family_name="Else")
    response = nurse_client.post(reverse("patient_create"), referral(**changes))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert response.context["form"]["given_name"].value() == "Mary"
    assert not Patient.objects.filter(family_name="Somerville").exists()


def test_a_possible_duplicate_is_shown_with_a_link_and_registered_only_when_confirmed(
    nurse_client: Client, make_patient
) -> None:
    existing = make_patient(
        mrn="OLD-9", given_name="mary", family_name="SOMERVILLE", birth_date=datetime.date(1960, 12, 26)
    )
    warned = nurse_client.post(reverse("patient_create"), referral())
    assert warned.status_code == 200
    assert reverse("patient_detail", args=[existing.pk]) in warned.content.decode()
    assert list(warned.context["form"].errors) == ["confirm_duplicate"]
    assert b'type="checkbox" name="confirm_duplicate"' in warned.content
    assert Patient.objects.count() == 1

    nurse_client.post(reverse("patient_create"), referral(confirm_duplicate="on"))
    patient = Patient.objects.get(mrn="NEW-001")
    assert "OLD-9" in patient.history.first().history_change_reason


def test_a_user_without_a_role_cannot_register(client: Client, stranger) -> None:
    client.force_login(stranger)
    assert client.get(reverse("patient_create")).status_code == 403
    assert client.post(reverse("patient_create"), REFERRAL).status_code == 403


def test_a_patient_added_in_the_admin_gets_the_regimen_and_care_status_of_the_app(client: Client, superuser) -> None:
    client.force_login(superuser)
    assert client.get(reverse("admin:patients_patient_add")).status_code == 200
    hydroxo = ProtocolProfile.objects.get(slug="hydroxocobalamin-3-monthly")
    data = {
        **REFERRAL,
        "mrn": "ADM-1",
        "pregnancy": "none",
        "dietary_intake_adequate": "unknown",
        "profile": hydroxo.pk,
    }
    response = client.post(reverse("admin:patients_patient_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    patient = Patient.objects.get(mrn="ADM-1")
    assert patient.regimen.profile == hydroxo
    assert CareStatus.objects.get(patient=patient).profile == hydroxo
    assert client.get(reverse("patient_detail", args=[patient.pk])).status_code == 200
    assert client.get(reverse("admin:patients_patient_change", args=[patient.pk])).status_code == 200


# The patient's details -----------------------------------------------------------------------------


def test_a_nurse_edits_contact_details_but_not_the_clinical_flags(nurse_client: Client, patient) -> None:
    url = reverse("patient_contact_edit", args=[patient.pk])
    refused = nurse_client.post(url, {"email": "", "phone": "0123", "email_reminders_consent": "on"})
    assert list(refused.context["form"].errors) == ["email"]
    assert refused.context["form"]["phone"].value() == "0123"
    nurse_client.post(url, {"email": "a@example.org", "phone": "0123", "email_reminders_consent": "on"})
    patient.refresh_from_db()
    assert (patient.email, patient.phone, patient.email_reminders_consent) == ("a@example.org", "0123", True)
    assert nurse_client.get(reverse("patient_clinical_edit", args=[patient.pk])).status_code == 403


def test_a_physician_changes_the_clinical_flags_with_a_reason(physician_client: Client, patient) -> None:
    url = reverse("patient_clinical_edit", args=[patient.pk])
    data = {"neurological_involvement": "on", "pregnancy": "none", "dietary_intake_adequate": "no", "reason": ""}
    assert list(physician_client.post(url, data).context["form"].errors) == ["reason"]
    physician_client.post(url, {**data, "reason": "Numb feet"})
    patient.refresh_from_db()
    assert (patient.neurological_involvement, patient.dietary_intake_adequate) == (True, "no")


@pytest.mark.parametrize(
    ("data", "expected", "error"),
    [
        ({"kind": "ileal_resection", "length_cm": "45"}, {"length_cm": 45}, None),
        ({"kind": "ileal_resection"}, None, "length_cm"),
        ({"kind": "crohns_ileal", "length_cm": "30", "procedure": "sleeve"}, {"length_cm": 30, "procedure": ""}, None),
        (
            {"kind": "bariatric_surgery", "procedure": "gastric_bypass", "length_cm": "9"},
            {"procedure": "gastric_bypass", "length_cm": None},
            None,
        ),
        ({"kind": "bariatric_surgery"}, None, "procedure"),
        ({"kind": "ppi", "start": "2024-01-01", "stop": "2025-06-01"}, {"start": datetime.date(2024, 1, 1)}, None),
        ({"kind": "metformin"}, None, "start"),
        ({"kind": "metformin", "start": "2025-01-01", "stop": "2024-01-01"}, None, "stop"),
        ({"kind": "other", "note": "Nitrous oxide use"}, {"note": "Nitrous oxide use"}, None),
        ({"kind": "other"}, None, "note"),
        ({"kind": "pernicious_anemia", "reason": ""}, None, "reason"),
    ],
)
def test_a_physician_records_each_kind_of_cause_with_its_own_fields(
    physician_client: Client, patient, data, expected, error
) -> None:
    response = physician_client.post(reverse("cause_create", args=[patient.pk]), {"reason": "Referral letter", **data})
    if error:
        assert list(response.context["form"].errors) == [error]
        assert not Cause.objects.exists()
        return
    cause = Cause.objects.get()
    assert {name: getattr(cause, name) for name in expected} == expected
    assert cause.history.first().history_change_reason == "Referral letter"


def test_a_physician_changes_and_removes_a_cause_with_reasons(physician_client: Client, patient, physician) -> None:
    cause = actions.cause_add(patient=patient, kind="ppi", start=datetime.date(2024, 1, 1), by=physician)
    url = reverse("cause_edit", args=[patient.pk, cause.pk])
    assert physician_client.get(url).status_code == 200
    physician_client.post(url, {"kind": "dietary", "start": "2024-01-01", "stop": "2026-01-01", "reason": "Stopped"})
    cause.refresh_from_db()
    assert (cause.kind, cause.stop) == ("ppi", datetime.date(2026, 1, 1))  # the kind never changes
    refused = physician_client.post(reverse("cause_remove", args=[patient.pk, cause.pk]), {"reason": ""})
    assert list(refused.context["form"].errors) == ["reason"]
    physician_client.post(reverse("cause_remove", args=[patient.pk, cause.pk]), {"reason": "Wrong patient"})
    assert not Cause.objects.exists()
    assert Cause.history.filter(history_type="-").get().history_change_reason == "Wrong patient"


def test_only_physicians_touch_causes_and_the_profile(nurse_client: Client, patient) -> None:
    for name in ("cause_create", "profile_change"):
        assert nurse_client.get(reverse(name, args=[patient.pk])).status_code == 403


def test_a_physician_changes_the_profile_with_a_reason(physician_client: Client, patient) -> None:
    hydroxo = ProtocolProfile.objects.get(slug="hydroxocobalamin-3-monthly")
    url = reverse("profile_change", args=[patient.pk])
    assert list(physician_client.post(url, {"profile": hydroxo.pk}).context["form"].errors) == ["reason"]
    physician_client.post(url, {"profile": hydroxo.pk, "reason": "Allergy"})
    patient.regimen.refresh_from_db()
    assert patient.regimen.profile == hydroxo


# Lab panels ----------------------------------------------------------------------------------------


def panel(**rows: Any) -> dict[str, str]:
    data = {"collected_on": today().isoformat(), "notes": ""}
    for code, value in rows.items():
        if isinstance(value, tuple):
            data[f"{code}-value"], data[f"{code}-unit"] = value
        else:
            data[f"{code}-not_drawn"], data[f"{code}-reason"] = "on", value
    return data


def test_the_panel_offers_the_labs_still_to_draw_first(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.recheck_due()
    form = nurse_client.get(reverse("lab_panel_create", args=[patient.pk])).context["form"]
    assert form.to_draw == ["b12", "hemoglobin", "mcv", "ferritin", "transferrin_saturation"]
    assert [row.code for row in form.rows()][:5] == form.to_draw
    assert form["hemoglobin-unit"].value() == "g/L"


def test_a_five_test_panel_is_entered_in_one_form(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.recheck_due()
    data = panel(b12=("300", "pmol/L"), hemoglobin=("13.1", "g/dL"), mcv=("90", "fL"), ferritin=("40", "ug/L"))
    data.update(panel(transferrin_saturation="Sample clotted"))
    url = reverse("lab_panel_create", args=[patient.pk])
    response = nurse_client.post(f"{url}?next=/worklist/", {**data, "next": "/worklist/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/worklist/"
    assert "4 lab results saved" in response.content.decode()
    assert LabResult.objects.filter(patient=patient).count() == 4
    assert LabNotDrawn.objects.get(patient=patient).analyte == "transferrin_saturation"
    assert patient.mrn not in [row.patient.mrn for row in response.context["worklist"].rechecks]


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ({"ferritin": ("abc", "ug/L")}, "ferritin-value"),
        ({"ferritin": ("-3", "ug/L")}, "ferritin-value"),
        ({"ferritin": ("40", "pmol/L")}, "ferritin-unit"),
        ({"ferritin": ""}, "ferritin-reason"),
    ],
)
def test_a_refused_panel_saves_nothing_names_the_row_and_keeps_the_input(
    nurse_client: Client, patient, rows, field
) -> None:
    data = {**panel(b12=("300", "pg/mL"), mcv=("91", "fL")), **panel(**rows)}
    response = nurse_client.post(reverse("lab_panel_create", args=[patient.pk]), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["form"]["b12-value"].value() == "300"
    assert 'aria-invalid="true"' in response.content.decode()
    assert not LabResult.objects.exists()


def test_an_empty_panel_says_what_to_do(nurse_client: Client, patient) -> None:
    response = nurse_client.post(reverse("lab_panel_create", args=[patient.pk]), panel())
    assert "Enter at least one result" in response.content.decode()


# Discharge and re-admission ------------------------------------------------------------------------


def test_a_nurse_discharges_and_re_admits_from_the_chart(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.overdue(3, family_name="Noether")
    url = reverse("patient_discharge", args=[patient.pk])
    assert list(nurse_client.post(url, {"reason": "other", "note": ""}).context["form"].errors) == ["note"]
    assert list(nurse_client.post(url, {"reason": "bored"}).context["form"].errors) == ["reason"]
    chart = nurse_client.post(url, {"reason": "moved_away", "note": "To Göttingen"}, follow=True)
    assert "Discharged" in chart.content.decode() and "Moved away" in chart.content.decode()
    assert reverse("patient_readmit", args=[patient.pk]) in chart.content.decode()
    worklist = nurse_client.get(reverse("worklist")).context["worklist"]
    assert patient.mrn not in [row.patient.mrn for row in worklist.injections]
    assert patient.mrn in nurse_client.post(reverse("patient_list"), {"q": "Noether"}).content.decode()

    readmit = reverse("patient_readmit", args=[patient.pk])
    assert list(nurse_client.post(readmit, {"reason": ""}).context["form"].errors) == ["reason"]
    nurse_client.post(readmit, {"reason": "Moved back"})
    worklist = nurse_client.get(reverse("worklist")).context["worklist"]
    assert patient.mrn in [row.patient.mrn for row in worklist.injections]


# Daily-use polish ----------------------------------------------------------------------------------


def test_the_menu_links_the_reminders_page_and_registration(nurse_client: Client) -> None:
    page = nurse_client.get(reverse("worklist")).content.decode()
    assert f'href="{reverse("reminders:list")}"' in page
    assert f'href="{reverse("patient_create")}"' in page
    assert "js/focus_error.js" in page
    assert "skip-link" in page


def test_an_acknowledged_alert_is_marked_on_the_chart_with_who_and_when(
    physician_client: Client, clinic, physician
) -> None:
    patient = clinic.with_low_b12()
    chart = physician_client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert 'data-testid="acknowledged"' not in chart
    actions.decision_acknowledge_alert(patient=patient, alert_rule="ALERT-B12-LOW", reason="Seen", by=physician)
    chart = physician_client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "Acknowledged by phil" in chart


@pytest.mark.parametrize(
    ("value", "shown"),
    [("613.9875", "614"), ("12.345", "12.3"), ("0.3456", "0.35"), ("1.2345", "1.23"), ("1234.5", "1235"), ("0", "0")],
)
def test_values_are_shown_rounded_for_reading(value: str, shown: str) -> None:
    from clinic.templatetags.clinic_tags import reading

    assert reading(value) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Lab recheck overdue by 3 days (due 2026-11-03).", "Lab recheck overdue by 3 days (due 3 Nov 2026)."),
        ("B12 of 150 pg/mL on 2026-02-30 is low", "B12 of 150 pg/mL on 2026-02-30 is low"),  # not a date
    ],
)
def test_dates_in_alert_messages_read_in_the_pages_format(text: str, shown: str) -> None:
    from clinic.templatetags.clinic_tags import readable_dates

    assert readable_dates(text) == shown
