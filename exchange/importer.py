"""The register import (FORMAT.md): files in, every row through the application layer, all or nothing.

Everything happens inside one `actions.batch()`. New entries (patients, causes, injections, labs,
symptom checks, medications) are checked row by row by patients.bulk.RecordBulk, which runs the
record's services' validation and plausibility checks with the same messages, against the
patients' entries read once and the rows above; every few thousand rows and at the end of each file
they are written, with their history rows, by the one action clinic.actions.record_bulk_write. Rows
that change what is on record (a patient's details, a cause, a medication's stop, a regimen carried
over) go through their own actions one by one. The care statuses are computed once per patient at the
end, in chunks. A refused row leaves nothing behind, so every problem of every file is found in one
pass; then, if there was any problem (or an unaccepted warning, or a dry run), the whole batch is
rolled back and nothing stays.

A soft warning (NeedsConfirmation) is reported and the row is then written with its warnings
confirmed, so later rows are checked against it as if accepted; with `accept_warnings` those
confirmations are what the entries keep (who accepted, when), as a confirmation in the app is.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic import actions
from exchange import clinics, values
from exchange.reader import Table, UnreadableFile, normal, read_table, unknown_columns
from patients.bulk import RecordBulk
from patients.models import (
    Cause,
    DischargeReason,
    Drug,
    MedicationName,
    Patient,
    Pregnancy,
    Procedure,
    Route,
    Site,
)
from patients.plausibility import CODES, NeedsConfirmation
from protocols.engine import units
from protocols.models import ProtocolProfile

IMPORT_REASON = "Imported from the clinic's register"
# Each file's choices, built once (an enum's .choices makes a new list at every call).
_PREGNANCIES = tuple(Pregnancy.choices)
_DISCHARGE_REASONS = tuple(DischargeReason.choices)
_CAUSE_KINDS = tuple(Cause.Kind.choices)
_PROCEDURES = tuple(Procedure.choices)
_DRUGS = tuple(Drug.choices)
_ROUTES = tuple(Route.choices)
_SITES = tuple(Site.choices)
_MEDICATIONS = tuple(MedicationName.choices)
WRITE_EVERY = 5000  # rows checked between two bulk writes (memory stays flat on a large file)


@dataclass(frozen=True)
class FileSpec:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    # Service argument -> column, for naming the column of a refusal.
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


# Columns past FORMAT.md's, written by the whole-clinic export so that a round trip keeps decisions
# made on the regimen, discharges and medications (the care status reads them).
PATIENT_EXTRAS = (
    "maintenance_interval_months",
    "maintenance_interval_days",
    "interval_reason",
    "recheck_on",
    "recheck_reason",
    "oral_since",
    "oral_dose_mcg",
    "discharge_reason",
    "discharge_note",
)
SPECS: dict[str, FileSpec] = {
    spec.name: spec
    for spec in (
        FileSpec(
            "patients",
            ("mrn", "first_name", "last_name", "birth_date"),
            (
                "sex",
                "email",
                "phone",
                "email_consent",
                "profile",
                "neurological_involvement",
                "pregnancy",
                "dietary_intake_adequate",
                *PATIENT_EXTRAS,
            ),
            {
                "given_name": "first_name",
                "family_name": "last_name",
                "email_reminders_consent": "email_consent",
                "months": "maintenance_interval_months",
                "days": "maintenance_interval_days",
                "since": "oral_since",
                "dose_mcg": "oral_dose_mcg",
                "on": "recheck_on",
                "reason": "discharge_reason",
                "note": "discharge_note",
            },
        ),
        FileSpec("causes", ("mrn", "code"), ("length_cm", "procedure", "start", "stop", "note"), {"kind": "code"}),
        FileSpec(
            "injections",
            ("mrn", "given_at"),
            ("drug", "dose_mcg", "route", "site", "lot_number", "lot_expiry", "given_by", "note"),
            {"given_by_name": "given_by", "notes": "note"},
        ),
        FileSpec(
            "labs",
            ("mrn", "collected_on", "analyte", "value", "unit"),
            ("note",),
            {"notes": "note", "entered_by": "mrn"},
        ),
        FileSpec(
            "symptoms",
            ("mrn", "checked_on", "neurological", "depression"),
            ("note",),
            {"notes": "note", "recorded_by": "mrn"},
        ),
        FileSpec("medications", ("mrn", "name", "start"), ("stop", "detail"), {"recorded_by": "mrn"}),
    )
}
FILES = tuple(SPECS)  # in the order they are imported: patients first


@dataclass(frozen=True)
class Problem:
    filename: str
    row: int | None
    column: str
    reason: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.filename} row {self.row}, column {self.column}" if self.row else self.filename
        return f"{where}: {'warning: ' if self.warning else ''}{self.reason}"


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class Report:
    counts: dict[str, Counts] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: int = 0
    saved: bool = False
    dry_run: bool = False
    warnings_accepted: bool = False

    @property
    def exit_code(self) -> int:
        """FORMAT.md: 2 for any refused row, 3 for warnings not accepted, else 0."""
        if self.errors:
            return 2
        if self.warnings and not self.warnings_accepted:
            return 3
        return 0

    def lines(self) -> list[str]:
        return [f"{name}: {counts}" for name, counts in self.counts.items()]

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": {name: vars(counts) for name, counts in self.counts.items()},
            "errors": [str(p) for p in self.errors],
            "warnings": [str(p) for p in self.warnings],
            "problems": [
                {"file": p.filename, "row": p.row, "column": p.column, "reason": p.reason, "warning": p.warning}
                for p in [*self.errors, *self.warnings]
            ],
            "notes": self.notes,
            "rows": self.rows,
            "saved": self.saved,
            "dry_run": self.dry_run,
            "warnings_accepted": self.warnings_accepted,
        }


class _RowRefused(Exception):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems  # (column, reason)


class _Rollback(Exception):
    pass


def _refuse(column: str, reason: str) -> None:
    raise _RowRefused([(column, reason)])


@dataclass(frozen=True)
class Upload:
    name: str  # one of FILES
    filename: str
    content: bytes


def import_register(
    uploads: Iterable[Upload],
    *,
    by: AbstractBaseUser,
    clinic: str | None = None,
    date_format: str | None = None,
    dry_run: bool = False,
    accept_warnings: bool = False,
    progress: Callable[[int, int], None] | None = None,
    care_progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Import the files; the report says what was (or would be) created, updated and unchanged, and every
    problem. Saved only when there is no error, every warning is accepted and it is not a dry run.
    `progress(rows done, rows)` follows the rows, `care_progress(done, patients)` the care statuses."""
    report = Report(dry_run=dry_run, warnings_accepted=accept_warnings)
    tables: list[Table] = []
    for upload in sorted(uploads, key=lambda u: FILES.index(u.name)):
        try:
            table = read_table(upload.name, upload.content, upload.filename)
        except UnreadableFile as error:
            report.errors.append(Problem(upload.filename, None, "", str(error)))
            continue
        spec = SPECS[upload.name]
        present = {normal(h) for h in table.headers}
        for column in spec.required:
            if normal(column) not in present:
                report.errors.append(Problem(upload.filename, 1, column, "this required column is missing."))
        extra = unknown_columns(table, spec.all_columns)
        if extra:
            report.notes.append(f"{upload.filename}: unknown columns ignored: {', '.join(extra)}")
        tables.append(table)
    if report.errors:
        return report
    try:
        chosen = clinics.clinic_for(clinic, user=by)
    except LookupError as error:
        report.errors.append(Problem("--clinic", None, "", str(error)))
        return report
    run = _Run(report, by=by, clinic=chosen, date_format=date_format)
    report.rows = sum(len(table.rows) for table in tables)
    try:
        with actions.batch(progress=care_progress):
            done = 0
            for table in tables:
                run.table(table, progress=lambda n, base=done: progress(base + n, report.rows) if progress else None)
                done += len(table.rows)
            if not report.errors:
                run.finish()
            if report.errors or (report.warnings and not accept_warnings) or dry_run:
                raise _Rollback
    except _Rollback:
        return report
    except IntegrityError as error:  # checked in Python, refused by the database: a race, or a gap in the checks
        report.errors.append(Problem(run.filename, None, "", f"the database refused the rows: {error}"))
        return report
    report.saved = True
    return report


