"""What the protocol engine says about each patient, stored for the pages, the counts and reminders.

Derived data, not a clinical record: care.services rewrites a patient's rows in the transaction of
every change the engine reads (the application layer calls it) and once a day for every active
patient. The tables kept their names when the models moved here from `protocols`.
"""

from __future__ import annotations

from django.conf import settings as settings_module
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from protocols.engine import evaluate as engine


class Phase(models.TextChoices):
    NOT_STARTED = engine.NOT_STARTED, "Not started"
    LOADING = engine.LOADING, "Loading"
    MAINTENANCE = engine.MAINTENANCE, "Maintenance"
    ORAL = engine.ORAL, "Oral therapy"


class Verdict(models.TextChoices):
    LIFELONG = engine.LIFELONG, "Lifelong injections"
    CONTINUE = engine.CONTINUE, "Continue injections"
    ORAL_SWITCH_CANDIDATE = engine.ORAL_SWITCH_CANDIDATE, "Oral-switch candidate"


class RecheckLab(models.TextChoices):
    B12 = "b12", "B12"
    CBC = "cbc", "Full blood count"
    IRON = "iron", "Iron studies"
    MMA = "mma", "MMA"
    HOMOCYSTEINE = "homocysteine", "Homocysteine"
    BARIATRIC_PANEL = "bariatric_panel", "Post-bariatric panel"


class Severity(models.IntegerChoices):
    NONE = 0, "None"
    INFO = 1, "Info"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"

    @classmethod
    def of(cls, name: str) -> Severity:
        """The engine's severity name ("high") as a stored value."""
        return cls[name.upper()]


