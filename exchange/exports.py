"""The exports: each list of the staff app as CSV, and the whole clinic in FORMAT.md's files.

Every cell that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a carriage
return) is prefixed with a quote (OWASP's advice on CSV injection, clinic.spreadsheets.neutralise): a
patient named `=HYPERLINK(...)` stays text. The whole-clinic files are written so that
`import_register` reads them back unchanged (tests/exchange/test_round_trip.py); their dates are ISO
and need no neutralising, and a negative number is never written (no value of the record is negative).
"""

from __future__ import annotations

import datetime
import io
import zipfile

import tablib
from django.db.models import Prefetch, Q, QuerySet

from audit.models import AccessEvent
from care import selectors
from care.selectors import Clinics
from clinic.spreadsheets import FORMULA_STARTS, csv_bytes, dataset, neutralise  # noqa: F401  (moved down, used here)
from exchange.importer import FILES, PATIENT_EXTRAS, SPECS
from patients.models import Cause, Injection, LabResult, Medication, Patient, SymptomCheck
from reminders.models import Reminder

# The lists -------------------------------------------------------------------------------------------

PATIENT_COLUMNS = ("mrn", "last_name", "first_name", "birth_date")


def _who(patient: Patient) -> list[object]:
    return [patient.mrn, patient.family_name, patient.given_name, patient.birth_date]


def worklist_export(*, today: datetime.date, clinics: Clinics) -> tuple[tablib.Dataset, set[int]]:
    worklist = selectors.worklist(today=today, clinics=clinics, limit=None)
    rows = [
        [*_who(row.patient), "injection", row.status.next_injection_due, row.days_overdue, ""]
        for row in worklist.injections
    ] + [
        [
            *_who(row.patient),
            "recheck",
            row.status.labs_due_on or row.status.next_recheck_due,
            row.days_overdue,
            " ".join(row.status.labs_to_draw),
        ]
        for row in worklist.rechecks
    ]
    ids = {row.status.patient_id for row in (*worklist.injections, *worklist.rechecks)}
    return dataset([*PATIENT_COLUMNS, "due", "due_on", "days_overdue", "labs_to_draw"], rows), ids


DASHBOARD_LISTS = ("overdue", "lost", "rechecks_soon", "rechecks_overdue", "oral_candidates", "alerts")


def dashboard_export(
    *, name: str, today: datetime.date, filters: selectors.DashboardFilters, clinics: Clinics
) -> tuple[tablib.Dataset, set[int]]:
    board = selectors.dashboard(today=today, filters=filters, clinics=clinics, limit=None)
    if name in ("overdue", "lost"):
        items = getattr(board, name)
        headers = [*PATIENT_COLUMNS, "injection_due", "days_overdue"]
        rows = [[*_who(r.patient), r.status.next_injection_due, r.days_overdue] for r in items]
        ids = {r.status.patient_id for r in items}
    elif name in ("rechecks_soon", "rechecks_overdue"):
        items = getattr(board, name)
        headers = [*PATIENT_COLUMNS, "recheck_due", "days_until"]
        rows = [[*_who(r.patient), r.status.next_recheck_due, r.days_until] for r in items]
        ids = {r.status.patient_id for r in items}
    elif name == "oral_candidates":
        headers = [*PATIENT_COLUMNS, "verdict", "rules", "latest_b12"]
        rows = [[*_who(s.patient), s.verdict, " ".join(s.verdict_rules), s.latest_b12] for s in board.oral_candidates]
        ids = {s.patient_id for s in board.oral_candidates}
    elif name == "alerts":
        headers = [*PATIENT_COLUMNS, "rule", "severity", "since", "message"]
        rows = [
            [*_who(a.patient), a.care_alert.rule, a.care_alert.severity_name, a.care_alert.since, a.care_alert.message]
            for a in board.alerts
        ]
        ids = {a.care_alert.patient_id for a in board.alerts}
    else:
        raise KeyError(name)
    return dataset(headers, rows), ids


def reminders_export(*, clinics: Clinics, status: str | None = None) -> tuple[tablib.Dataset, set[int]]:
    queryset = (
        Reminder.objects.filter(patient__clinic__in=clinics).select_related("patient").order_by("-updated_at", "-pk")
    )
    if status:
        queryset = queryset.filter(status=status)
    rows = [
        [*_who(r.patient), r.kind, r.due_date, r.channel, r.status, r.reason, r.updated_at] for r in queryset.iterator()
    ]
    ids = set(queryset.values_list("patient_id", flat=True))
    headers = [*PATIENT_COLUMNS, "kind", "due_date", "channel", "status", "reason", "updated_at"]
    return dataset(headers, rows), ids


