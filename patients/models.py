"""The clinical record: patients, their deficiency causes, regimen, injections, labs, symptom checks,
medications and the physicians' signed decisions.

Rules that the database can hold are CheckConstraints (they also stop admin, shell and bugs); each
model's clean() gives the same rules as field-named messages for forms and services. Writes go
through patients.services; every model keeps its history (django-simple-history), and the
AuditedManager refuses bulk writes that would skip it.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from patients import plausibility
from patients.querysets import AuditedManager
from protocols.engine import profiles as engine_profiles
from protocols.engine import units


def _choice_values(choices: type[models.TextChoices]) -> list[str]:
    return [str(value) for value in choices.values]


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Pregnancy(models.TextChoices):
    NONE = "none", "Not pregnant"
    PLANNING = "planning", "Planning pregnancy"
    PREGNANT = "pregnant", "Pregnant"


class DietaryIntake(models.TextChoices):
    YES = "yes", "Adequate"
    NO = "no", "Not adequate"
    UNKNOWN = "unknown", "Unknown"


class CauseKind(models.TextChoices):
    PERNICIOUS_ANEMIA = "pernicious_anemia", "Pernicious anemia"
    ILEAL_RESECTION = "ileal_resection", "Ileal resection"
    BARIATRIC_SURGERY = "bariatric_surgery", "Bariatric surgery"
    CROHNS_ILEAL = "crohns_ileal", "Crohn's disease with ileal involvement"
    DIETARY = "dietary", "Dietary (vegan or poor intake)"
    PPI = "ppi", "Proton pump inhibitor"
    METFORMIN = "metformin", "Metformin"
    OTHER = "other", "Other"


class Procedure(models.TextChoices):
    GASTRIC_BYPASS = "gastric_bypass", "Gastric bypass"
    BILIOPANCREATIC_DIVERSION = "biliopancreatic_diversion", "Biliopancreatic diversion"
    SLEEVE = "sleeve", "Sleeve gastrectomy"
    OTHER = "other", "Other"


LENGTH_KINDS = (CauseKind.ILEAL_RESECTION, CauseKind.CROHNS_ILEAL)
DRUG_KINDS = (CauseKind.PPI, CauseKind.METFORMIN)


class Drug(models.TextChoices):
    CYANOCOBALAMIN = engine_profiles.CYANOCOBALAMIN, "Cyanocobalamin"
    HYDROXOCOBALAMIN = engine_profiles.HYDROXOCOBALAMIN, "Hydroxocobalamin"


class Route(models.TextChoices):
    IM = "im", "Intramuscular"
    DEEP_SC = "deep_sc", "Deep subcutaneous"


class Site(models.TextChoices):
    LEFT_DELTOID = "left_deltoid", "Left deltoid"
    RIGHT_DELTOID = "right_deltoid", "Right deltoid"
    LEFT_THIGH = "left_thigh", "Left thigh"
    RIGHT_THIGH = "right_thigh", "Right thigh"
    LEFT_GLUTEAL = "left_gluteal", "Left gluteal"
    RIGHT_GLUTEAL = "right_gluteal", "Right gluteal"


class DischargeReason(models.TextChoices):
    MOVED_AWAY = "moved_away", "Moved away"
    CARE_TRANSFERRED = "care_transferred", "Care transferred"
    DECEASED = "deceased", "Deceased"
    DECLINED_TREATMENT = "declined_treatment", "Declined treatment"
    OTHER = "other", "Other"


class MedicationName(models.TextChoices):
    FOLIC_ACID = "folic_acid", "Folic acid"
    OTHER = "other", "Other"


class Patient(models.Model):
    Sex = Sex
    Pregnancy = Pregnancy
    DischargeReason = DischargeReason
    DietaryIntake = DietaryIntake

    # The clinic (site) whose staff see the patient (accounts.clinics.clinics_of); changed only by a
    # transfer, with a reason (patients.services.patient_transfer).
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("medical record number", max_length=32, unique=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email_reminders_consent = models.BooleanField(default=False)
    email_opt_out_at = models.DateTimeField(null=True, blank=True)
    # Opaque, in the signed opt-out link of every reminder instead of the database id.
    reminder_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    neurological_involvement = models.BooleanField(default=False)
    pregnancy = models.CharField(max_length=10, choices=Pregnancy.choices, default=Pregnancy.NONE)
    dietary_intake_adequate = models.CharField(
        max_length=10, choices=DietaryIntake.choices, default=DietaryIntake.UNKNOWN
    )
    is_active = models.BooleanField(default=True, help_text="Unticked once the patient is discharged.")
    discharged_at = models.DateTimeField(null=True, blank=True)
    # Why the patient was discharged (blank while active); the history keeps earlier discharges.
    discharge_reason = models.CharField(max_length=20, choices=DischargeReason.choices, blank=True)
    discharge_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        permissions = [
            (
                "make_decision",
                "Can make clinical decisions (intervals, oral switch, alerts)",
            ),
            ("transfer_patient", "Can transfer a patient to another clinic"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(mrn=""), name="patient_mrn_not_blank"),
            models.CheckConstraint(condition=Q(sex__in=_choice_values(Sex)), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=Q(pregnancy__in=_choice_values(Pregnancy)),
                name="patient_pregnancy_valid",
            ),
            models.CheckConstraint(
                condition=Q(dietary_intake_adequate__in=_choice_values(DietaryIntake)),
                name="patient_dietary_intake_valid",
            ),
            models.CheckConstraint(
                condition=Q(pregnancy="none") | ~Q(sex="male"),
                name="patient_pregnancy_not_male",
            ),
            models.CheckConstraint(
                condition=Q(is_active=True, discharged_at__isnull=True)
                | Q(is_active=False, discharged_at__isnull=False),
                name="patient_discharged_at_iff_inactive",
            ),
            models.CheckConstraint(
                condition=Q(is_active=True, discharge_reason="")
                | Q(is_active=False, discharge_reason__in=_choice_values(DischargeReason)),
                name="patient_discharge_reason_iff_inactive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: datetime.date) -> int:
        """Completed years on `day`."""
        before_birthday = (day.month, day.day) < (
            self.birth_date.month,
            self.birth_date.day,
        )
        return day.year - self.birth_date.year - before_birthday

    def clean(self) -> None:
        if self.sex == self.Sex.MALE and self.pregnancy != self.Pregnancy.NONE:
            raise ValidationError({"pregnancy": "A patient recorded as male cannot be pregnant or planning pregnancy."})


class Cause(models.Model):
    """A cause of the patient's B12 deficiency; the codes are those of GUIDANCE.md and CONTRACT.md."""

    Kind = CauseKind
    Procedure = Procedure
    LENGTH_KINDS = LENGTH_KINDS
    DRUG_KINDS = DRUG_KINDS

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="causes")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    length_cm = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Length of ileum resected or involved (cm).",
    )
    procedure = models.CharField(max_length=32, choices=Procedure.choices, blank=True)
    start = models.DateField(null=True, blank=True)
    stop = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "recorded_at"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_choice_values(CauseKind)), name="cause_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind__in=LENGTH_KINDS, length_cm__isnull=False, length_cm__gte=1)
                | (~Q(kind__in=LENGTH_KINDS) & Q(length_cm__isnull=True)),
                name="cause_length_cm_iff_ileal",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind=CauseKind.BARIATRIC_SURGERY,
                    procedure__in=_choice_values(Procedure),
                )
                | (~Q(kind=CauseKind.BARIATRIC_SURGERY) & Q(procedure="")),
                name="cause_procedure_iff_bariatric",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=DRUG_KINDS) | Q(start__isnull=False),
                name="cause_start_required_for_drugs",
            ),
            models.CheckConstraint(
                condition=Q(stop__isnull=True) | Q(start__isnull=False, stop__gte=F("start")),
                name="cause_stop_not_before_start",
            ),
            models.CheckConstraint(
                condition=~Q(kind=CauseKind.OTHER) | ~Q(note=""),
                name="cause_note_required_for_other",
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind in self.LENGTH_KINDS:
            if self.length_cm is None:
                errors["length_cm"] = "Give the length of ileum involved, in cm."
        elif self.length_cm is not None:
            errors["length_cm"] = "A length in cm applies only to ileal resection and Crohn's disease."
        if self.kind == self.Kind.BARIATRIC_SURGERY:
            if not self.procedure:
                errors["procedure"] = "Choose the bariatric procedure."
        elif self.procedure:
            errors["procedure"] = "A procedure applies only to bariatric surgery."
        if self.kind in self.DRUG_KINDS and self.start is None:
            errors["start"] = "Give the date the drug was started."
        if self.stop is not None:
            if self.start is None:
                errors.setdefault("start", "Give a start date when giving a stop date.")
            elif self.stop < self.start:
                errors["stop"] = "The stop date cannot be before the start date."
        if self.kind == self.Kind.OTHER and not self.note.strip():
            errors["note"] = "Describe the cause."
        if errors:
            raise ValidationError(errors)


INTERVAL_DAYS_MIN, INTERVAL_DAYS_MAX = 3, 90  # SCHED-OVERRIDE in days (GUIDANCE.md)
ORAL_DOSE_MIN_MCG, ORAL_DOSE_MAX_MCG = 1000, 2000  # STOP-DIETARY-ORAL: oral 1000-2000 mcg daily


class Regimen(models.Model):
    """How a patient is treated: a protocol profile, an optional physician-set interval (in months or
    days), an optional physician-set recheck date, and the switch to oral therapy with its dose."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="regimen")
    profile = models.ForeignKey("protocols.ProtocolProfile", on_delete=models.PROTECT, related_name="regimens")
    maintenance_interval_months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text="SCHED-OVERRIDE: a physician-set interval in months that wins over the profile.",
    )
    maintenance_interval_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(INTERVAL_DAYS_MIN), MaxValueValidator(INTERVAL_DAYS_MAX)],
        help_text="SCHED-OVERRIDE in days (weekly = 7, two-weekly = 14): never together with months.",
    )
    interval_reason = models.TextField(blank=True)
    interval_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    interval_set_at = models.DateTimeField(null=True, blank=True)
    recheck_on = models.DateField(
        null=True, blank=True, help_text="MON-OVERRIDE: the next recheck a physician set; spent once a B12 is in."
    )
    recheck_reason = models.TextField(blank=True)
    recheck_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recheck_set_at = models.DateTimeField(null=True, blank=True)
    oral_since = models.DateField(
        null=True,
        blank=True,
        help_text="SCHED-ORAL: date of the switch to oral therapy.",
    )
    oral_dose_mcg = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(ORAL_DOSE_MIN_MCG), MaxValueValidator(ORAL_DOSE_MAX_MCG)],
        help_text="The daily oral dose the physician chose at the switch.",
    )

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    maintenance_interval_months__isnull=True,
                    maintenance_interval_days__isnull=True,
                    interval_set_by__isnull=True,
                    interval_set_at__isnull=True,
                    interval_reason="",
                )
                | (
                    (
                        Q(
                            maintenance_interval_months__gte=1,
                            maintenance_interval_months__lte=12,
                            maintenance_interval_days__isnull=True,
                        )
                        | Q(
                            maintenance_interval_months__isnull=True,
                            maintenance_interval_days__gte=INTERVAL_DAYS_MIN,
                            maintenance_interval_days__lte=INTERVAL_DAYS_MAX,
                        )
                    )
                    & Q(interval_set_by__isnull=False, interval_set_at__isnull=False)
                    & ~Q(interval_reason="")
                ),
                name="regimen_override_complete",
            ),
            models.CheckConstraint(
                condition=Q(
                    recheck_on__isnull=True, recheck_set_by__isnull=True, recheck_set_at__isnull=True, recheck_reason=""
                )
                | (
                    Q(recheck_on__isnull=False, recheck_set_by__isnull=False, recheck_set_at__isnull=False)
                    & ~Q(recheck_reason="")
                ),
                name="regimen_recheck_override_complete",
            ),
            models.CheckConstraint(
                condition=Q(oral_dose_mcg__isnull=True)
                | Q(
                    oral_since__isnull=False, oral_dose_mcg__gte=ORAL_DOSE_MIN_MCG, oral_dose_mcg__lte=ORAL_DOSE_MAX_MCG
                ),
                name="regimen_oral_dose_only_on_oral",
            ),
        ]

    def __str__(self) -> str:
        return f"Regimen of {self.patient}"

    @property
    def interval_override(self) -> str:
        """The physician-set interval in words ("every 14 days"), empty when none."""
        if self.maintenance_interval_days is not None:
            return f"every {self.maintenance_interval_days} days"
        if self.maintenance_interval_months is not None:
            months = self.maintenance_interval_months
            return f"every {months} month{'s' if months != 1 else ''}"
        return ""

    def clean(self) -> None:
        errors = {}
        if self.maintenance_interval_months is not None and self.maintenance_interval_days is not None:
            errors["maintenance_interval_days"] = "Give the interval in months or in days, not both."
        if self.maintenance_interval_months is not None or self.maintenance_interval_days is not None:
            if not self.interval_reason.strip():
                errors["interval_reason"] = "Give the reason for the physician-set interval."
            if self.interval_set_by_id is None:
                errors["interval_set_by"] = "Record the physician who set the interval."
        if self.recheck_on is not None and not self.recheck_reason.strip():
            errors["recheck_reason"] = "Give the reason for the physician-set recheck date."
        if self.oral_dose_mcg is not None and self.oral_since is None:
            errors["oral_dose_mcg"] = "An oral dose applies only on oral therapy."
        if errors:
            raise ValidationError(errors)


def _void_complete(model: str) -> models.CheckConstraint:
    """Entered in error: when, by whom and why, all three or none."""
    return models.CheckConstraint(
        condition=Q(voided_at__isnull=True, voided_by__isnull=True, void_reason="")
        | (Q(voided_at__isnull=False, voided_by__isnull=False) & ~Q(void_reason="")),
        name=f"{model}_void_complete",
    )


REQUIRED = "This field cannot be blank."


class Injection(models.Model):
    Drug = Drug
    Route = Route
    Site = Site

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="injections")
    given_at = models.DateTimeField()
    drug = models.CharField(max_length=20, choices=Drug.choices)
    dose_mcg = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    route = models.CharField(max_length=10, choices=Route.choices, default=Route.IM)
    # Blank only on imported history (the register import): clean() requires them on every other entry.
    site = models.CharField(max_length=20, choices=Site.choices, blank=True)
    lot_number = models.CharField(max_length=50, blank=True)
    lot_expiry = models.DateField(null=True, blank=True)
    given_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True, validators=[MaxLengthValidator(plausibility.NOTES_MAX)])
    created_at = models.DateTimeField(auto_now_add=True)
    # Imported history: an injection the clinic's register brought in (exchange.importer); `given_by`
    # is then the admin who imported it and `given_by_name` who the register says gave it.
    imported = models.BooleanField(default=False, editable=False)
    given_by_name = models.CharField(max_length=100, blank=True, editable=False)
    confirmed_warnings = models.JSONField(
        default=list, blank=True, editable=False, help_text="Soft warnings confirmed at entry: which, by whom, when."
    )
    voided_at = models.DateTimeField(null=True, blank=True, editable=False)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    void_reason = models.TextField(blank=True, editable=False)
    # The form's one-time key: a double-click or a resubmitted form records one injection, not two.
    submission_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "given_at"]
        indexes = [models.Index(fields=["patient", "given_at"], name="injection_patient_given_at")]
        constraints = [
            models.CheckConstraint(condition=Q(dose_mcg__gt=0), name="injection_dose_positive"),
            models.CheckConstraint(condition=Q(drug__in=_choice_values(Drug)), name="injection_drug_valid"),
            models.CheckConstraint(
                condition=Q(route__in=_choice_values(Route)),
                name="injection_route_valid",
            ),
            models.CheckConstraint(
                condition=Q(site__in=_choice_values(Site)) | Q(imported=True, site=""), name="injection_site_valid"
            ),
            models.CheckConstraint(
                condition=~Q(lot_number="") | Q(imported=True), name="injection_lot_number_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(lot_expiry__isnull=False) | Q(imported=True), name="injection_lot_expiry_given"
            ),
            _void_complete("injection"),
        ]

    def __str__(self) -> str:
        return f"{self.get_drug_display()} {self.dose_mcg} mcg on {self.given_at:%Y-%m-%d}"

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None

    def clean(self) -> None:
        birth = self.patient.birth_date if self.patient_id else None
        given_on = timezone.localdate(self.given_at) if isinstance(self.given_at, datetime.datetime) else None
        errors = plausibility.hard_problems(
            {
                **{
                    field: REQUIRED
                    for field in ("site", "lot_number", "lot_expiry")
                    if not self.imported and getattr(self, field) in ("", None)
                },
                "given_at": plausibility.date_problem(given_on, birth_date=birth),
                "lot_expiry": plausibility.date_problem(self.lot_expiry, birth_date=None),
                "dose_mcg": plausibility.dose_problem(self.dose_mcg),
            }
        )
        # The clinic's calendar day, not UTC's, decides whether the lot had expired.
        if (
            "lot_expiry" not in errors
            and given_on is not None
            and isinstance(self.lot_expiry, datetime.date)
            and self.lot_expiry < given_on
        ):
            errors["lot_expiry"] = "This lot had expired on the day the injection was given."
        if errors:
            raise ValidationError(errors)


def _unit_pairs(unit_field: str, allowed: Callable[[units.Analyte], Iterable[str]]) -> Q:
    """OR over every analyte of (analyte = code AND <unit_field> in allowed(analyte))."""
    return reduce(
        or_,
        (Q(analyte=code, **{f"{unit_field}__in": list(allowed(a))}) for code, a in units.ANALYTES.items()),
    )


class LabResult(models.Model):
    """A lab value as entered, beside the same value in the analyte's canonical unit (computed)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="labs")
    analyte = models.CharField(max_length=32, choices=units.ANALYTE_CHOICES)
    value_entered = models.DecimalField(max_digits=12, decimal_places=4, validators=[MinValueValidator(0)])
    unit_entered = models.CharField(max_length=16)
    value_canonical = models.DecimalField(max_digits=12, decimal_places=4, editable=False)
    unit_canonical = models.CharField(max_length=16, editable=False)
    collected_on = models.DateField()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(auto_now_add=True)
    notes = models.TextField(blank=True, validators=[MaxLengthValidator(plausibility.NOTES_MAX)])
    confirmed_warnings = models.JSONField(
        default=list, blank=True, editable=False, help_text="Soft warnings confirmed at entry: which, by whom, when."
    )
    voided_at = models.DateTimeField(null=True, blank=True, editable=False)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    void_reason = models.TextField(blank=True, editable=False)

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "collected_on", "analyte"]
        indexes = [
            models.Index(
                fields=["patient", "analyte", "collected_on"],
                name="lab_patient_analyte_date",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=_unit_pairs("unit_entered", lambda a: a.unit_symbols),
                name="labresult_unit_valid",
            ),
            models.CheckConstraint(
                condition=_unit_pairs("unit_canonical", lambda a: [a.canonical]),
                name="labresult_canonical_unit_valid",
            ),
            models.CheckConstraint(condition=Q(value_entered__gte=0), name="labresult_value_not_negative"),
            models.CheckConstraint(
                condition=Q(value_canonical__gte=0),
                name="labresult_canonical_not_negative",
            ),
            _void_complete("labresult"),
        ]

    def __str__(self) -> str:
        return f"{self.get_analyte_display()} {self.value_entered} {self.unit_entered} on {self.collected_on}"

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None

    def clean(self) -> None:
        """Normalise the unit's spelling and compute the canonical value from what was entered; refuse
        a date before 1900 or the birth date and a value outside what can be measured."""
        birth = self.patient.birth_date if self.patient_id else None
        problem = plausibility.date_problem(self.collected_on, birth_date=birth)
        if problem:
            raise ValidationError({"collected_on": problem})
        if self.value_entered is None or not self.analyte:
            return
        problem = plausibility.number_problem(self.value_entered)
        if problem:
            raise ValidationError({"value_entered": problem})
        try:
            self.unit_entered = units.unit_for(self.analyte, self.unit_entered).symbol
            exact = units.to_canonical_exact(self.analyte, self.value_entered, self.unit_entered)
            problem = plausibility.value_problem(self.analyte, exact)
            if problem:
                raise ValidationError({"value_entered": problem})
            self.value_canonical = units.round_for_storage(exact)
            self.unit_canonical = units.canonical_unit(self.analyte)
        except units.UnitError as error:
            field = {"unit": "unit_entered", "value": "value_entered"}.get(error.field, error.field)
            raise ValidationError({field: error.message}) from None


