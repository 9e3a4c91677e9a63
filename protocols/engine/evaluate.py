"""Evaluate one patient's facts on a date against a profile: the heart of the protocol engine.

`evaluate(facts, profile)` is a pure function. It returns an `Evaluation` whose every result names
the GUIDANCE.md rule ids behind it (`because`), so a chart can explain each date and verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, localcontext
from operator import attrgetter

from .dates import add_months, completed_years
from .facts import FOLIC_ACID, Facts, LabFact, SymptomFact
from .profiles import FIRST_YEAR, Profile
from .rules import ALERT_SEVERITY, SEVERITY_ORDER
from .units import EXACT_DIGITS, canonical_unit, round_for_storage, written

NOT_STARTED, LOADING, MAINTENANCE, ORAL = "not_started", "loading", "maintenance", "oral"
LIFELONG, CONTINUE, ORAL_SWITCH_CANDIDATE = "lifelong", "continue", "oral_switch_candidate"
LOW, BORDERLINE, NORMAL = "low", "borderline", "normal"
# Order of `unmet` conditions for STOP-NOT-YET, as GUIDANCE.md lists them.
UNMET_ORDER = ("loading", "b12_normal", "functional_marker", "dietary_intake", "neurological_symptoms")


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str
    severity: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "severity": self.severity, "message": self.message}


@dataclass(frozen=True, slots=True)
class Discontinuation:
    verdict: str
    rules: tuple[str, ...]
    unmet: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"verdict": self.verdict, "rules": list(self.rules), "unmet": list(self.unmet)}


@dataclass(frozen=True, slots=True)
class Evaluation:
    as_of: date
    profile: str
    profile_version: int
    phase: str
    loading_doses_given: int
    # The interval maintenance uses: in months, or in days when a physician set days (SCHED-OVERRIDE);
    # the other is None. Both None in the oral phase.
    maintenance_interval_months: int | None
    suggested_interval_months: int | None  # the engine's own interval (the profile's, or its rules')
    maintenance_start: date | None
    next_injection_due: date | None
    next_recheck_due: date | None
    recheck_labs: tuple[str, ...]
    discontinuation: Discontinuation
    alerts: tuple[Alert, ...]
    rules: tuple[str, ...]
    # result name -> the rule ids behind it (phase, next_injection_due, maintenance_interval_months,
    # suggested_interval_months, next_recheck_due, recheck_labs, discontinuation).
    because: dict[str, tuple[str, ...]] = field(default_factory=dict)
    latest_b12: Decimal | None = None  # exact canonical value: round it (units.round_for_storage) to store
    latest_b12_category: str | None = None
    maintenance_interval_days: int | None = None
    # MON-OVERRIDE: the physician's recheck date is the next recheck (not yet spent by a B12 drawn from
    # `recheck_window_days` before it); `rules_recheck_due` is what the other MON-* rules say.
    recheck_override_in_force: bool = False
    rules_recheck_due: date | None = None

    def to_dict(self) -> dict[str, object]:
        def iso(day: date | None) -> str | None:
            return day.isoformat() if day else None

        return {
            "as_of": iso(self.as_of),
            "profile": self.profile,
            "profile_version": self.profile_version,
            "phase": self.phase,
            "loading_doses_given": self.loading_doses_given,
            "maintenance_interval_months": self.maintenance_interval_months,
            "maintenance_interval_days": self.maintenance_interval_days,
            "suggested_maintenance_interval_months": self.suggested_interval_months,
            "maintenance_start": iso(self.maintenance_start),
            "next_injection_due": iso(self.next_injection_due),
            "next_recheck_due": iso(self.next_recheck_due),
            "recheck_override_in_force": self.recheck_override_in_force,
            "rules_recheck_due": iso(self.rules_recheck_due),
            "recheck_labs": list(self.recheck_labs),
            "discontinuation": self.discontinuation.to_dict(),
            "alerts": [alert.to_dict() for alert in self.alerts],
            "rules": list(self.rules),
            "because": {key: list(value) for key, value in self.because.items()},
        }


def b12_category(value: Decimal, profile: Profile) -> str:
    """Low below the low cut-off, borderline up to and including the normal cut-off, normal above it."""
    if value < profile.b12_low_below:
        return LOW
    if value <= profile.b12_normal_above:
        return BORDERLINE
    return NORMAL


_BY_DATE = attrgetter("date")


@dataclass(slots=True)
class _Labs:
    """What the rules need from the lab results, gathered in one pass: every B12 oldest first, the
    latest result of each other analyte (of two on one day, the one given last) and the lowest folate."""

    b12: list[LabFact]
    latest: dict[str, LabFact]
    lowest_folate: Decimal | None


def _gather_labs(labs: tuple[LabFact, ...]) -> _Labs:
    b12: list[LabFact] = []
    latest: dict[str, LabFact] = {}
    lowest_folate: Decimal | None = None
    for lab in labs:
        analyte = lab.analyte
        if analyte == "b12":
            b12.append(lab)
            continue
        current = latest.get(analyte)
        if current is None or lab.date >= current.date:
            latest[analyte] = lab
        if analyte == "folate" and (lowest_folate is None or lab.value < lowest_folate):
            lowest_folate = lab.value
    b12.sort(key=_BY_DATE)  # stable: results of one day keep their order
    return _Labs(b12, latest, lowest_folate)


def _recurred(checks: list[SymptomFact], attribute: str) -> bool:
    """Present in one check, absent in a later one, and present again in the latest."""
    if not checks or not getattr(checks[-1], attribute):
        return False
    seen_present = seen_absent_after = False
    for check in checks[:-1]:
        present = getattr(check, attribute)
        if present and not seen_present:
            seen_present = True
        elif not present and seen_present:
            seen_absent_after = True
    return seen_absent_after


def evaluate(facts: Facts, profile: Profile) -> Evaluation:
    as_of = facts.as_of
    patient = facts.patient
    regimen = facts.regimen
    rules: list[str] = []  # every rule id that shaped the result, in order; repeats dropped at the end
    because: dict[str, tuple[str, ...]] = {}

    doses = sorted([injection.date for injection in facts.injections])
    count = len(doses)
    loading_n = profile.loading_doses
    loading_done = count >= loading_n
    loading_given = min(count, loading_n)
    first_dose = doses[0] if doses else None
    loading_completed_on = doses[loading_n - 1] if loading_done else None

    codes = {cause.code for cause in patient.causes}
    ileal_long = any(
        c.code == "ileal_resection" and c.length_cm is not None and c.length_cm > profile.ileal_over_cm
        for c in patient.causes
    )
    crohn_long = any(
        c.code == "crohns_ileal" and c.length_cm is not None and c.length_cm > profile.crohn_over_cm
        for c in patient.causes
    )
    bariatric = "bariatric_surgery" in codes
    pregnant_bariatric = bariatric and patient.pregnancy == "pregnant"

    # --- Interval: SCHED-OVERRIDE, then SCHED-ILEAL, then SCHED-NEURO-INTERVAL, then the profile.
    if ileal_long:
        suggested, suggested_because = profile.ileal_interval_months, ("SCHED-ILEAL",)
    elif patient.neurological_involvement and profile.neuro_interval_months:
        suggested, suggested_because = profile.neuro_interval_months, ("SCHED-NEURO-INTERVAL",)
    else:
        suggested, suggested_because = profile.maintenance_interval_months, ("SCHED-MAINT",)
    # The override is in months or, for an individualised regimen, in days (never both: RegimenFacts).
    days = regimen.maintenance_interval_days or None
    interval: int | None
    if days or regimen.maintenance_interval_months:
        interval, interval_because = (None if days else regimen.maintenance_interval_months), ("SCHED-OVERRIDE",)
    else:
        interval, interval_because = suggested, suggested_because

    def plus_interval(day: date) -> date:
        """`day` + the maintenance interval: that many days, or calendar months."""
        if days:
            return day + timedelta(days=days)
        assert interval is not None
        return add_months(day, interval)

    # --- Phase and next injection.
    oral = regimen.oral_since is not None and regimen.oral_since <= as_of
    next_injection: date | None
    if oral:
        phase, next_injection = ORAL, None
        because["phase"] = because["next_injection_due"] = ("SCHED-ORAL",)
    elif count == 0:
        phase, next_injection = NOT_STARTED, as_of
        because["phase"] = because["next_injection_due"] = ("SCHED-LOAD",)
    elif not loading_done:
        phase, next_injection = LOADING, doses[-1] + timedelta(days=profile.loading_interval_days)
        because["phase"] = because["next_injection_due"] = ("SCHED-LOAD",)
    else:
        phase, next_injection = MAINTENANCE, plus_interval(doses[-1])
        because["phase"] = ("SCHED-MAINT",)
        because["next_injection_due"] = tuple(dict.fromkeys(("SCHED-MAINT", *interval_because)))
    rules += because["phase"]
    rules += because["next_injection_due"]
    if not oral:
        because["maintenance_interval_days" if days else "maintenance_interval_months"] = interval_because
        because["suggested_interval_months"] = suggested_because
        # Before maintenance the profile's own interval is only a forecast, not SCHED-MAINT at work.
        rules.extend(rule_id for rule_id in interval_because if phase == MAINTENANCE or rule_id != "SCHED-MAINT")

    # Maintenance start M: the first injection after loading, or the date it is due.
    maintenance_start: date | None = None
    if loading_done:
        maintenance_start = doses[loading_n] if count > loading_n else plus_interval(doses[loading_n - 1])

    # --- Labs and symptoms.
    labs = _gather_labs(facts.labs)
    b12s = labs.b12
    latest_b12 = b12s[-1] if b12s else None
    latest_b12_cat = b12_category(latest_b12.value, profile) if latest_b12 else None
    monitoring_b12 = [lab for lab in b12s if lab.date >= maintenance_start] if maintenance_start else []
    checks = sorted(facts.symptoms, key=_BY_DATE)
    latest_check = checks[-1] if checks else None
    symptoms_persist = bool(latest_check and (latest_check.neurological or latest_check.depression))
    persist_with_normal_b12 = symptoms_persist and latest_b12_cat == NORMAL

    # --- Next recheck: first what the MON-* rules say...
    next_recheck: date | None = None
    recheck_because: list[str] = []
    caps_applied: list[str] = []
    anchor: date | None = None  # the date the MON-* caps count from
    if oral:
        assert regimen.oral_since is not None
        since_oral = [lab for lab in b12s if lab.date >= regimen.oral_since]
        anchor = since_oral[-1].date if since_oral else regimen.oral_since
        next_recheck = add_months(anchor, profile.oral_recheck_months)
        recheck_because.append("MON-ORAL")
    elif maintenance_start is not None:
        latest_monitoring = monitoring_b12[-1].date if monitoring_b12 else None
        anchor = latest_monitoring or maintenance_start
        window = timedelta(days=profile.recheck_window_days)
        if profile.monitoring_pathway == FIRST_YEAR:
            schedule, pathway_rule = profile.first_year_check_months, "MON-FIRST-YEAR"
        else:
            schedule, pathway_rule = (profile.until_stable_first_check_months,), "MON-UNTIL-STABLE"
        recheck_because.append(pathway_rule)
        for months in schedule:
            due = add_months(maintenance_start, months)
            if latest_monitoring is None or latest_monitoring < due - window:
                next_recheck = due
                break
        if next_recheck is None:
            assert latest_monitoring is not None  # every scheduled check is done, so one exists
            stable = len(monitoring_b12) >= 2 and all(
                b12_category(lab.value, profile) == NORMAL for lab in monitoring_b12[-2:]
            )
            months = profile.stable_recheck_months if stable else profile.unstable_recheck_months
            next_recheck = add_months(latest_monitoring, months)
            recheck_because.append("MON-STABLE")
    if next_recheck is not None and anchor is not None:
        high_risk = (
            patient.neurological_involvement
            or persist_with_normal_b12
            or (bariatric and patient.pregnancy == "planning")
        )
        caps = []
        if high_risk:
            caps.append(("MON-HIGH-RISK", profile.high_risk_max_gap_months))
        if bariatric:
            caps.append(("MON-BARIATRIC", profile.bariatric_max_gap_months))
        if pregnant_bariatric:
            caps.append(("MON-PREGNANCY-BARIATRIC", profile.pregnancy_bariatric_gap_months))
        for rule_id, months in caps:
            caps_applied.append(rule_id)
            limit = add_months(anchor, months)
            if limit < next_recheck:
                next_recheck = limit
                recheck_because.append(rule_id)
    rules_recheck = next_recheck
    # ...then MON-OVERRIDE: the physician's date wins until a B12 drawn from the window before it.
    override_in_force = False
    if regimen.recheck_on is not None and phase in (MAINTENANCE, ORAL):
        spent_from = regimen.recheck_on - timedelta(days=profile.recheck_window_days)
        override_in_force = not any(lab.date >= spent_from for lab in b12s)
    if override_in_force:
        assert regimen.recheck_on is not None
        next_recheck = regimen.recheck_on
        if rules_recheck is not None:
            because["rules_recheck_due"] = tuple(dict.fromkeys(recheck_because))
        because["next_recheck_due"] = ("MON-OVERRIDE",)
        rules.append("MON-OVERRIDE")
    elif next_recheck is not None:
        because["next_recheck_due"] = tuple(dict.fromkeys(recheck_because))
        rules.extend(caps_applied)
        rules.extend(recheck_because)

    # --- Labs to draw at that recheck.
    recheck_labs: tuple[str, ...] = ()
    if next_recheck is not None:
        to_draw = ["b12", "cbc", "iron"]
        labs_because = list(because["next_recheck_due"])
        if latest_b12_cat == BORDERLINE or persist_with_normal_b12:
            to_draw += ["mma", "homocysteine"]
            labs_because.append("MON-FUNCTIONAL")
        if profile.homocysteine_every_recheck and "homocysteine" not in to_draw:
            to_draw.append("homocysteine")
        if bariatric:
            to_draw.append("bariatric_panel")
            labs_because.append("MON-BARIATRIC")
        recheck_labs = tuple(sorted(to_draw))
        because["recheck_labs"] = tuple(dict.fromkeys(labs_because))
        rules.extend(labs_because)

    # --- May injections ever stop?
    discontinuation = _discontinuation(
        facts,
        profile,
        codes,
        ileal_long,
        crohn_long,
        bariatric,
        loading_done,
        first_dose,
        latest_b12_cat,
        labs,
        latest_check,
    )
    because["discontinuation"] = discontinuation.rules
    rules.extend(discontinuation.rules)

    # --- Alerts.
    alerts = _alerts(
        facts,
        profile,
        phase,
        loading_completed_on,
        labs,
        monitoring_b12,
        latest_b12,
        latest_b12_cat,
        checks,
        symptoms_persist,
        bariatric,
        pregnant_bariatric,
        next_injection,
        next_recheck,
    )
    rules.extend(alert.rule for alert in alerts)

    return Evaluation(
        as_of=as_of,
        profile=profile.slug,
        profile_version=profile.version,
        phase=phase,
        loading_doses_given=loading_given,
        maintenance_interval_months=None if oral else interval,
        maintenance_interval_days=None if oral else days,
        suggested_interval_months=None if oral else suggested,
        maintenance_start=maintenance_start,
        next_injection_due=next_injection,
        next_recheck_due=next_recheck,
        recheck_labs=recheck_labs,
        discontinuation=discontinuation,
        alerts=alerts,
        rules=tuple(dict.fromkeys(rules)),
        because=because,
        latest_b12=latest_b12.value if latest_b12 else None,
        latest_b12_category=latest_b12_cat,
        recheck_override_in_force=override_in_force,
        rules_recheck_due=rules_recheck,
    )


def _discontinuation(
    facts: Facts,
    profile: Profile,
    codes: set[str],
    ileal_long: bool,
    crohn_long: bool,
    bariatric: bool,
    loading_done: bool,
    first_dose: date | None,
    latest_b12_cat: str | None,
    labs: _Labs,
    latest_check: SymptomFact | None,
) -> Discontinuation:
    as_of, patient = facts.as_of, facts.patient
    permanent = []
    if "pernicious_anemia" in codes:
        permanent.append("STOP-PERNICIOUS")
    if ileal_long:
        permanent.append("STOP-ILEAL")
    if bariatric:
        permanent.append("STOP-BARIATRIC")
    if crohn_long:
        permanent.append("STOP-CROHN")
    if (
        profile.age_rule_enabled
        and patient.birth_date is not None
        and completed_years(patient.birth_date, as_of) > profile.age_over_years
    ):
        permanent.append("STOP-AGE")
    # STOP-DRUG is a fact about the drug: it applies, and is listed, whatever else holds.
    drug = any(
        cause.code in ("ppi", "metformin")
        and cause.start is not None
        and add_months(cause.start, profile.drug_cause_months) < as_of
        and (cause.stop is None or cause.stop > as_of)
        for cause in patient.causes
    )
    if permanent:
        return Discontinuation(LIFELONG, (*permanent, "STOP-DRUG") if drug else tuple(permanent))

    reasons = ["STOP-DRUG"] if drug else []
    if not codes:
        reasons.append("STOP-CAUSE-UNKNOWN")
    if codes - {"dietary"}:
        reasons.append("STOP-OTHER-CAUSE")
    if reasons:
        return Discontinuation(CONTINUE, tuple(reasons))

    # Diet is the only cause: STOP-DIETARY-ORAL when every condition holds, else STOP-NOT-YET.
    unmet = []
    if not loading_done:
        unmet.append("loading")
    if latest_b12_cat != NORMAL:
        unmet.append("b12_normal")
    markers = [lab for lab in (labs.latest.get("mma"), labs.latest.get("homocysteine")) if lab is not None]
    confirmed = (
        bool(markers)
        and first_dose is not None
        and any(lab.date >= first_dose for lab in markers)
        and all(_within_target(lab, profile) for lab in markers)
    )
    if not confirmed:
        unmet.append("functional_marker")
    if patient.dietary_intake_adequate is not True:
        unmet.append("dietary_intake")
    if latest_check is None or latest_check.neurological:
        unmet.append("neurological_symptoms")
    if unmet:
        return Discontinuation(CONTINUE, ("STOP-NOT-YET",), tuple(unmet))
    return Discontinuation(ORAL_SWITCH_CANDIDATE, ("STOP-DIETARY-ORAL",))


def _within_target(lab: LabFact, profile: Profile) -> bool:
    limit = profile.mma_high_at if lab.analyte == "mma" else profile.homocysteine_high_at
    return lab.value < limit


def _fmt(value: Decimal) -> str:
    """A canonical value for display: to 4 decimal places at most, 'about' when that rounded it."""
    with localcontext() as context:
        context.prec = 2 * EXACT_DIGITS
        exponent = value.as_tuple().exponent
        shown = round_for_storage(value) if isinstance(exponent, int) and exponent < -4 else value
    text = f"{shown.normalize():f}"
    return text if shown == value else f"about {text}"


def _shown(lab: LabFact) -> str:
    """A lab value for a message: as entered when known, with the canonical value beside it when the
    unit differs (rounding is display only: the rules compared the exact value)."""
    canonical = f"{_fmt(lab.value)} {canonical_unit(lab.analyte)}"
    if lab.value_entered is None or not lab.unit_entered or lab.unit_entered == canonical_unit(lab.analyte):
        return f"{written(lab.value_entered)} {lab.unit_entered}" if lab.value_entered is not None else canonical
    return f"{written(lab.value_entered)} {lab.unit_entered} ({canonical})"


def _alerts(
    facts: Facts,
    profile: Profile,
    phase: str,
    loading_completed_on: date | None,
    labs: _Labs,
    monitoring_b12: list[LabFact],
    latest_b12: LabFact | None,
    latest_b12_cat: str | None,
    checks: list[SymptomFact],
    symptoms_persist: bool,
    bariatric: bool,
    pregnant_bariatric: bool,
    next_injection: date | None,
    next_recheck: date | None,
) -> tuple[Alert, ...]:
    as_of = facts.as_of
    found: list[tuple[str, str]] = []

    folic = [med for med in facts.medications if med.name == FOLIC_ACID]
    early = [med for med in folic if loading_completed_on is None or med.start < loading_completed_on]
    if early:
        found.append(
            (
                "ALERT-FOLIC-BEFORE-B12",
                f"Folic acid started on {early[0].start.isoformat()}, before the "
                f"{profile.loading_doses} loading doses of B12 were complete: it can mask anemia while nerve damage "
                "progresses.",
            )
        )
    active = [med for med in folic if med.start <= as_of and (med.stop is None or med.stop > as_of)]
    low_folate = labs.lowest_folate is not None and labs.lowest_folate < profile.folate_low_below
    if active and not low_folate:
        found.append(("ALERT-FOLIC-NO-DEFICIENCY", "Folic acid is active but no low folate result is on record."))

    if monitoring_b12 and b12_category(monitoring_b12[-1].value, profile) == LOW:
        lab = monitoring_b12[-1]
        found.append(
            (
                "ALERT-B12-LOW",
                f"B12 of {_shown(lab)} on {lab.date.isoformat()} is low despite maintenance: treatment failure?",
            )
        )
    if latest_b12 is not None and latest_b12_cat == BORDERLINE:
        found.append(
            (
                "ALERT-B12-BORDERLINE",
                f"Latest B12 of {_shown(latest_b12)} on {latest_b12.date.isoformat()} is borderline: order MMA.",
            )
        )
    mma, hcy = labs.latest.get("mma"), labs.latest.get("homocysteine")
    high = [lab for lab in (mma, hcy) if lab is not None and not _within_target(lab, profile)]
    if high:
        names = " and ".join(
            f"{'MMA' if lab.analyte == 'mma' else 'homocysteine'} {_shown(lab)} on {lab.date.isoformat()}"
            for lab in high
        )
        found.append(("ALERT-FUNCTIONAL-DEFICIENCY", f"Latest {names} above target: functional deficiency."))
    if symptoms_persist and latest_b12_cat == NORMAL:
        found.append(("ALERT-SYMPTOMS-NORMAL-B12", "Symptoms persist while the latest B12 is normal: check MMA."))
    if phase == MAINTENANCE and checks and checks[-1].neurological:
        found.append(
            (
                "ALERT-NEURO-PERSISTENT",
                "Neurological symptoms in maintenance: consider injections every 2 weeks or weekly (physician decides).",
            )
        )
    recurred = [
        name
        for name, attr in (("neurological", "neurological"), ("depressive", "depression"))
        if _recurred(checks, attr)
    ]
    if recurred:
        found.append(
            (
                "ALERT-SYMPTOMS-RECURRED",
                f"{' and '.join(recurred).capitalize()} symptoms have come back after resolving: "
                "consider more frequent injections.",
            )
        )
    ferritin, tsat = labs.latest.get("ferritin"), labs.latest.get("transferrin_saturation")
    iron_low = []
    if ferritin is not None and ferritin.value < profile.ferritin_low_below:
        iron_low.append(f"ferritin {_shown(ferritin)}")
    if tsat is not None and tsat.value < profile.tsat_low_below:
        iron_low.append(f"transferrin saturation {_shown(tsat)}")
    if iron_low:
        found.append(("ALERT-IRON-DEFICIENCY", f"Low {' and '.join(iron_low)}: iron deficiency blunts the response."))
    vitamin_d = labs.latest.get("vitamin_d")
    if bariatric and vitamin_d is not None and vitamin_d.value < profile.vitamin_d_low_below:
        found.append(
            (
                "ALERT-VITAMIN-D-LOW",
                f"Vitamin D {_shown(vitamin_d)} on {vitamin_d.date.isoformat()} is below target after "
                "bariatric surgery.",
            )
        )
    if next_injection is not None and as_of > next_injection:
        days = (as_of - next_injection).days
        found.append(
            (
                "ALERT-INJECTION-OVERDUE",
                f"Injection overdue by {days} day{'s' if days != 1 else ''} (due {next_injection.isoformat()}).",
            )
        )
    if next_recheck is not None and as_of > next_recheck:
        days = (as_of - next_recheck).days
        found.append(
            (
                "ALERT-RECHECK-OVERDUE",
                f"Lab recheck overdue by {days} day{'s' if days != 1 else ''} (due {next_recheck.isoformat()}).",
            )
        )
    if pregnant_bariatric:
        found.append(
            (
                "ALERT-PREGNANCY-BARIATRIC",
                "Pregnant after bariatric surgery: B12 each trimester with the nutritional panel.",
            )
        )
    alerts = [Alert(rule_id, ALERT_SEVERITY[rule_id], message) for rule_id, message in found]
    alerts.sort(key=lambda alert: SEVERITY_ORDER[alert.severity])  # stable: guidance order within a severity
    return tuple(alerts)
