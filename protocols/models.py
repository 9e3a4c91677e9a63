"""Protocol profiles (versioned settings a clinic admin edits) and the stored care status."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F
from simple_history.models import HistoricalRecords

from protocols.engine import profiles as engine_profiles


def _months(help_text: str, default: int | None = None, *, null: bool = False) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        default=default, null=null, blank=null, validators=[MinValueValidator(1)], help_text=help_text
    )


def _threshold(help_text: str, default: int) -> models.DecimalField:
    return models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(default), help_text=help_text)


class ProtocolProfile(models.Model):
    """Every *(setting)* of GUIDANCE.md for one profile. `version` goes up on every change, and each
    care status records the version that produced it (the historical rows keep every version)."""

    PATHWAY_CHOICES = [
        (engine_profiles.FIRST_YEAR, "First year: rechecks at 3, 6 and 12 months"),
        (engine_profiles.UNTIL_STABLE, "Until stable: first recheck at 3 months"),
    ]
    DRUG_CHOICES = [
        (engine_profiles.CYANOCOBALAMIN, "Cyanocobalamin"),
        (engine_profiles.HYDROXOCOBALAMIN, "Hydroxocobalamin"),
    ]

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    version = models.PositiveIntegerField(default=1, editable=False)
    is_active = models.BooleanField(default=True, help_text="Inactive profiles cannot be chosen for new regimens.")

    drug = models.CharField(max_length=20, choices=DRUG_CHOICES)
    dose_mcg = models.PositiveIntegerField(default=1000, validators=[MinValueValidator(1)])
    loading_doses = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1)])
    loading_interval_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1)])
    maintenance_interval_months = _months("SCHED-MAINT: months between maintenance injections.", 1)
    neuro_interval_months = _months(
        "SCHED-NEURO-INTERVAL: interval with neurological involvement; empty = rule off.", null=True
    )
    ileal_interval_months = _months("SCHED-ILEAL: interval after ileal resection over the threshold.", 1)
    ileal_over_cm = models.PositiveSmallIntegerField(
        default=20, help_text="SCHED-ILEAL / STOP-ILEAL: resection longer than this (cm)."
    )

    monitoring_pathway = models.CharField(max_length=20, choices=PATHWAY_CHOICES)
    first_year_check_months = models.JSONField(
        default=list, help_text="MON-FIRST-YEAR: months after maintenance start, e.g. [3, 6, 12]."
    )
    until_stable_first_check_months = _months("MON-UNTIL-STABLE: first recheck after maintenance start.", 3)
    recheck_window_days = models.PositiveSmallIntegerField(
        default=14, help_text="A recheck counts as done this many days before it is due."
    )
    stable_recheck_months = _months("MON-STABLE: months to the next recheck when stable.", 12)
    unstable_recheck_months = _months("MON-STABLE: months to the next recheck when not stable.", 3)
    high_risk_max_gap_months = _months("MON-HIGH-RISK: longest gap between rechecks.", 6)
    bariatric_max_gap_months = _months("MON-BARIATRIC: longest gap between rechecks.", 6)
    pregnancy_bariatric_gap_months = _months("MON-PREGNANCY-BARIATRIC: gap between rechecks.", 3)
    oral_recheck_months = _months("MON-ORAL: months to the recheck on oral therapy.", 12)
    homocysteine_every_recheck = models.BooleanField(default=False, help_text="Draw homocysteine at every recheck.")

    crohn_over_cm = models.PositiveSmallIntegerField(
        default=30, help_text="STOP-CROHN: ileal involvement longer than this (cm)."
    )
    age_rule_enabled = models.BooleanField(default=True, help_text="STOP-AGE on or off.")
    age_over_years = models.PositiveSmallIntegerField(
        default=75, help_text="STOP-AGE: lifelong when older than this (years)."
    )
    drug_cause_months = _months("STOP-DRUG: months of PPI or metformin after which treatment continues.", 4)

    b12_low_below = _threshold("B12 low below (pg/mL).", 180)
    b12_normal_above = _threshold("B12 normal above (pg/mL).", 350)
    mma_high_at = _threshold("MMA above target from (nmol/L).", 271)
    homocysteine_high_at = _threshold("Homocysteine above target from (umol/L).", 10)
    ferritin_low_below = _threshold("Ferritin low below (ug/L).", 30)
    tsat_low_below = _threshold("Transferrin saturation low below (%).", 20)
    folate_low_below = _threshold("Folate low below (ng/mL).", 3)
    vitamin_d_low_below = _threshold("Vitamin D low below (nmol/L).", 75)
    oral_dose_text = models.CharField(max_length=200, default="oral cyanocobalamin 1000-2000 mcg daily")

    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(b12_low_below__lte=models.F("b12_normal_above")),
                name="profile_b12_low_not_above_normal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class Severity(models.IntegerChoices):
    NONE = 0, "None"
    INFO = 1, "Info"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"


class CareStatus(models.Model):
    """What the protocol engine says about one patient, stored for dashboards and reminders.

    Derived data, not a clinical record: it is rewritten by protocols.services whenever a fact the
    engine reads changes (in the same transaction) and once a day for every active patient, so it has
    no history of its own; each row records the profile version and the date it was evaluated for."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="care_status")
    # A copy of patient.is_active, so dashboards filter and count without joining the patients.
    patient_active = models.BooleanField(default=True)
    # A digest of the stored result (see protocols.services): an unchanged status is not rewritten.
    fingerprint = models.CharField(max_length=32, blank=True)
    profile = models.ForeignKey(ProtocolProfile, on_delete=models.PROTECT, related_name="+")
    profile_version = models.PositiveIntegerField()
    as_of = models.DateField(help_text="The date the engine evaluated the patient for.")
    evaluated_at = models.DateTimeField()

    phase = models.CharField(max_length=20)
    loading_doses_given = models.PositiveSmallIntegerField()
    maintenance_interval_months = models.PositiveSmallIntegerField(null=True)
    suggested_interval_months = models.PositiveSmallIntegerField(null=True)
    maintenance_start = models.DateField(null=True)
    next_injection_due = models.DateField(null=True)
    next_recheck_due = models.DateField(null=True)
    recheck_labs = models.JSONField(default=list)
    verdict = models.CharField(max_length=30)
    verdict_rules = models.JSONField(default=list)
    verdict_unmet = models.JSONField(default=list)
    alerts = models.JSONField(default=list, help_text="[{rule, severity, message, since}], most severe first.")
    # ",ALERT-A,ALERT-B," so dashboards can filter by alert with a plain LIKE on SQLite and PostgreSQL.
    alert_rules = models.CharField(max_length=500, blank=True)
    highest_severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.NONE)
    rules = models.JSONField(default=list)
    because = models.JSONField(default=dict)
    latest_b12 = models.DecimalField(max_digits=12, decimal_places=4, null=True)
    latest_b12_category = models.CharField(max_length=12, blank=True)

    class Meta:
        verbose_name_plural = "care statuses"
        indexes = [
            models.Index(fields=["next_injection_due"], name="care_next_injection_due"),
            models.Index(fields=["next_recheck_due"], name="care_next_recheck_due"),
            models.Index(fields=["highest_severity"], name="care_highest_severity"),
            models.Index(fields=["verdict"], name="care_verdict"),
        ]

    def __str__(self) -> str:
        return f"Care status of patient {self.patient_id} on {self.as_of}"

    def alert_rule_ids(self) -> list[str]:
        return [alert["rule"] for alert in self.alerts]


class CareAlert(models.Model):
    """One active alert of an active patient: the rows of CareStatus.alerts, kept as a table so
    dashboards can filter, count and order alerts in the database (indexed) instead of reading every
    status. Derived like CareStatus and rewritten with it, in the same transaction; a discharged
    patient has none."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="care_alerts")
    rule = models.CharField(max_length=40)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    since = models.DateField(help_text="The alert has been active without a break since this date.")
    message = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "rule"], name="care_alert_one_per_rule")]
        # The dashboard's order: most severe first, then the longest-standing.
        indexes = [models.Index(F("severity").desc(), F("since"), F("id"), name="care_alert_dashboard_order")]

    def __str__(self) -> str:
        return f"{self.rule} of patient {self.patient_id} since {self.since}"