class _Run:
    def __init__(self, report: Report, *, by: AbstractBaseUser, clinic: Any, date_format: str | None) -> None:
        self.report = report
        self.by = by
        self.clinic = clinic
        self.date_format = date_format
        self.patients: dict[str, Patient] = {}  # mrn -> patient, read once
        self.failed: set[str] = set()  # mrns whose patients row was refused
        self.seen: dict[tuple[str, tuple[Any, ...]], int] = {}  # (file, key) -> row number
        self.profiles = {p.slug: p for p in ProtocolProfile.objects.all()}
        self.now = timezone.now()
        self.discharges: list[tuple[Patient, dict[str, Any]]] = []
        self.bulk = RecordBulk(by=by, now=self.now)
        self.created: set[str] = set()  # mrns of the patients this import creates
        self.filename = ""

    # The loop --------------------------------------------------------------------------------------

    def table(self, table: Table, *, progress: Callable[[int], None]) -> None:
        counts = self.report.counts.setdefault(table.name, Counts())
        handle = getattr(self, f"_{table.name}")
        self.filename = table.filename
        self._load_existing(table)
        for index, (number, cells) in enumerate(table.rows, start=1):
            try:
                outcome = self._row(handle, table, number, cells)
            except _RowRefused as refused:
                for column, reason in refused.problems:
                    self.report.errors.append(Problem(table.filename, number, column, reason))
            else:
                if outcome:
                    setattr(counts, outcome, getattr(counts, outcome) + 1)
            if index % 200 == 0:
                progress(index)
            if self.bulk.pending() >= WRITE_EVERY:
                self.write()
        self.write()
        progress(len(table.rows))

    def write(self) -> None:
        """The rows checked so far, through the application layer."""
        actions.record_bulk_write(bulk=self.bulk)

    def _row(self, handle: Callable[..., str | None], table: Table, number: int, cells: dict[str, Any]) -> str | None:
        spec = SPECS[table.name]
        confirmed: tuple[str, ...] = ()
        while True:
            row = _Cells(cells, spec, self.date_format)
            try:
                # A refused row leaves nothing behind: new entries are queued only once every check
                # passed, and each action of a changed entry is atomic.
                outcome = handle(row, number=number, table=table, confirmed=confirmed)
                if row.problems:
                    raise _RowRefused([])
                return outcome
            except NeedsConfirmation as asked:
                if confirmed:
                    raise _RowRefused(_problems(asked, spec)) from None
                for warning in asked.warnings:
                    column = spec.columns.get(warning.field, warning.field)
                    self.report.warnings.append(Problem(table.filename, number, column, warning.message, True))
                confirmed = CODES  # written as accepted, so the next rows are checked against it
            except ValidationError as error:
                raise _RowRefused(row.problems + _problems(error, spec)) from None
            except _RowRefused as refused:
                raise _RowRefused(row.problems + refused.problems) from None

    def _duplicate(self, table: Table, number: int, key: tuple[Any, ...], column: str) -> None:
        first = self.seen.setdefault((table.name, key), number)
        if first != number:
            _refuse(column, f"the same as row {first}: a row may appear only once.")

    def _patient(self, row: _Cells) -> Patient:
        mrn = row.text("mrn")
        if mrn in self.failed:
            raise _RowRefused([])  # its patients row is reported already
        patient = self.patients.get(mrn)
        if patient is None:
            _refuse("mrn", f"no patient {mrn!r} in the patients file or on record in {self.clinic}.")
        return patient

    def _load_existing(self, table: Table) -> None:
        """The patients the rows name, with their entries, read at once (not one query a row)."""
        missing = {values.text(cells.get("mrn")) for _, cells in table.rows} - set(self.patients) - {""}
        self.patients.update(self.bulk.patients_by_mrn(missing, clinic=self.clinic))

    def finish(self) -> None:
        """Discharges last: the discharged patients' history rows were checked while they were in care.
        A patient this import created is discharged in bulk (it has no reminders to cancel yet)."""
        for patient, discharge in self.discharges:
            if patient.mrn in self.created:
                self.bulk.patient_discharge(patient=patient, **discharge)
            else:
                actions.patient_discharge(patient=patient, by=self.by, **discharge)
        self.write()

    # Files -----------------------------------------------------------------------------------------

    def _patients(self, row: _Cells, *, number: int, table: Table, confirmed: tuple[str, ...]) -> str | None:
        mrn = row.text("mrn")
        if not mrn:
            self.failed.add(mrn)
            _refuse("mrn", "give the patient's medical record number.")
        self._duplicate(table, number, (mrn,), "mrn")
        self.failed.add(mrn)  # until the row is saved
        data = {
            "given_name": row.text("first_name"),
            "family_name": row.text("last_name"),
            "birth_date": row.date("birth_date"),
        }
        for column in ("first_name", "last_name", "birth_date"):
            if row.blank(column):
                row.problem(column, "this required cell is empty.")
        if row.has("sex"):
            data["sex"] = row.parse("sex", values.sex)
        for column in ("email", "phone"):
            if row.has(column) and not row.blank(column):
                data[column] = row.text(column)
        for column in ("neurological_involvement",):
            if row.has(column) and not row.blank(column):
                data[column] = row.parse(column, values.yes_no)
        if row.has("pregnancy") and not row.blank("pregnancy"):
            data["pregnancy"] = row.parse("pregnancy", lambda v: values.choice(v, _PREGNANCIES, "pregnancy"))
        if row.has("dietary_intake_adequate"):
            intake = row.parse("dietary_intake_adequate", values.yes_no)
            data["dietary_intake_adequate"] = {True: "yes", False: "no", None: "unknown"}[intake]
        consent = row.parse("email_consent", values.yes_no) if row.has("email_consent") else None
        profile = None
        if row.has("profile") and not row.blank("profile"):
            profile = self.profiles.get(row.text("profile"))
            if profile is None:
                row.problem("profile", f"no profile {row.text('profile')!r}: one of {', '.join(self.profiles)}.")
        regimen = self._regimen_columns(row)
        discharge = self._discharge_columns(row)
        if row.problems:
            return None
        patient = self.patients.get(mrn)
        if patient is None:
            patient = self.bulk.patient_create(
                mrn=mrn,
                sex=data.pop("sex", "unknown"),
                email_reminders_consent=bool(consent),
                profile=profile,
                clinic=self.clinic,
                reason=IMPORT_REASON,
                **self._regimen_in_bulk(regimen),
                **data,
            )
            self._apply_discharge(patient, discharge)
            self.created.add(mrn)
            outcome = "created"
        else:
            outcome = "unchanged"
            with transaction.atomic():
                changed = {name: value for name, value in data.items() if getattr(patient, name) != value}
                if changed:
                    actions.patient_update(patient=patient, data=changed, by=self.by)
                    outcome = "updated"
                if consent is not None and consent != patient.email_reminders_consent:
                    actions.patient_set_email_consent(
                        patient=patient, consent=consent, by=self.by, reason=IMPORT_REASON
                    )
                    outcome = "updated"
                if profile is not None and patient.regimen.profile_id != profile.pk:
                    actions.regimen_set_profile(
                        regimen=patient.regimen, profile=profile, by=self.by, reason=IMPORT_REASON
                    )
                    outcome = "updated"
                if self._apply_regimen(patient, regimen) or self._apply_discharge(patient, discharge):
                    outcome = "updated" if outcome == "unchanged" else outcome
        self.failed.discard(mrn)
        self.patients[mrn] = patient
        return outcome

    def _regimen_columns(self, row: _Cells) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for column in ("maintenance_interval_months", "maintenance_interval_days", "oral_dose_mcg"):
            if row.has(column):
                found[column] = row.parse(column, values.whole)
        for column in ("recheck_on", "oral_since"):
            if row.has(column):
                found[column] = row.date(column)
        for column in ("interval_reason", "recheck_reason"):
            found[column] = row.text(column)
        return found

    @staticmethod
    def _regimen_in_bulk(regimen: dict[str, Any]) -> dict[str, Any]:
        """A new patient's regimen columns, as RecordBulk.patient_create takes them (see _apply_regimen)."""
        found: dict[str, Any] = {}
        months, days = regimen.get("maintenance_interval_months"), regimen.get("maintenance_interval_days")
        if months is not None or days is not None:
            found["interval"] = (months, days, regimen["interval_reason"] or IMPORT_REASON)
        if regimen.get("recheck_on") is not None:
            found["recheck"] = (regimen["recheck_on"], regimen["recheck_reason"] or IMPORT_REASON)
        if regimen.get("oral_since") is not None:
            found["oral"] = (regimen["oral_since"], regimen.get("oral_dose_mcg"))
        return found

    def _apply_regimen(self, patient: Patient, regimen: dict[str, Any]) -> bool:
        current = patient.regimen
        changed = False
        months, days = regimen.get("maintenance_interval_months"), regimen.get("maintenance_interval_days")
        if (months is not None or days is not None) and (
            months != current.maintenance_interval_months or days != current.maintenance_interval_days
        ):
            actions.regimen_import_interval(
                regimen=current,
                months=months,
                days=days,
                reason=regimen["interval_reason"] or IMPORT_REASON,
                by=self.by,
            )
            changed = True
        on = regimen.get("recheck_on")
        if on is not None and on != current.recheck_on:
            actions.regimen_import_recheck_date(
                regimen=current, on=on, reason=regimen["recheck_reason"] or IMPORT_REASON, by=self.by
            )
            changed = True
        since = regimen.get("oral_since")
        if since is not None and since != current.oral_since:
            actions.regimen_import_oral(regimen=current, since=since, dose_mcg=regimen.get("oral_dose_mcg"), by=self.by)
            changed = True
        return changed

    def _discharge_columns(self, row: _Cells) -> dict[str, Any]:
        if not row.has("discharge_reason") or row.blank("discharge_reason"):
            return {}
        reason = row.parse("discharge_reason", lambda v: values.choice(v, _DISCHARGE_REASONS, "discharge reason"))
        return {"reason": reason, "note": row.text("discharge_note")}

    def _apply_discharge(self, patient: Patient, discharge: dict[str, Any]) -> bool:
        if not discharge or not patient.is_active:
            return False
        self.discharges.append((patient, discharge))
        return True

    def _causes(self, row: _Cells, *, number: int, table: Table, confirmed: tuple[str, ...]) -> str | None:
        patient = self._patient(row)
        kind = row.parse("code", lambda v: values.choice(v, _CAUSE_KINDS, "cause code"))
        if kind is None:
            row.problem("code", "this required cell is empty.")
        fields = {
            "length_cm": row.parse("length_cm", values.whole),
            "procedure": row.parse("procedure", lambda v: values.choice(v, _PROCEDURES, "procedure")) or "",
            "start": row.date("start"),
            "stop": row.date("stop"),
            "note": row.text("note"),
        }
        if row.problems:
            return None
        self._duplicate(table, number, (patient.mrn, kind), "code")
        existing = self.bulk.cause_of(patient, kind)
        if existing is None:
            self.bulk.cause_add(patient=patient, kind=kind, reason=IMPORT_REASON, **fields)
            return "created"
        changed = {name: value for name, value in fields.items() if getattr(existing, name) != value}
        if not changed:
            return "unchanged"
        actions.cause_update(cause=existing, data=changed, by=self.by, reason=IMPORT_REASON)
        return "updated"

    def _injections(self, row: _Cells, *, number: int, table: Table, confirmed: tuple[str, ...]) -> str | None:
        patient = self._patient(row)
        when = row.parse("given_at", lambda v: values.moment(v, self.date_format))
        if when is None and not row.problems:
            row.problem("given_at", "this required cell is empty.")
        profile = patient.regimen.profile
        drug = row.parse("drug", lambda v: values.choice(v, _DRUGS, "drug")) or profile.drug
        dose = row.parse("dose_mcg", values.whole)
        dose = profile.dose_mcg if dose is None else dose
        route = row.parse("route", lambda v: values.choice(v, _ROUTES, "route")) or Route.IM
        site = row.parse("site", lambda v: values.choice(v, _SITES, "site")) or ""
        expiry = row.date("lot_expiry")
        if row.problems:
            return None
        day, given_at = when  # type: ignore[misc]
        key = (patient.mrn, given_at or day, drug, dose)
        self._duplicate(table, number, key, "given_at")
        if given_at is not None:
            start, end = given_at, given_at + datetime.timedelta(microseconds=1)
        else:
            start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(0)))
            end = start + datetime.timedelta(days=1)
        if isinstance(dose, int) and self.bulk.injection_on_record(
            patient, drug=drug, dose_mcg=dose, start=start, end=end
        ):
            return "unchanged"
        if given_at is None:  # a day only: noon, clear of the day's edges in every zone change
            given_at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))
        self.bulk.injection_record(
            patient=patient,
            given_at=given_at,
            drug=drug,
            dose_mcg=dose,
            route=route,
            site=site,
            lot_number=row.text("lot_number"),
            lot_expiry=expiry,
            given_by_name=row.text("given_by"),
            notes=row.text("note"),
            history=True,
            confirmed=confirmed,
        )
        return "created"

    def _labs(self, row: _Cells, *, number: int, table: Table, confirmed: tuple[str, ...]) -> str | None:
        patient = self._patient(row)
        collected_on = row.date("collected_on")
        analyte = row.parse("analyte", lambda v: values.choice(v, units.ANALYTE_CHOICES, "lab"))
        value = row.parse("value", values.number)
        unit = row.text("unit")
        for column, given in (("collected_on", collected_on), ("analyte", analyte), ("value", value), ("unit", unit)):
            if given in (None, "") and not any(c == column for c, _ in row.problems):
                row.problem(column, "this required cell is empty.")
        if row.problems:
            return None
        try:
            symbol = units.unit_for(analyte, unit).symbol
            entered = Decimal(value).normalize()
        except (units.UnitError, InvalidOperation):
            symbol, entered = unit, None  # the service names the problem
        key = (patient.mrn, collected_on, analyte, entered, symbol)
        self._duplicate(table, number, key, "value")
        if entered is not None:
            same = self.bulk.lab_values(patient, analyte=analyte, collected_on=collected_on, unit=symbol)
            if any(v.normalize() == entered for v in same):
                return "unchanged"
        self.bulk.lab_result_record(
            patient=patient,
            analyte=analyte,
            value=value,
            unit=unit,
            collected_on=collected_on,
            notes=row.text("note"),
            confirmed=confirmed,
        )
        return "created"

    def _symptoms(self, row: _Cells, *, number: int, table: Table, confirmed: tuple[str, ...]) -> str | None:
        patient = self._patient(row)
        checked_on = row.date("checked_on")
        neurological = row.parse("neurological", values.yes_no)
        depression = row.parse("depression", values.yes_no)
        for column, given in (("checked_on", checked_on), ("neurological", neurological), ("depression", depression)):
            if given is None and not any(c == column for c, _ in row.problems):
                row.problem(column, "this required cell is empty.")
        if row.problems:
            return None
        self._duplicate(table, number, (patient.mrn, checked_on, neurological, depression), "checked_on")
        if self.bulk.symptom_check_on_record(
            patient, checked_on=checked_on, neurological=neurological, depression=depression
        ):
            return "unchanged"
        self.bulk.symptom_check_record(
            patient=patient,
            checked_on=checked_on,
            neurological=neurological,
            depression=depression,
            notes=row.text("note"),
        )
        return "created"

    def _medications(self, row: _Cells, *, number: int, table: Table, confirmed: tuple[str, ...]) -> str | None:
        patient = self._patient(row)
        name = row.parse("name", lambda v: values.choice(v, _MEDICATIONS, "medication"))
        start, stop = row.date("start"), row.date("stop")
        if row.problems:
            return None
        self._duplicate(table, number, (patient.mrn, name, start), "start")
        existing = self.bulk.medication_of(patient, name=name, start=start)
        if existing is not None:
            if stop is None or existing.stop == stop:
                return "unchanged"
            actions.medication_stop(medication=existing, stop=stop, by=self.by)
            return "updated"
        self.bulk.medication_start(patient=patient, name=name, start=start, detail=row.text("detail"), stop=stop)
        return "created"


