"""New entries of the clinical record by the thousand (the register import), checked as the services
check one and then written together, each with its history row.

`RecordBulk` has a method for each service the import uses (patient_create, cause_add,
injection_record, lab_result_record, symptom_check_record, medication_start), with the same
arguments, the same refusals (ValidationError naming the argument, the same messages) and the same
soft warnings (NeedsConfirmation unless confirmed, the confirmations kept with the entry). What
differs is where the checks look, not what they check:

- `full_clean()` runs without its queries: the CheckConstraints are evaluated in Python
  (patients.constraints), the record number's uniqueness against the numbers read once and those of
  this bulk, and the foreign keys are the objects in hand (the importing user, the patient).
- The plausibility checks (a twin injection or lab, the latest injection, the clinic's usual
  ranges) look at the patient's entries read once (`load`, one query a table for many patients) and
  at the entries this bulk has accepted before, so each row is checked against the rows above it
  exactly as when they were saved one by one.

Nothing is written until `write()`, which clinic.actions.record_bulk_write calls (the application
layer's one action for it): every queued row with bulk_create_with_history, parents first. The
database still enforces every constraint then. The caller locks the patients it loads (`load`
takes `select_for_update`), as each service locks its patient.
"""

from __future__ import annotations

import bisect
import datetime
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils import timezone

from accounts import roles
from accounts.clinics import clinics_of
from accounts.models import Clinic
from patients import constraints, plausibility
from patients import services as record
from patients.models import (
    Cause,
    DischargeReason,
    Injection,
    LabResult,
    Medication,
    Patient,
    PlausibilityRange,
    Regimen,
    SymptomCheck,
)
from patients.querysets import bulk_update_with_history, create_with_history
from protocols.engine import units
from protocols.engine.profiles import DEFAULT_PROFILE_SLUG
from protocols.models import ProtocolProfile

# Parents before children: the order of write().
MODELS: tuple[type[models.Model], ...] = (Patient, Regimen, Cause, Injection, LabResult, SymptomCheck, Medication)
# Left out of full_clean(): the foreign keys, which it would look up one query each (here they are
# objects in hand), and the fields no caller gives, which the model sets itself (the id, the
# timestamps, the void, the form's key, the confirmations _confirm() adds after the checks).
_SET_HERE = {
    "id",
    "created_at",
    "updated_at",
    "recorded_at",
    "entered_at",
    "voided_at",
    "void_reason",
    "submission_key",
}
_SET_HERE |= {"confirmed_warnings", "reminder_key", "email_opt_out_at", "discharged_at"}
_NOT_CLEANED = {
    model: [f.name for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey) or f.name in _SET_HERE]
    for model in MODELS
}


