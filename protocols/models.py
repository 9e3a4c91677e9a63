"""Protocol profiles: the versioned settings of GUIDANCE.md that a clinic admin edits."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from protocols.engine import profiles as engine_profiles


def _months(help_text: str, default: int | None = None, *, null: bool = False) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        default=default, null=null, blank=null, validators=[MinValueValidator(1)], help_text=help_text
    )


def _threshold(help_text: str, default: int) -> models.DecimalField:
    return models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(default), help_text=help_text)


class ProfileSettings(models.Model):
    """Every *(setting)* of GUIDANCE.md: the fields a profile in force and its draft share."""

    PATHWAY_CHOICES = [
        (engine_profiles.FIRST_YEAR, "First year: rechecks at 3, 6 and 12 months"),
        (engine_profiles.UNTIL_STABLE, "Until stable: first recheck at 3 months"),
    ]
    DRUG_CHOICES = [
        (engine_profiles.CYANOCOBALAMIN, "Cyanocobalamin"),
        (engine_profiles.HYDROXOCOBALAMIN, "Hydroxocobalamin"),
    ]

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

    class Meta:
        abstract = True

    def setting_values(self) -> dict[str, object]:
        """Every setting as plain JSON values (a draft's snapshot, compared to tell it changed)."""
        return {name: _plain(getattr(self, name)) for name in engine_profiles.SETTING_NAMES}


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


class ProtocolProfile(ProfileSettings):
    """The settings in force for one profile. `version` goes up on every change, and each care status
    records the version that produced it (the historical rows keep every version)."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    version = models.PositiveIntegerField(default=1, editable=False)
    is_active = models.BooleanField(default=True, help_text="Inactive profiles cannot be chosen for new regimens.")

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


class ProtocolProfileDraft(ProfileSettings):
    """A clinic admin's change to a profile, saved but not in force: nothing evaluates a patient with
    it (evaluations read ProtocolProfile only) until it is published as the profile's next version
    (protocols.services.protocol_profile_draft_apply), or discarded. One draft a profile."""

    profile = models.OneToOneField(ProtocolProfile, on_delete=models.CASCADE, related_name="draft")
    based_on_version = models.PositiveIntegerField(help_text="The profile's version the draft started from.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(b12_low_below__lte=models.F("b12_normal_above")),
                name="profile_draft_b12_low_not_above_normal",
            ),
        ]

    def __str__(self) -> str:
        return f"Draft of {self.profile.name} (from v{self.based_on_version})"

    def changed_settings(self) -> list[tuple[str, object, object]]:
        """(setting's label, in force, draft) for each setting the draft changes: the label the edit form
        shows (the field's verbose name), so the admin reads the same words on both pages."""
        current, draft = self.profile.setting_values(), self.setting_values()
        return [
            (str(self._meta.get_field(name).verbose_name).capitalize(), current[name], draft[name])
            for name in engine_profiles.SETTING_NAMES
            if current[name] != draft[name]
        ]