class LabNotDrawn(models.Model):
    """A lab the protocol asked to draw at a recheck that was not drawn, and why: the worklist stops
    asking for it from this recheck on (a result or this record, dated on or after the window start)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="labs_not_drawn")
    analyte = models.CharField(max_length=32, choices=units.ANALYTE_CHOICES)
    on = models.DateField(help_text="The day of the visit at which it was not drawn.")
    reason = models.TextField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "on", "analyte"]
        verbose_name = "lab not drawn"
        verbose_name_plural = "labs not drawn"
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="labnotdrawn_reason_not_blank"),
            models.CheckConstraint(condition=Q(analyte__in=list(units.ANALYTES)), name="labnotdrawn_analyte_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_analyte_display()} not drawn on {self.on}"


class SymptomCheck(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="symptom_checks")
    checked_on = models.DateField()
    neurological = models.BooleanField(help_text="Paresthesia, numbness, gait or cognitive trouble.")
    depression = models.BooleanField(help_text="Depressive symptoms.")
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "checked_on"]

    def __str__(self) -> str:
        return f"Symptom check on {self.checked_on}"


class Medication(models.Model):
    Name = MedicationName

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medications")
    name = models.CharField(max_length=20, choices=Name.choices)
    detail = models.TextField(blank=True, help_text="Which medication, when not folic acid; dose.")
    start = models.DateField()
    stop = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(name__in=_choice_values(MedicationName)),
                name="medication_name_valid",
            ),
            models.CheckConstraint(
                condition=~Q(name="other") | ~Q(detail=""),
                name="medication_detail_for_other",
            ),
            models.CheckConstraint(
                condition=Q(stop__isnull=True) | Q(stop__gte=F("start")),
                name="medication_stop_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return self.detail if self.name == self.Name.OTHER else self.get_name_display()

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.name == self.Name.OTHER and not self.detail.strip():
            errors["detail"] = "Name the medication."
        if self.stop is not None and self.start is not None and self.stop < self.start:
            errors["stop"] = "The stop date cannot be before the start date."
        if errors:
            raise ValidationError(errors)


# Physicians' decisions ----------------------------------------------------------------------------
# Who decided what about one patient, when and why. The application layer (clinic.actions) records
# each decision in the same transaction as the regimen change it makes.


class DecisionKind(models.TextChoices):
    INTERVAL_OVERRIDE_SET = "interval_override_set", "Maintenance interval set"
    INTERVAL_OVERRIDE_CLEARED = "interval_override_cleared", "Maintenance interval override cleared"
    RECHECK_DATE_SET = "recheck_date_set", "Recheck date set"
    RECHECK_DATE_CLEARED = "recheck_date_cleared", "Recheck date cleared"
    ORAL_SWITCH_APPROVED = "oral_switch_approved", "Switch to oral therapy approved"
    ORAL_SWITCH_DECLINED = "oral_switch_declined", "Switch to oral therapy declined"
    INJECTIONS_RESUMED = "injections_resumed", "Injections resumed"
    ALERT_ACKNOWLEDGED = "alert_acknowledged", "Alert acknowledged"


class Decision(models.Model):
    Kind = DecisionKind

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=32, choices=DecisionKind.choices)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField()
    reason = models.TextField()
    # For acknowledgements: which alert, and the date that occurrence of it had been active since.
    alert_rule = models.CharField(max_length=40, blank=True)
    alert_since = models.DateField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    # The tables kept their names when the model moved here from `clinic`.
    history = HistoricalRecords(table_name="clinic_historicaldecision")

    class Meta:
        db_table = "clinic_decision"
        ordering = ["-made_at"]
        indexes = [models.Index(fields=["patient", "kind", "made_at"], name="decision_patient_kind_at")]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="decision_reason_not_blank"),
            models.CheckConstraint(
                condition=Q(kind__in=[str(value) for value in DecisionKind.values]), name="decision_kind_valid"
            ),
            models.CheckConstraint(
                condition=(Q(kind=DecisionKind.ALERT_ACKNOWLEDGED) & ~Q(alert_rule="") & Q(alert_since__isnull=False))
                | (~Q(kind=DecisionKind.ALERT_ACKNOWLEDGED) & Q(alert_rule="", alert_since__isnull=True)),
                name="decision_alert_fields_iff_ack",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for patient {self.patient_id} by {self.made_by} on {self.made_at:%Y-%m-%d}"


class PlausibilityRange(models.Model):
    """The usual clinical range of an analyte, in its canonical unit: a lab value outside it is saved
    only once someone confirms it. Clinic-tunable in the admin; patients.plausibility.USUAL_RANGES are
    the defaults (and apply to an analyte without a row)."""

    analyte = models.CharField(max_length=32, choices=units.ANALYTE_CHOICES, unique=True)
    low = models.DecimalField(max_digits=12, decimal_places=4, validators=[MinValueValidator(0)])
    high = models.DecimalField(max_digits=12, decimal_places=4, validators=[MinValueValidator(0)])
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["analyte"]
        constraints = [
            models.CheckConstraint(condition=Q(high__gt=F("low")), name="plausibilityrange_high_above_low"),
        ]

    def __str__(self) -> str:
        unit = units.canonical_unit(self.analyte) if self.analyte in units.ANALYTES else ""
        return f"{self.get_analyte_display()}: {self.low.normalize():f}-{self.high.normalize():f} {unit}"

    def clean(self) -> None:
        if self.low is not None and self.high is not None and self.high <= self.low:
            raise ValidationError({"high": "The upper bound must be above the lower bound."})
        bounds = plausibility.PHYSICAL_RANGES.get(self.analyte)
        if bounds is not None:
            for name in ("low", "high"):
                value = getattr(self, name)
                if value is not None and value not in bounds:
                    raise ValidationError(
                        {
                            name: f"Outside what can be measured ({bounds.low.normalize():f}-{bounds.high.normalize():f})."
                        }
                    )

    @property
    def range(self) -> plausibility.Range:
        return plausibility.Range(self.low, self.high)
