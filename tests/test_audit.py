"""Every change to a clinical record leaves a history row naming who made it; nothing bypasses that
with bulk writes; opening a chart is logged."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AccessEvent
from clinic import actions
from patients.models import Cause, Injection, LabResult, Medication, Patient, Regimen, SymptomCheck
from patients.querysets import AuditBypassError, bulk_create_with_history, bulk_update_with_history

pytestmark = pytest.mark.django_db

CLINICAL_MODELS = [Patient, Cause, Regimen, Injection, LabResult, SymptomCheck, Medication]


def test_it_keeps_who_created_corrected_and_voided_an_injection(injection_kwargs, nurse, physician, now) -> None:
    injection = actions.injection_record(**injection_kwargs)
    actions.injection_correct(
        injection=injection, data={"lot_number": "CY2601-02"}, by=physician, reason="Lot misread", now=now
    )
    actions.injection_void(injection=injection, by=physician, reason="Given at another clinic", now=now)

    rows = list(Injection.history.order_by("history_date", "history_id"))
    assert [(r.history_type, r.history_user, r.lot_number, r.voided_at) for r in rows] == [
        ("+", nurse, "CY2601-01", None),
        ("~", physician, "CY2601-02", None),
        ("~", physician, "CY2601-02", now),
    ]
    assert [r.history_change_reason for r in rows] == [
        None,
        "Lot misread",
        "Entered in error: Given at another clinic",
    ]
    assert Injection.objects.get().void_reason == "Given at another clinic"  # kept, never deleted


def test_it_records_the_request_user_for_admin_changes(client: Client, superuser, patient: Patient) -> None:
    client.force_login(superuser)
    response = client.post(
        reverse("admin:patients_symptomcheck_add"),
        {
            "patient": patient.pk,
            "checked_on": "2026-02-01",
            "neurological": "on",
            "notes": "",
            "recorded_by": superuser.pk,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    check = SymptomCheck.objects.get()
    assert check.history.get().history_user == superuser


def test_it_keeps_history_of_every_model_of_the_record() -> None:
    """Every model of the clinical record (patients/) keeps its history, a new one included."""
    from django.apps import apps
    from simple_history.models import HistoricalChanges

    record = [m for m in apps.get_app_config("patients").get_models() if not issubclass(m, HistoricalChanges)]
    assert {m.__name__ for m in record} >= {m.__name__ for m in CLINICAL_MODELS}
    assert [m.__name__ for m in record if not issubclass(getattr(m, "history", None).model, HistoricalChanges)] == []


@pytest.mark.parametrize("model", CLINICAL_MODELS)
def test_it_refuses_queryset_update(model, patient: Patient) -> None:
    with pytest.raises(AuditBypassError, match="audit trail"):
        model.objects.all().update(pk=1)


def test_it_refuses_update_through_related_managers(patient: Patient) -> None:
    with pytest.raises(AuditBypassError):
        patient.injections.update(notes="bulk")


def test_it_refuses_bulk_writes_outside_the_history_wrappers(injection_kwargs, nurse) -> None:
    injection = actions.injection_record(**injection_kwargs)
    with pytest.raises(AuditBypassError, match="bulk_update_with_history"):
        Injection.objects.bulk_update([injection], ["notes"])
    check = SymptomCheck(
        patient=injection.patient,
        checked_on=datetime.date(2026, 1, 1),
        neurological=False,
        depression=False,
        recorded_by=nurse,
    )
    with pytest.raises(AuditBypassError, match="bulk_create_with_history"):
        SymptomCheck.objects.bulk_create([check])
    assert not SymptomCheck.objects.exists()


def test_it_bulk_writes_with_history_through_the_wrappers(patient: Patient, nurse) -> None:
    checks = [
        SymptomCheck(
            patient=patient,
            checked_on=datetime.date(2026, 1, day),
            neurological=False,
            depression=False,
            recorded_by=nurse,
        )
        for day in (1, 2, 3)
    ]
    bulk_create_with_history(checks, SymptomCheck, default_user=nurse)
    assert SymptomCheck.objects.count() == SymptomCheck.history.filter(history_type="+").count() == 3

    saved = list(SymptomCheck.objects.all())
    for check in saved:
        check.notes = "reviewed"
    bulk_update_with_history(saved, SymptomCheck, ["notes"], default_user=nurse)
    assert SymptomCheck.history.filter(history_type="~", notes="reviewed").count() == 3
    # Outside the wrapper the guard is back on.
    with pytest.raises(AuditBypassError):
        SymptomCheck.objects.bulk_create([])


def test_it_logs_each_opening_of_a_chart(client: Client, nurse, patient: Patient) -> None:
    client.force_login(nurse)
    url = reverse("patient_detail", args=[patient.pk])
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    reads = AccessEvent.objects.filter(kind="read", page="patient_detail")
    assert [(e.username, e.ip_address, [p.mrn for p in e.patients.all()]) for e in reads] == [
        ("nina", "127.0.0.1", [patient.mrn])
    ] * 2


def test_it_logs_a_refused_chart_view_as_refused_with_the_user(client: Client, stranger, patient: Patient) -> None:
    client.force_login(stranger)
    assert client.get(reverse("patient_detail", args=[patient.pk])).status_code == 403
    assert not AccessEvent.objects.filter(kind="read").exists()
    denied = AccessEvent.objects.get(kind="denied")
    assert (denied.user, denied.status_code, denied.detail) == (stranger, 403, f"patient {patient.pk}")
