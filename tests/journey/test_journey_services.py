"""Issue 10, items 1, 5 and 6 through the actions: registration, the patient's details, causes and
profile with reasons, lab panels and the worklist's recheck list, discharge and re-admission."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from care.models import CareStatus
from care.selectors import patient_search, worklist
from clinic import actions
from patients.models import LabNotDrawn, LabResult, Patient
from protocols.models import ProtocolProfile
from reminders.models import Reminder
from tests.conftest import EVERY_CLINIC
from tests.ui.builders import Clinic, days_ago, today

pytestmark = pytest.mark.django_db


def last_reason(obj: Any) -> str | None:
    return obj.history.order_by("-history_date", "-history_id").first().history_change_reason


# Registration and the patient's details ------------------------------------------------------------


def test_it_refuses_a_record_number_already_used_naming_the_field(make_patient) -> None:
    make_patient(mrn="R-1")
    with pytest.raises(ValidationError) as error:
        make_patient(mrn="R-1", given_name="Other")
    assert list(error.value.message_dict) == ["mrn"]
    assert Patient.objects.count() == 1


def test_it_keeps_the_reason_a_possible_duplicate_was_registered(make_patient) -> None:
    patient = make_patient(reason="Registered although a patient of the same name and birth date exists (T-0001).")
    assert "same name and birth date" in last_reason(patient)
    assert CareStatus.objects.filter(patient=patient).exists()


@pytest.mark.parametrize(
    ("email", "consent", "error"),
    [
        ("a@example.org", True, None),
        ("", False, None),
        ("", True, "email"),
        ("not-an-address", False, "email"),
    ],
)
def test_it_changes_contact_details_with_consent_rules(patient, nurse, email, consent, error, now) -> None:
    kwargs = {"patient": patient, "email": email, "phone": "+44 20 0000", "email_reminders_consent": consent}
    if error:
        with pytest.raises(ValidationError) as refused:
            actions.patient_update_contact(**kwargs, by=nurse, now=now)
        assert list(refused.value.message_dict) == [error]
        patient.refresh_from_db()
        assert patient.phone == ""  # nothing half-saved
        return
    actions.patient_update_contact(**kwargs, by=nurse, now=now)
    patient.refresh_from_db()
    assert (patient.email, patient.phone, patient.email_reminders_consent) == (email, "+44 20 0000", consent)
    assert last_reason(patient) == "Contact details changed"


def test_withdrawing_consent_records_when(patient, nurse, now) -> None:
    actions.patient_update_contact(
        patient=patient, email="a@example.org", phone="", email_reminders_consent=True, by=nurse, now=now
    )
    assert patient.email_opt_out_at is None
    actions.patient_update_contact(
        patient=patient, email="a@example.org", phone="", email_reminders_consent=False, by=nurse, now=now
    )
    assert patient.email_opt_out_at == now


@pytest.mark.parametrize(
    ("who", "changes", "error"),
    [
        ("physician", {"neurological_involvement": True, "reason": "Paresthesia on examination"}, None),
        ("physician", {"pregnancy": "planning", "reason": "Planning a pregnancy"}, None),
        ("physician", {"reason": "  "}, "reason"),
        ("nurse", {"reason": "x"}, PermissionDenied),
    ],
)
def test_only_a_physician_changes_the_clinical_flags_with_a_reason(
    make_patient, nurse, physician, who, changes, error
) -> None:
    patient = make_patient()
    values = {"neurological_involvement": False, "pregnancy": "none", "dietary_intake_adequate": "unknown", **changes}
    by = physician if who == "physician" else nurse
    if error is PermissionDenied:
        with pytest.raises(PermissionDenied):
            actions.patient_set_clinical_flags(patient=patient, by=by, **values)
        return
    if error:
        with pytest.raises(ValidationError) as refused:
            actions.patient_set_clinical_flags(patient=patient, by=by, **values)
        assert list(refused.value.message_dict) == [error]
        return
    actions.patient_set_clinical_flags(patient=patient, by=by, **values)
    patient.refresh_from_db()
    assert last_reason(patient) == changes["reason"]


def test_a_male_patient_cannot_be_made_pregnant(make_patient, physician) -> None:
    patient = make_patient(sex="male")
    with pytest.raises(ValidationError) as refused:
        actions.patient_set_clinical_flags(
            patient=patient,
            neurological_involvement=False,
            pregnancy="pregnant",
            dietary_intake_adequate="unknown",
            reason="x",
            by=physician,
        )
    assert list(refused.value.message_dict) == ["pregnancy"]


def test_the_care_status_follows_the_clinical_flags_in_the_same_transaction(nurse, physician) -> None:
    patient = Clinic(nurse=nurse, physician=physician).recheck_due()
    before = CareStatus.objects.get(patient=patient).fingerprint
    actions.patient_set_clinical_flags(
        patient=patient,
        neurological_involvement=True,
        pregnancy="none",
        dietary_intake_adequate="unknown",
        reason="Neuropathy",
        by=physician,
    )
    assert CareStatus.objects.get(patient=patient).fingerprint != before  # re-evaluated with the flag


def test_causes_and_the_profile_keep_their_reasons(patient, physician, today) -> None:
    cause = actions.cause_add(
        patient=patient,
        kind="ppi",
        start=datetime.date(2024, 1, 1),
        by=physician,
        today=today,
        reason="Referral letter",
    )
    assert last_reason(cause) == "Referral letter"
    actions.cause_update(
        cause=cause, data={"stop": datetime.date(2026, 1, 1)}, by=physician, today=today, reason="PPI stopped"
    )
    assert last_reason(cause) == "PPI stopped"
    hydroxo = ProtocolProfile.objects.get(slug="hydroxocobalamin-3-monthly")
    actions.regimen_set_profile(regimen=patient.regimen, profile=hydroxo, by=physician, reason="Cyanocobalamin allergy")
    assert last_reason(patient.regimen) == "Cyanocobalamin allergy"
    assert CareStatus.objects.get(patient=patient).profile == hydroxo


# Discharge and re-admission ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("moved_away", None),
        ("care_transferred", None),
        ("deceased", None),
        ("declined_treatment", None),
        ("other", None),
        ("bored", "reason"),
        ("", "reason"),
    ],
)
def test_it_discharges_with_a_reason(patient, nurse, now, reason, error) -> None:
    if error:
        with pytest.raises(ValidationError) as refused:
            actions.patient_discharge(patient=patient, by=nurse, now=now, reason=reason)
        assert list(refused.value.message_dict) == [error]
        assert Patient.objects.get(pk=patient.pk).is_active
        return
    actions.patient_discharge(patient=patient, by=nurse, now=now, reason=reason, note="  Leeds  ")
    patient.refresh_from_db()
    assert (patient.is_active, patient.discharge_reason, patient.discharge_note) == (False, reason, "Leeds")
    assert last_reason(patient).startswith("Discharged: ")


def _pending_reminder(patient: Patient) -> Reminder:
    status = CareStatus.objects.get(patient=patient)
    return Reminder.objects.create(
        patient=patient,
        kind=Reminder.Kind.INJECTION_DUE_SOON,
        due_date=status.next_injection_due,
        next_attempt_at=timezone.now(),
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )


def test_discharge_cancels_reminders_and_empties_the_lists_readmission_restores_them(nurse, physician) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    patient = clinic.on_time(family_name="Lovelace")
    reminder = _pending_reminder(patient)
    overdue = clinic.overdue(3, family_name="Turing")

    actions.patient_discharge(patient=overdue, by=nurse, reason="moved_away")
    actions.patient_discharge(patient=patient, by=nurse, reason="care_transferred", note="To St Mary's")
    reminder.refresh_from_db()
    assert (reminder.status, reminder.reason) == ("cancelled", "discharged")
    assert worklist(today=today(), clinics=EVERY_CLINIC).injections == []
    assert not CareStatus.objects.get(patient=overdue).patient_active
    assert [p.mrn for p in patient_search(query="Lovelace", clinics=EVERY_CLINIC)] == [patient.mrn]  # still searchable

    actions.patient_readmit(patient=patient, by=nurse, reason="Back from Leeds")
    actions.patient_readmit(patient=overdue, by=nurse, reason="Came back")
    reminder.refresh_from_db()
    assert (reminder.status, reminder.reason) == ("pending", "")
    assert [row.patient.mrn for row in worklist(today=today(), clinics=EVERY_CLINIC).injections] == [overdue.mrn]
    assert CareStatus.objects.get(patient=patient).patient_active
    assert last_reason(patient) == "Re-admitted: Back from Leeds"


@pytest.mark.parametrize(
    ("discharged", "reason", "error"), [(False, "x", "patient"), (True, " ", "reason"), (True, "Back", None)]
)
def test_readmission_needs_a_discharged_patient_and_a_reason(patient, nurse, discharged, reason, error) -> None:
    if discharged:
        actions.patient_discharge(patient=patient, by=nurse, reason="moved_away")
    if error:
        with pytest.raises(ValidationError) as refused:
            actions.patient_readmit(patient=patient, by=nurse, reason=reason)
        assert list(refused.value.message_dict) == [error]
        return
    actions.patient_readmit(patient=patient, by=nurse, reason=reason)
    assert Patient.objects.get(pk=patient.pk).is_active


# Lab panels ----------------------------------------------------------------------------------------

FIVE = [
    {"analyte": "b12", "value": "350", "unit": "pg/mL"},
    {"analyte": "hemoglobin", "value": "13.2", "unit": "g/dL"},
    {"analyte": "mcv", "value": "91", "unit": "fL"},
    {"analyte": "ferritin", "value": "45", "unit": "ng/mL"},
    {"analyte": "transferrin_saturation", "value": "24", "unit": "%"},
]


def test_a_panel_saves_every_row_with_its_canonical_value(patient, nurse, today) -> None:
    saved = actions.lab_panel_record(
        patient=patient, collected_on=today, results=FIVE, entered_by=nurse, today=today, notes="Fasting"
    )
    assert len(saved) == 5
    hemoglobin = LabResult.objects.get(patient=patient, analyte="hemoglobin")
    assert (hemoglobin.value_canonical, hemoglobin.unit_canonical, hemoglobin.notes) == (132, "g/L", "Fasting")


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        ({"analyte": "ferritin", "value": "abc", "unit": "ng/mL"}, "ferritin.value"),
        ({"analyte": "ferritin", "value": "-1", "unit": "ng/mL"}, "ferritin.value"),
        ({"analyte": "ferritin", "value": "45", "unit": "mg"}, "ferritin.unit"),
        ({"analyte": "b12", "value": "300", "unit": "pg/mL"}, "b12.analyte"),  # twice in one panel
    ],
)
def test_a_panel_is_all_or_nothing_and_names_the_row(patient, nurse, today, bad_row, field) -> None:
    rows = [row for row in FIVE if row["analyte"] != "ferritin" or bad_row["analyte"] != "ferritin"] + [bad_row]
    with pytest.raises(ValidationError) as refused:
        actions.lab_panel_record(patient=patient, collected_on=today, results=rows, entered_by=nurse, today=today)
    assert field in refused.value.message_dict
    assert LabResult.objects.filter(patient=patient).count() == 0


@pytest.mark.parametrize(
    ("collected_on", "not_drawn", "field"),
    [
        (datetime.date(2026, 3, 2), [], "collected_on"),
        (datetime.date(2026, 3, 1), [{"analyte": "mcv", "reason": ""}], "mcv.not_drawn_reason"),
        (datetime.date(2026, 3, 1), [{"analyte": "gold", "reason": "x"}], "gold.analyte"),
    ],
)
def test_a_panel_refuses_a_future_date_and_a_not_drawn_without_reason(
    patient, nurse, today, collected_on, not_drawn, field
) -> None:
    with pytest.raises(ValidationError) as refused:
        actions.lab_panel_record(
            patient=patient,
            collected_on=collected_on,
            results=FIVE[:1],
            not_drawn=not_drawn,
            entered_by=nurse,
            today=today,
        )
    assert field in refused.value.message_dict
    assert not LabResult.objects.exists() and not LabNotDrawn.objects.exists()


def test_an_empty_panel_is_refused(patient, nurse, today) -> None:
    with pytest.raises(ValidationError):
        actions.lab_panel_record(patient=patient, collected_on=today, results=[], entered_by=nurse, today=today)


def _recheck_patient(nurse, physician, **extra: Any) -> Patient:
    return Clinic(nurse=nurse, physician=physician).recheck_due(**extra)


def _on_recheck_list(patient: Patient) -> list[str]:
    rows = worklist(today=today(), clinics=EVERY_CLINIC).rechecks
    return next((row.status.labs_to_draw for row in rows if row.patient.pk == patient.pk), None)


# After the B12, which rows are entered at the same draw: the patient stays on the recheck list until
# every lab is in or recorded as not drawn.
@pytest.mark.parametrize(
    ("entered", "not_drawn", "still_to_draw"),
    [
        ([], [], ["hemoglobin", "mcv", "ferritin", "transferrin_saturation"]),
        (["hemoglobin", "mcv"], [], ["ferritin", "transferrin_saturation"]),
        (["hemoglobin", "mcv", "ferritin"], [], ["transferrin_saturation"]),
        (["hemoglobin", "mcv", "ferritin"], ["transferrin_saturation"], None),
        (["hemoglobin", "mcv", "ferritin", "transferrin_saturation"], [], None),
    ],
)
def test_the_patient_stays_on_the_recheck_list_until_every_lab_is_in(
    nurse, physician, entered, not_drawn, still_to_draw
) -> None:
    patient = _recheck_patient(nurse, physician)
    status = CareStatus.objects.get(patient=patient)
    assert status.recheck_labs == ["b12", "cbc", "iron"]
    due = status.next_recheck_due
    assert _on_recheck_list(patient) == ["b12", "hemoglobin", "mcv", "ferritin", "transferrin_saturation"]

    actions.lab_result_record(
        patient=patient, analyte="b12", value="420", unit="pg/mL", collected_on=today(), entered_by=nurse
    )
    status.refresh_from_db()
    assert status.next_recheck_due > due  # the engine moved on to the next recheck...
    rows = [row for row in FIVE if row["analyte"] in entered]
    marks = [{"analyte": code, "reason": "Sample haemolysed"} for code in not_drawn]
    if rows or marks:
        actions.lab_panel_record(patient=patient, collected_on=today(), results=rows, not_drawn=marks, entered_by=nurse)
    assert _on_recheck_list(patient) == still_to_draw  # ...but the worklist waits for the other labs
    if still_to_draw:
        assert CareStatus.objects.get(patient=patient).labs_due_on == due


def test_labs_drawn_before_the_window_do_not_count(nurse, physician) -> None:
    patient = _recheck_patient(nurse, physician)
    status = CareStatus.objects.get(patient=patient)
    before_window = status.next_recheck_due - datetime.timedelta(days=15)
    actions.lab_panel_record(patient=patient, collected_on=before_window, results=FIVE[1:], entered_by=nurse)
    assert _on_recheck_list(patient) == ["b12", "hemoglobin", "mcv", "ferritin", "transferrin_saturation"]
    actions.lab_panel_record(patient=patient, collected_on=days_ago(0), results=FIVE, entered_by=nurse)
    assert _on_recheck_list(patient) is None


def test_a_bariatric_patients_panel_includes_the_post_bariatric_labs(nurse, physician) -> None:
    patient = _recheck_patient(nurse, physician)
    actions.cause_add(patient=patient, kind="bariatric_surgery", procedure="sleeve", by=physician)
    assert _on_recheck_list(patient)[-5:] == ["vitamin_d", "thiamine", "calcium", "folate", "vitamin_a"]


def test_a_discharged_patient_has_no_labs_to_draw(nurse, physician) -> None:
    patient = _recheck_patient(nurse, physician)
    actions.patient_discharge(patient=patient, by=nurse, reason="deceased")
    status = CareStatus.objects.get(patient=patient)
    assert (status.labs_due_on, status.labs_to_draw) == (None, [])