_normal = functools.lru_cache(maxsize=256)(normal)  # the spec's column names, over and over


class _Cells:
    """One row's cells, parsed on demand; a cell's problem is collected, not raised, so that a row
    reports every bad cell at once."""

    def __init__(self, cells: dict[str, Any], spec: FileSpec, date_format: str | None) -> None:
        self.cells = cells
        self.spec = spec
        self.date_format = date_format
        self.problems: list[tuple[str, str]] = []

    def has(self, column: str) -> bool:
        return _normal(column) in self.cells

    def raw(self, column: str) -> object:
        return self.cells.get(_normal(column))

    def blank(self, column: str) -> bool:
        return values.blank(self.raw(column))

    def text(self, column: str) -> str:
        return values.text(self.raw(column))

    def problem(self, column: str, reason: str) -> None:
        self.problems.append((column, reason))

    def parse(self, column: str, parser: Callable[[object], Any]) -> Any:
        try:
            return parser(self.raw(column))
        except values.Refused as refused:
            self.problem(column, str(refused))
            return None

    def date(self, column: str) -> datetime.date | None:
        return self.parse(column, lambda v: values.date(v, self.date_format))


def _problems(error: ValidationError, spec: FileSpec) -> list[tuple[str, str]]:
    found = []
    for argument, messages in error.message_dict.items():
        if argument in (NON_FIELD_ERRORS, "patient"):
            column = "mrn"
        else:
            column = spec.columns.get(argument, argument)
        found += [(column, message) for message in messages]
    return found