def _validate(
    instance: models.Model,
    *,
    extra: Mapping[str, str | None] | None = None,
    rename: Mapping[str, str] | None = None,
    force: Collection[str] = (),
    unique: Mapping[str, bool] | None = None,
) -> None:
    """services._validate without a query: full_clean() without its foreign-key, uniqueness and
    constraint look-ups, the constraints then evaluated in Python on the fields without an error,
    and `unique` ({field: already taken}) in place of the uniqueness query."""
    errors: dict[str, list[str]] = {}
    try:
        instance.full_clean(exclude=_NOT_CLEANED[type(instance)], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors.update(error.message_dict)
    for field, taken in (unique or {}).items():
        if taken and field not in errors:
            errors[field] = instance.unique_error_message(type(instance), (field,)).messages
    violated = constraints.violations(instance, exclude=errors)
    if violated:
        errors.setdefault(NON_FIELD_ERRORS, []).extend(violated)
    for field, message in (extra or {}).items():
        if message and (field not in errors or field in force):
            errors[field] = [message]
    if errors:
        rename = rename or {}
        raise ValidationError({rename.get(field, field): messages for field, messages in errors.items()})


class _Entries:
    """One patient's entries as the checks need them: what is on record and what this bulk accepted."""

    __slots__ = ("given", "injections", "labs", "symptoms", "causes", "medications")

    def __init__(self) -> None:
        self.given: list[datetime.datetime] = []  # given_at of every non-voided injection, sorted
        self.injections: list[tuple[datetime.datetime, str, int, str]] = []  # sorted (given_at, drug, dose, by)
        self.labs: dict[tuple[str, datetime.date], list[tuple[LabResult, str]]] = defaultdict(list)
        self.symptoms: set[tuple[datetime.date, bool, bool]] = set()
        self.causes: dict[str, Cause] = {}
        self.medications: dict[tuple[str, datetime.date], Medication] = {}


class RecordBulk:
    def __init__(self, *, by: AbstractBaseUser, now: datetime.datetime | None = None) -> None:
        self.by = by
        self.by_label = record.user_label(by)
        self.now = now or timezone.now()
        self.today = timezone.localdate(self.now)
        self.queued: dict[tuple[type[models.Model], str], list[models.Model]] = defaultdict(list)
        self.updated: dict[str, list[Patient]] = defaultdict(list)  # discharges, by history reason
        self.touched: list[Patient] = []  # patients with a queued row, once each (by identity)
        self._touched_ids: set[int] = set()
        self._entries: dict[int, _Entries] = {}  # id(patient) -> entries
        self._keep: list[Patient] = []  # the patients of _entries, so their ids stay theirs
        self._labels: dict[int, str] = {by.pk: self.by_label}
        self._usual = {row.analyte: row.range for row in PlausibilityRange.objects.all()}
        self._profiles: dict[str, ProtocolProfile] = {}
        self._mrns_taken: set[str] = set()
        self._mrns_on_record: set[str] = set()
        self._mrns_checked: set[str] = set()
        self._clinics_allowed: dict[int, bool] = {}
        self._may: dict[str, bool] = {}

    # Reading once ----------------------------------------------------------------------------------

    def patients_by_mrn(self, mrns: Iterable[str], *, clinic: Clinic) -> dict[str, Patient]:
        """The patients of `clinic` with these record numbers (with regimen and profile), locked and
        with their entries read; the numbers taken in any clinic are remembered for patient_create."""
        wanted = set(mrns) - self._mrns_checked
        found: dict[str, Patient] = {}
        for chunk in _chunks(sorted(wanted), 5000):
            taken = Patient.objects.filter(mrn__in=chunk).values_list("mrn", "clinic_id")
            self._mrns_taken.update(mrn for mrn, _ in taken)
            self._mrns_on_record.update(mrn for mrn, _ in taken)
            mine = [mrn for mrn, clinic_id in taken if clinic_id == clinic.pk]
            if mine:
                patients = list(
                    Patient.objects.select_for_update(of=("self",))
                    .select_related("regimen__profile")
                    .filter(mrn__in=mine, clinic=clinic)
                )
                self.load(patients)
                found.update((p.mrn, p) for p in patients)
        self._mrns_checked |= wanted
        return found

    def load(self, patients: Iterable[Patient]) -> None:
        """Read the entries of these (saved) patients: one query a table."""
        fresh = [p for p in patients if id(p) not in self._entries]
        for chunk in _chunks(fresh, 2000):
            by_pk = {p.pk: p for p in chunk}
            entries = {pk: self._entries_of(p, new=True) for pk, p in by_pk.items()}
            rows = (
                Injection.objects.filter(patient_id__in=by_pk, voided_at__isnull=True)
                .order_by("given_at")
                .values_list("patient_id", "given_at", "drug", "dose_mcg", "given_by_id")
            )
            for pk, given_at, drug, dose, by_id in rows:
                self._add_injection(entries[pk], given_at, drug, dose, self._label(by_id))
            for lab in LabResult.objects.filter(patient_id__in=by_pk, voided_at__isnull=True).order_by("entered_at"):
                entries[lab.patient_id].labs[(lab.analyte, lab.collected_on)].append(
                    (lab, self._label(lab.entered_by_id))
                )
            checks = SymptomCheck.objects.filter(patient_id__in=by_pk).values_list(
                "patient_id", "checked_on", "neurological", "depression"
            )
            for pk, *check in checks:
                entries[pk].symptoms.add(tuple(check))  # type: ignore[arg-type]
            for cause in Cause.objects.filter(patient_id__in=by_pk).order_by("recorded_at", "pk"):
                cause.patient = by_pk[cause.patient_id]
                entries[cause.patient_id].causes.setdefault(cause.kind, cause)
            for medication in Medication.objects.filter(patient_id__in=by_pk).order_by("pk"):
                medication.patient = by_pk[medication.patient_id]
                entries[medication.patient_id].medications.setdefault((medication.name, medication.start), medication)

    def _entries_of(self, patient: Patient, *, new: bool = False) -> _Entries:
        """The entries of a patient load()ed or created here (`new`: start them)."""
        entries = self._entries.get(id(patient))
        if entries is None:
            if not new:
                raise LookupError(f"the entries of {patient} were not read: load() them first")
            entries = self._entries[id(patient)] = _Entries()
            self._keep.append(patient)
        return entries

    def _label(self, user_id: int | None) -> str:
        if user_id not in self._labels:
            from django.contrib.auth import get_user_model  # noqa: PLC0415

            users = get_user_model().objects.filter(pk=user_id)
            self._labels[user_id] = record.user_label(users.first())  # type: ignore[index]
        return self._labels[user_id]  # type: ignore[index]

    # What is on record (for the caller's "unchanged") -----------------------------------------------

    def injection_on_record(
        self, patient: Patient, *, drug: str, dose_mcg: int, start: datetime.datetime, end: datetime.datetime
    ) -> bool:
        """A non-voided injection of this drug and dose given at `start` (`end` None) or in [start, end)."""
        entries = self._entries_of(patient)
        low = bisect.bisect_left(entries.injections, (start,))
        for given_at, drug_given, dose, _ in entries.injections[low:]:
            if given_at >= end:
                break
            if drug_given == drug and dose == dose_mcg:
                return True
        return False

    def lab_values(self, patient: Patient, *, analyte: str, collected_on: datetime.date, unit: str) -> list[Decimal]:
        """The values entered (in `unit`) of the non-voided results of this analyte and day."""
        found = self._entries_of(patient).labs.get((analyte, collected_on), [])
        return [lab.value_entered for lab, _ in found if lab.unit_entered == unit]

    def symptom_check_on_record(
        self, patient: Patient, *, checked_on: datetime.date, neurological: bool, depression: bool
    ) -> bool:
        return (checked_on, neurological, depression) in self._entries_of(patient).symptoms

    def cause_of(self, patient: Patient, kind: str) -> Cause | None:
        return self._entries_of(patient).causes.get(kind)

    def medication_of(self, patient: Patient, *, name: str, start: datetime.date) -> Medication | None:
        return self._entries_of(patient).medications.get((name, start))

    # The checks (the services' own, without queries) -----------------------------------------------

    def _require(self, permission: str, action: str) -> None:
        if permission not in self._may:
            self._may[permission] = self.by.has_perm(permission)
        if not self._may[permission]:
            record._require(self.by, permission, action)

    def _queue(self, instance: models.Model, patient: Patient, *, reason: str = "") -> None:
        self.queued[(type(instance), reason)].append(instance)
        self._queue_touched(patient)

    def _queue_touched(self, patient: Patient) -> None:
        if id(patient) not in self._touched_ids:
            self._touched_ids.add(id(patient))
            self.touched.append(patient)

    def patient_create(
        self,
        *,
        mrn: str,
        given_name: str,
        family_name: str,
        birth_date: datetime.date,
        sex: str,
        clinic: Clinic,
        email: str = "",
        phone: str = "",
        email_reminders_consent: bool = False,
        neurological_involvement: bool = False,
        pregnancy: str = Patient.Pregnancy.NONE,
        dietary_intake_adequate: str = Patient.DietaryIntake.UNKNOWN,
        profile: ProtocolProfile | None = None,
        reason: str = "",
        interval: tuple[int | None, int | None, str] | None = None,
        recheck: tuple[datetime.date, str] | None = None,
        oral: tuple[datetime.date, int | None] | None = None,
    ) -> Patient:
        """services.patient_create: a new patient of `clinic` with a regimen on `profile`. Give the
        record number to patients_by_mrn() first (its uniqueness is checked against what it read).

        A regimen as another system left it is carried over with it: `interval` (months, days,
        reason), `recheck` (on, reason) and `oral` (since, dose_mcg), checked as
        services.regimen_set_interval_override, regimen_set_recheck_date and regimen_switch_to_oral
        check them, so the regimen's one "+" history row carries those decisions."""
        if clinic.pk not in self._clinics_allowed:
            self._clinics_allowed[clinic.pk] = clinics_of(self.by).filter(pk=clinic.pk).exists()
        if not self._clinics_allowed[clinic.pk]:
            raise ValidationError({"clinic": f"You are not on the staff of {clinic.name}."})
        patient = record.new_patient(
            clinic=clinic,
            mrn=mrn,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            sex=sex,
            email=email,
            phone=phone,
            email_reminders_consent=email_reminders_consent,
            neurological_involvement=neurological_involvement,
            pregnancy=pregnancy,
            dietary_intake_adequate=dietary_intake_adequate,
        )
        if patient.mrn not in self._mrns_checked:
            raise LookupError(f"record number {patient.mrn!r} not read: give it to patients_by_mrn() first")
        _validate(
            patient,
            extra={
                "birth_date": record._birth_date_problem(birth_date, self.today),
                "email": record._email_problem(patient),
            },
            unique={"mrn": patient.mrn in self._mrns_taken},
        )
        if profile is None:
            profile = self._default_profile()
        elif not profile.is_active:
            raise ValidationError({"profile": f"The profile {profile.name} is not in use any more."})
        regimen = Regimen(patient=patient, profile=profile)  # also patient.regimen
        if interval is not None:
            self._regimen_set_interval_override(regimen, *interval)
        if recheck is not None:
            self._regimen_set_recheck_date(regimen, *recheck)
        if oral is not None:
            self._regimen_switch_to_oral(regimen, *oral)
        self._mrns_taken.add(patient.mrn)
        self._queue(patient, patient, reason=reason)
        self._queue(regimen, patient)
        self._entries_of(patient, new=True)
        return patient

    # A new patient's regimen as another system left it (see patient_create).

    def _regimen_set_interval_override(
        self, regimen: Regimen, months: int | None, days: int | None, reason: str
    ) -> None:
        self._require(roles.MAKE_DECISION, "set a maintenance interval")
        if (months is None) == (days is None):
            field = "days" if days is not None else "months"
            raise ValidationError({field: "Give the interval in months (1 to 12) or in days (3 to 90), not both."})
        regimen.maintenance_interval_months, regimen.maintenance_interval_days = months, days
        regimen.interval_reason = reason.strip()
        regimen.interval_set_by, regimen.interval_set_at = self.by, self.now
        _validate(
            regimen,
            rename={"maintenance_interval_months": "months", "maintenance_interval_days": "days"}
            | {"interval_reason": "reason"},
        )

    def _regimen_set_recheck_date(self, regimen: Regimen, on: datetime.date, reason: str) -> None:
        self._require(roles.MAKE_DECISION, "set a recheck date")
        regimen.recheck_on, regimen.recheck_reason = on, reason.strip()
        regimen.recheck_set_by, regimen.recheck_set_at = self.by, self.now
        problem = None
        if isinstance(on, datetime.date) and on < self.today:
            problem = record.RECHECK_IN_THE_PAST
        elif isinstance(on, datetime.date) and on > self.today + datetime.timedelta(days=731):
            problem = record.RECHECK_TOO_FAR
        _validate(regimen, extra={"recheck_on": problem}, rename={"recheck_on": "on", "recheck_reason": "reason"})

    def _regimen_switch_to_oral(self, regimen: Regimen, since: datetime.date, dose_mcg: int | None) -> None:
        self._require(roles.MAKE_DECISION, "switch a patient to oral therapy")
        if regimen.oral_since is not None:
            raise ValidationError(
                {"since": f"Already on oral therapy since {regimen.oral_since.day} {regimen.oral_since:%b %Y}."}
            )
        regimen.oral_since, regimen.oral_dose_mcg = since, dose_mcg
        _validate(
            regimen,
            extra={"oral_since": record.FUTURE_DATE if record._is_future_date(since, self.today) else None},
            rename={"oral_since": "since", "oral_dose_mcg": "dose_mcg"},
        )

    def patient_discharge(self, *, patient: Patient, reason: str, note: str = "") -> Patient:
        """services.patient_discharge of a patient this bulk created and has written (the history rows
        were checked while the patient was in care): written by the next write() as an update with
        its "~" history row. A patient of longer standing is discharged by its action (its reminders)."""
        if id(patient) not in self._entries or patient.pk is None or patient.mrn in self._mrns_on_record:
            raise ValueError("only a patient created by this bulk and written is discharged here")
        if not patient.is_active:
            raise ValidationError({"patient": f"{patient.full_name} was already discharged."})
        if reason not in DischargeReason.values:
            choices = ", ".join(str(label) for label in DischargeReason.labels)
            raise ValidationError({"reason": f"Choose why the patient is discharged: {choices}."})
        patient.is_active = False
        patient.discharged_at = self.now
        patient.discharge_reason = reason
        patient.discharge_note = (note or "").strip()
        _validate(patient, rename={"discharge_reason": "reason", "discharge_note": "note"})
        why = f"Discharged: {patient.get_discharge_reason_display()}"
        self.updated[why].append(patient)
        self._queue_touched(patient)
        return patient

    def _default_profile(self) -> ProtocolProfile:
        if DEFAULT_PROFILE_SLUG not in self._profiles:
            self._profiles[DEFAULT_PROFILE_SLUG] = ProtocolProfile.objects.get(slug=DEFAULT_PROFILE_SLUG)
        return self._profiles[DEFAULT_PROFILE_SLUG]

    def cause_add(
        self,
        *,
        patient: Patient,
        kind: str,
        length_cm: int | None = None,
        procedure: str = "",
        start: datetime.date | None = None,
        stop: datetime.date | None = None,
        note: str = "",
        reason: str = "",
    ) -> Cause:
        """services.cause_add."""
        self._require(roles.ADD_CAUSE, "record a cause of deficiency")
        cause = Cause(
            patient=patient,
            kind=kind,
            length_cm=length_cm,
            procedure=procedure,
            start=start,
            stop=stop,
            note=note.strip(),
        )
        _validate(cause, extra={"start": record._cause_date_problem(cause, self.today)})
        self._queue(cause, patient, reason=(reason or "").strip())
        self._entries_of(patient).causes.setdefault(kind, cause)
        return cause

    def injection_record(
        self,
        *,
        patient: Patient,
        given_at: datetime.datetime,
        drug: str,
        dose_mcg: int | str,
        route: str,
        site: str,
        lot_number: str,
        lot_expiry: datetime.date | None,
        notes: str = "",
        confirmed: Collection[str] = (),
        history: bool = False,
        given_by_name: str = "",
    ) -> Injection:
        """services.injection_record (given by the importing user; no submission key)."""
        dose, dose_problem = record._whole_number(dose_mcg)
        injection = Injection(
            patient=patient,
            given_at=given_at,
            drug=drug,
            dose_mcg=1 if dose_problem else dose,
            route=route,
            site=site,
            lot_number=lot_number.strip(),
            lot_expiry=lot_expiry,
            given_by=self.by,
            notes=notes.strip(),
            imported=history,
            given_by_name=given_by_name.strip(),
        )
        problems = record._injection_problems(injection, self.now)
        _validate(injection, extra={**problems, "dose_mcg": dose_problem}, force=("dose_mcg",) if dose_problem else ())
        entries = self._entries_of(patient)
        window = datetime.timedelta(hours=plausibility.DUPLICATE_HOURS)
        low = bisect.bisect_right(entries.given, given_at - window)
        high = bisect.bisect_left(entries.given, given_at + window)
        twin = None
        if high > low:  # the latest in the window, as order_by("-given_at").first()
            twin_at, _, _, twin_by = entries.injections[high - 1]
            twin = (twin_at, twin_by)
        warnings = record.injection_soft_warnings(
            injection, entered_at=self.now, changed=None, twin=twin, latest=entries.given[-1] if entries.given else None
        )
        record._confirm(injection, warnings, confirmed, by=self.by, now=self.now)
        self._queue(injection, patient)
        self._add_injection(entries, given_at, drug, injection.dose_mcg, self.by_label)
        return injection

    @staticmethod
    def _add_injection(entries: _Entries, given_at: datetime.datetime, drug: str, dose: int, by: str) -> None:
        index = bisect.bisect_right(entries.given, given_at)
        entries.given.insert(index, given_at)
        entries.injections.insert(index, (given_at, drug, dose, by))

    def lab_result_record(
        self,
        *,
        patient: Patient,
        analyte: str,
        value: Decimal | int | float | str,
        unit: str,
        collected_on: datetime.date,
        notes: str = "",
        confirmed: Collection[str] = (),
    ) -> LabResult:
        """services.lab_result_record (entered by the importing user)."""
        lab = LabResult(patient=patient, analyte=analyte, collected_on=collected_on, entered_by=self.by, notes=notes)
        problems = record._set_lab_value(lab, value=value, unit=unit)
        if problems:
            raise ValidationError(problems)
        future = record.FUTURE_DATE if record._is_future_date(lab.collected_on, self.today) else None
        _validate(lab, extra={"collected_on": future}, rename=record._LAB_RENAME)
        canonical = units.to_canonical_exact(lab.analyte, lab.value_entered, lab.unit_entered)
        stored = units.round_for_storage(canonical)
        same_day = self._entries_of(patient).labs[(analyte, collected_on)]
        twins = [(other, by) for other, by in same_day if other.value_canonical == stored]
        warnings = record.lab_soft_warnings(
            lab,
            canonical=canonical,
            usual=self._usual.get(analyte) or plausibility.USUAL_RANGES[analyte],
            twin=twins[-1] if twins else None,
        )
        record._confirm(lab, warnings, confirmed, by=self.by, now=self.now)
        lab.entered_at = self.now  # as the checks of later rows see it; the database sets its own
        self._queue(lab, patient)
        same_day.append((lab, self.by_label))
        return lab

    def symptom_check_record(
        self, *, patient: Patient, checked_on: datetime.date, neurological: bool, depression: bool, notes: str = ""
    ) -> SymptomCheck:
        """services.symptom_check_record (recorded by the importing user)."""
        check = SymptomCheck(
            patient=patient,
            checked_on=checked_on,
            neurological=neurological,
            depression=depression,
            notes=notes.strip(),
            recorded_by=self.by,
        )
        future = record.FUTURE_DATE if record._is_future_date(checked_on, self.today) else None
        _validate(check, extra={"checked_on": future})
        self._queue(check, patient)
        self._entries_of(patient).symptoms.add((checked_on, neurological, depression))
        return check

    def medication_start(
        self,
        *,
        patient: Patient,
        name: str,
        start: datetime.date,
        detail: str = "",
        stop: datetime.date | None = None,
    ) -> Medication:
        """services.medication_start, then services.medication_stop when `stop` is given."""
        medication = Medication(patient=patient, name=name, detail=detail.strip(), start=start, recorded_by=self.by)
        future = record.FUTURE_DATE if record._is_future_date(start, self.today) else None
        _validate(medication, extra={"start": future})
        if stop is not None:
            medication.stop = stop
            _validate(medication)
        self._queue(medication, patient)
        self._entries_of(patient).medications.setdefault((name, start), medication)
        return medication

    # Writing ---------------------------------------------------------------------------------------

    def pending(self) -> int:
        return sum(len(rows) for rows in self.queued.values()) + sum(len(p) for p in self.updated.values())

    def write(self) -> list[Patient]:
        """Write every queued row with its history row (patients.querysets.create_with_history: COPY
        on PostgreSQL), parents first; returns the patients touched. Call it through
        clinic.actions.record_bulk_write."""
        for model in MODELS:
            for (queued_model, reason), rows in list(self.queued.items()):
                if queued_model is not model or not rows:
                    continue
                create_with_history(rows, model, user=self.by, reason=reason or None, date=self.now)
        for why, patients in self.updated.items():
            fields = ["is_active", "discharged_at", "discharge_reason", "discharge_note", "updated_at"]
            for patient in patients:
                patient.updated_at = timezone.now()
            bulk_update_with_history(
                patients, Patient, fields, default_user=self.by, default_change_reason=why, default_date=self.now
            )
        self.updated.clear()
        touched = self.touched
        self.queued.clear()
        self.touched, self._touched_ids = [], set()
        return touched


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