def access_log_export(*, clinics: Clinics, since: datetime.datetime | None = None) -> tuple[tablib.Dataset, set[int]]:
    """The access log of these clinics: who did what when (events about their patients or by their
    staff), and the record numbers of their patients each event showed."""
    mine = AccessEvent.objects.filter(Q(patients__clinic__in=clinics) | Q(user__clinics__in=clinics)).values("pk")
    events: QuerySet[AccessEvent] = (
        AccessEvent.objects.filter(pk__in=mine)
        .prefetch_related(Prefetch("patients", queryset=Patient.objects.filter(clinic__in=clinics)))
        .order_by("at", "pk")
    )
    if since is not None:
        events = events.filter(at__gte=since)
    rows = []
    for event in events.iterator(chunk_size=2000):
        mrns = " ".join(sorted(p.mrn for p in event.patients.all()))
        rows.append(
            [event.at, event.kind, event.username, event.ip_address, event.method, event.path, event.status_code]
            + [event.detail, mrns]
        )
    headers = ["at", "kind", "user", "ip_address", "method", "path", "status", "detail", "patients"]
    return dataset(headers, rows), set()


# The whole clinic ------------------------------------------------------------------------------------


def clinic_export(*, patients: QuerySet[Patient]) -> tuple[dict[str, tablib.Dataset], set[int]]:
    """FORMAT.md's files (and `medications`, and the regimen's and discharge's columns on patients), for
    every patient or those of `patients`. Voided entries (entered in error) are left out."""
    chosen = patients.select_related("regimen__profile")
    ids = set(chosen.values_list("pk", flat=True))
    files: dict[str, list[list[object]]] = {name: [] for name in FILES}
    for p in chosen.order_by("mrn").iterator(chunk_size=2000):
        regimen = p.regimen
        files["patients"].append(
            [p.mrn, p.given_name, p.family_name, p.birth_date, p.sex, p.email, p.phone, p.email_reminders_consent]
            + [regimen.profile.slug, p.neurological_involvement, p.pregnancy]
            + [{"yes": True, "no": False}.get(p.dietary_intake_adequate)]
            + [regimen.maintenance_interval_months, regimen.maintenance_interval_days, regimen.interval_reason]
            + [regimen.recheck_on, regimen.recheck_reason, regimen.oral_since, regimen.oral_dose_mcg]
            + [p.discharge_reason if not p.is_active else "", p.discharge_note if not p.is_active else ""]
        )
    mrn = dict(chosen.values_list("pk", "mrn"))
    for c in Cause.objects.filter(patient_id__in=ids).order_by("patient_id", "pk").iterator(chunk_size=5000):
        files["causes"].append([mrn[c.patient_id], c.kind, c.length_cm, c.procedure, c.start, c.stop, c.note])
    injections = Injection.objects.filter(patient_id__in=ids, voided_at__isnull=True).select_related("given_by")
    for i in injections.order_by("patient_id", "given_at", "pk").iterator(chunk_size=5000):
        given_by = i.given_by_name or i.given_by.get_full_name() or i.given_by.get_username()
        files["injections"].append(
            [mrn[i.patient_id], i.given_at, i.drug, i.dose_mcg, i.route, i.site, i.lot_number, i.lot_expiry, given_by]
            + [i.notes]
        )
    labs = LabResult.objects.filter(patient_id__in=ids, voided_at__isnull=True)
    for lab in labs.order_by("patient_id", "collected_on", "pk").iterator(chunk_size=5000):
        files["labs"].append(
            [mrn[lab.patient_id], lab.collected_on, lab.analyte, lab.value_entered, lab.unit_entered, lab.notes]
        )
    checks = SymptomCheck.objects.filter(patient_id__in=ids)
    for s in checks.order_by("patient_id", "checked_on", "pk").iterator(chunk_size=5000):
        files["symptoms"].append([mrn[s.patient_id], s.checked_on, s.neurological, s.depression, s.notes])
    for m in Medication.objects.filter(patient_id__in=ids).order_by("patient_id", "start", "pk"):
        files["medications"].append([mrn[m.patient_id], m.name, m.start, m.stop, m.detail])
    return {name: dataset(SPECS[name].all_columns, rows) for name, rows in files.items()}, ids


assert SPECS["patients"].all_columns[-len(PATIENT_EXTRAS) :] == PATIENT_EXTRAS


def templates() -> dict[str, tablib.Dataset]:
    """An empty file of each kind, its header only: what the import page offers to download."""
    return {name: tablib.Dataset(headers=list(SPECS[name].all_columns)) for name in FILES}


def zip_of(files: dict[str, tablib.Dataset]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{name}.csv", csv_bytes(data))
    return buffer.getvalue()