class CareStatus(models.Model):
    """The engine's evaluation of one patient; its alerts are CareAlert rows. Each row records the
    profile version and the date it was evaluated for, and `because` the rule ids behind each result."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="care_status")
    # A copy of patient.is_active, so the pages filter and count without joining the patients.
    patient_active = models.BooleanField(default=True)
    # A copy of patient.clinic (care.services writes it, a transfer re-evaluates): the pages scope
    # their counts by clinic without joining the patients.
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    # A digest of the stored result and its alerts (care.services): an unchanged status is not rewritten.
    fingerprint = models.CharField(max_length=32, blank=True)
    profile = models.ForeignKey("protocols.ProtocolProfile", on_delete=models.PROTECT, related_name="+")
    profile_version = models.PositiveIntegerField()
    # When this status was last written, and for which day. The daily refresh does not rewrite an
    # unchanged status (nor stamp it: that would dirty every row each day, and the pages' partial index
    # would no longer be read alone); it records a PopulationEvaluation instead. The date a status holds
    # for is care.selectors.care_status_evaluated_for().
    as_of = models.DateField(help_text="The date the engine last rewrote this status for.")
    evaluated_at = models.DateTimeField()

    phase = models.CharField(max_length=20, choices=Phase.choices)
    loading_doses_given = models.PositiveSmallIntegerField()
    maintenance_interval_months = models.PositiveSmallIntegerField(null=True)
    # A physician's interval in days (SCHED-OVERRIDE); maintenance_interval_months is then empty.
    maintenance_interval_days = models.PositiveSmallIntegerField(null=True)
    suggested_interval_months = models.PositiveSmallIntegerField(null=True)
    maintenance_start = models.DateField(null=True)
    next_injection_due = models.DateField(null=True)
    next_recheck_due = models.DateField(null=True)
    # MON-OVERRIDE: the physician's recheck date is in force; rules_recheck_due is what the rules say.
    recheck_override_in_force = models.BooleanField(default=False)
    rules_recheck_due = models.DateField(null=True)
    recheck_labs = models.JSONField(default=list)
    verdict = models.CharField(max_length=30, choices=Verdict.choices)
    verdict_rules = models.JSONField(default=list)
    verdict_unmet = models.JSONField(default=list)
    rules = models.JSONField(default=list)
    because = models.JSONField(default=dict)
    latest_b12 = models.DecimalField(max_digits=12, decimal_places=4, null=True)
    latest_b12_category = models.CharField(max_length=12, blank=True)
    # The recheck whose labs are still to draw (care.services): the current one, or the one a B12
    # already answered while other labs of it are neither in nor recorded as not drawn. Null when
    # none is outstanding; the worklist's recheck list reads these, not next_recheck_due.
    labs_due_on = models.DateField(null=True)
    labs_window_from = models.DateField(null=True)
    labs_to_draw = models.JSONField(default=list)  # analyte codes (units.ANALYTES), B12 first

    class Meta:
        db_table = "protocols_carestatus"
        verbose_name_plural = "care statuses"
        indexes = [
            models.Index(fields=["next_injection_due"], name="care_next_injection_due"),
            models.Index(fields=["next_recheck_due"], name="care_next_recheck_due"),
            models.Index(fields=["verdict"], name="care_verdict"),
            models.Index(fields=["labs_due_on"], name="care_labs_due_on"),
            # The dashboard's and worklist's due-date counts of active patients, read from the index
            # alone (an index-only scan, while the daily refresh leaves unchanged rows untouched): a
            # status row is some 2 KB (the stored explanation), an index entry a few dozen bytes.
            models.Index(
                fields=["clinic", "next_injection_due", "next_recheck_due"],
                include=["patient", "labs_due_on"],
                condition=Q(patient_active=True),
                name="care_active_due_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"Care status of patient {self.patient_id} on {self.as_of}"


class CareAlert(models.Model):
    """One active alert of an active patient, the only place alerts are stored: the pages filter,
    count and order them in the database (indexed). Rewritten with the patient's CareStatus, in the
    same transaction; a discharged patient has none."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="care_alerts")
    # A copy of patient.clinic, as CareStatus.clinic: the dashboard counts a clinic's alerts alone.
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=40)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    since = models.DateField(help_text="The alert has been active without a break since this date.")
    message = models.TextField()

    class Meta:
        db_table = "protocols_carealert"
        ordering = ["-severity", "since", "rule"]
        constraints = [models.UniqueConstraint(fields=["patient", "rule"], name="care_alert_one_per_rule")]
        # The dashboard's order: most severe first, then the longest-standing.
        indexes = [
            models.Index(F("severity").desc(), F("since"), F("id"), name="care_alert_dashboard_order"),
            # The counts by severity of a clinic's alerts, from the index alone.
            models.Index(fields=["clinic", "severity"], name="care_alert_clinic_severity"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} of patient {self.patient_id} since {self.since}"

    @property
    def severity_name(self) -> str:
        """ "high", "medium" or "info", as the engine and the templates name it."""
        return Severity(self.severity).label.lower()


class ProfileRun(models.Model):
    """A Celery task's work on a protocol profile's patients, with its progress: the preview of a
    draft (what it would change, nothing written but this row) or the re-evaluation after publishing."""

    class Kind(models.TextChoices):
        PREVIEW = "preview", "Preview of a draft"
        PUBLISH = "publish", "Re-evaluation after publishing"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    profile = models.ForeignKey("protocols.ProtocolProfile", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # A preview: the draft's settings it evaluated (a draft edited since makes it out of date) and
    # the version in force it compared against. A publication: the version it re-evaluated with.
    settings = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField()
    as_of = models.DateField()
    by = models.ForeignKey(settings_module.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # protocols.engine.compare.Tally.as_dict(), and each changed patient (care.preview.change_row).
    counts = models.JSONField(default=dict, blank=True)
    changes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.profile_id} v{self.version}: {self.get_status_display()}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class PopulationEvaluation(models.Model):
    """One daily refresh that evaluated every active patient for `as_of` (care.services).

    The marker that replaces stamping each unchanged status: an active patient's status holds for
    the later of its own `as_of` (the day it was last rewritten) and the latest marker's. Written only
    once every chunk of the run has committed, so a run that stopped halfway marks nothing."""

    as_of = models.DateField()
    evaluated_at = models.DateTimeField()
    patients = models.PositiveIntegerField(help_text="Active patients evaluated by this run.")

    class Meta:
        get_latest_by = "pk"  # the run that finished last (care.selectors.population_evaluated_for)

    def __str__(self) -> str:
        return f"Every active patient evaluated for {self.as_of}"
