"""One benchmark measurement in its own process (so its peak memory is its own); prints JSON.

    python bench/measure.py engine|refresh|preview|queries|sql|scan|emails|celery_emails|email_costs

Run by bench/run.py against the benchmark database; not part of the test suite.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b12clinic.settings")

import django  # noqa: E402

django.setup()

from django.utils import timezone  # noqa: E402


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def engine() -> dict[str, object]:
    """Evaluations per second on one core, facts already in memory (the engine alone)."""
    from care.facts import facts_by_patient
    from care.services import _Profiles
    from patients.models import Patient
    from protocols.engine.evaluate import evaluate

    ids = list(Patient.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    today = timezone.localdate()
    facts = []
    for start in range(0, len(ids), 2000):
        facts.extend(facts_by_patient(ids[start : start + 2000], as_of=today).values())
    profiles = _Profiles()
    pairs = [(f, profiles.for_facts(f)[1]) for f in facts]
    rows = sum(len(f.injections) + len(f.labs) + len(f.symptoms) for f in facts)
    # A million fact objects are alive: move them out of the collector's sight, so the timing is the
    # engine's and not Python's full garbage-collection passes over the loaded data.
    gc.collect()
    gc.freeze()
    best = None
    for _ in range(3):
        started = time.perf_counter()
        for f, profile in pairs:
            evaluate(f, profile)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return {
        "engine_patients_per_s": round(len(pairs) / best),
        "engine_us_per_patient": round(best / len(pairs) * 1e6, 1),
        "engine_facts_rows_per_patient": round(rows / len(pairs), 1),
    }


def refresh() -> dict[str, object]:
    from care.services import care_status_refresh_all

    started = time.perf_counter()
    summary = care_status_refresh_all()
    return {
        "refresh_all_s": round(time.perf_counter() - started, 2),
        "refresh_patients": summary.patients,
        "refresh_peak_rss_mb": peak_rss_mb(),
    }


def preview() -> dict[str, object]:
    """The preview of a protocol change (care.preview, as the page's Celery task runs it) over every
    patient on the default profile: facts loaded in chunks, the draft evaluated, compared with the
    outcome in force; nothing written. Also the same with the version in force evaluated too."""
    import dataclasses
    from decimal import Decimal

    from care.preview import profile_preview
    from protocols.engine.profiles import DEFAULT_PROFILE_SLUG
    from protocols.models import ProtocolProfile
    from protocols.selectors import profile_to_engine

    profile = ProtocolProfile.objects.get(slug=DEFAULT_PROFILE_SLUG)
    new = dataclasses.replace(
        profile_to_engine(profile),
        version=profile.version + 1,
        maintenance_interval_months=2,
        b12_low_below=Decimal(200),
        age_over_years=80,
    )
    figures: dict[str, object] = {}
    for key, use_stored in (("preview", True), ("preview_both_evaluated", False)):
        started = time.perf_counter()
        result = profile_preview(profile=profile, new=new, use_stored=use_stored)
        elapsed = time.perf_counter() - started
        figures[f"{key}_s"] = round(elapsed, 2)
        figures[f"{key}_patients_per_s"] = round(result.tally.patients / elapsed)
        if use_stored:
            figures["preview_load_s"] = round(result.load_s, 2)
            figures["preview_evaluate_s"] = round(result.evaluate_s, 2)
            figures["preview_evaluate_patients_per_s"] = round(result.tally.patients / result.evaluate_s)
            figures["preview_patients"] = result.tally.patients
            figures["preview_changed"] = result.tally.changed
            figures["preview_evaluated_in_force"] = result.evaluated_in_force
    figures["preview_peak_rss_mb"] = peak_rss_mb()
    return figures


def _physician():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import Clinic

    user, _ = get_user_model().objects.get_or_create(username="bench-physician")
    user.groups.add(Group.objects.get(name=roles.PHYSICIAN))
    user.clinics.add(*Clinic.objects.all())  # the pages of every clinic, as before clinics existed
    return user


def session() -> dict[str, object]:
    """A logged-in session for the HTTP client (it sends the cookie; no login form in the timings)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from patients.models import Injection

    user = _physician()
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    # Charts of patients with a long history (the heavy case), spread over the population.
    busy = list(Injection.objects.values_list("patient_id", flat=True).order_by("-given_at").distinct()[:5000])[::100][
        :50
    ]
    return {"cookie": f"{settings.SESSION_COOKIE_NAME}={store.session_key}", "chart_patients": busy}


def pages(patient_id: int) -> dict[str, str]:
    return {"dashboard": "/dashboard/", "worklist": "/worklist/", "chart": f"/patients/{patient_id}/"}


def queries(patient_id: str) -> dict[str, object]:
    """Queries per page, counted in-process with Django's test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(secure=True, HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    client.force_login(_physician())
    counts = {}
    for name, path in pages(int(patient_id)).items():
        client.get(path)  # warm
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        counts[f"{name}_queries"] = len(captured.captured_queries)
    return counts


_STATUS_ROW = """c.id, c.patient_id, c.next_injection_due, c.next_recheck_due, c.recheck_labs, c.verdict,
    c.verdict_rules, c.latest_b12, p.id, p.mrn, p.given_name, p.family_name, p.birth_date"""
_ACTIVE = "c.patient_active AND c.clinic_id IN ({clinics})"
_BY_DUE = "c.next_injection_due, p.family_name, p.given_name, c.id"
_BY_RECHECK = "c.next_recheck_due, p.family_name, p.given_name, c.id"
_COVERED = """EXISTS (SELECT 1 FROM clinic_decision d WHERE d.patient_id = a.patient_id AND d.kind = 'alert_acknowledged'
    AND d.alert_rule = a.rule AND d.alert_since >= a.since)"""
_AWAITING_ORAL = """c.verdict = 'oral_switch_candidate' AND c.phase <> 'oral' AND NOT EXISTS (
    SELECT 1 FROM clinic_decision d WHERE d.patient_id = c.patient_id AND d.kind = 'oral_switch_declined'
       AND NOT EXISTS (SELECT 1 FROM patients_labresult l WHERE l.patient_id = d.patient_id
                          AND l.entered_at > d.made_at AND l.voided_at IS NULL))"""
DASHBOARD_SQL = [
    # The dashboard's counts and lists for the user's clinics (10 rows each, as care.selectors.LIST_LIMIT),
    # written by hand with the same conditions, columns and order as the page's statements
    # (care.selectors): the floor that Django, the Python and the template stand on.
    f"""SELECT count(c.patient_id) FILTER (WHERE c.next_injection_due < %(today)s AND c.next_injection_due >= %(lost)s),
              count(c.patient_id) FILTER (WHERE c.next_injection_due < %(lost)s),
              count(c.patient_id) FILTER (WHERE c.next_recheck_due >= %(today)s AND c.next_recheck_due <= %(soon)s),
              count(c.patient_id) FILTER (WHERE c.next_recheck_due < %(today)s)
         FROM protocols_carestatus c WHERE {_ACTIVE}""",
    f"SELECT count(*) FROM protocols_carestatus c WHERE {_ACTIVE} AND {_AWAITING_ORAL}",
    # The unacknowledged alerts by severity: every alert, less the acknowledged ones found from the
    # acknowledgements' side (the anti-join took about 4 times as long).
    """SELECT a.severity, count(a.severity) FROM protocols_carealert a
        WHERE a.clinic_id IN ({clinics}) AND a.severity >= 2 GROUP BY a.severity""",
    f"""SELECT a.severity, count(a.severity) FROM protocols_carealert a
        WHERE a.clinic_id IN ({{clinics}}) AND a.severity >= 2
          AND a.patient_id IN (SELECT patient_id FROM clinic_decision WHERE kind = 'alert_acknowledged')
          AND {_COVERED} GROUP BY a.severity""",
    *(
        f"""SELECT {_STATUS_ROW} FROM protocols_carestatus c JOIN patients_patient p ON p.id = c.patient_id
            WHERE {_ACTIVE} AND {condition} ORDER BY {order} LIMIT 10"""
        for condition, order in (
            ("c.next_injection_due < %(today)s AND c.next_injection_due >= %(lost)s", _BY_DUE),
            ("c.next_injection_due < %(lost)s", _BY_DUE),
            ("c.next_recheck_due >= %(today)s AND c.next_recheck_due <= %(soon)s", _BY_RECHECK),
            ("c.next_recheck_due < %(today)s", _BY_RECHECK),
            (_AWAITING_ORAL, "p.family_name, p.given_name, c.id"),
        )
    ),
    f"""SELECT a.id, a.patient_id, a.rule, a.severity, a.since, a.message,
               p.id, p.mrn, p.given_name, p.family_name, p.birth_date
         FROM protocols_carealert a JOIN patients_patient p ON p.id = a.patient_id
        WHERE a.clinic_id IN ({{clinics}}) AND a.severity >= 2 AND NOT {_COVERED}
        ORDER BY a.severity DESC, a.since, a.id LIMIT 10""",
    # The cards the dashboard has shown since issues 14, 15 and 17: reminders that failed for good,
    # unmatched lab results waiting in the queue, the outreach measures of this month and the last.
    """SELECT count(*) FROM reminders_reminder r JOIN patients_patient p ON p.id = r.patient_id
        WHERE r.status = 'failed' AND p.clinic_id IN ({clinics})""",
    """SELECT count(*) FROM labs_in_receivedresult r LEFT JOIN patients_patient p ON p.id = r.patient_id
         JOIN labs_in_receivedmessage m ON m.id = r.message_id
        WHERE r.status = 'pending' AND (p.clinic_id IN ({clinics})
              OR (r.patient_id IS NULL AND (m.clinic_id IN ({clinics}) OR m.clinic_id IS NULL)))""",
    """SELECT c.patient_id, p.clinic_id, c.at, c.outcome FROM outreach_contactattempt c
         JOIN patients_patient p ON p.id = c.patient_id WHERE c.at >= %(month)s AND p.clinic_id IN ({clinics})""",
]


def sql(requests: str = "200") -> dict[str, object]:
    """The hand-written SQL's time for the dashboard's counts and lists (fetching every row), measured
    the way the page is: as many runs as the page has requests, the median (and the best)."""
    import datetime
    import statistics

    from django.db import connection

    from outreach.measures import report_since

    today = timezone.localdate()
    params = {
        "today": today,
        "lost": today - datetime.timedelta(days=60),
        "soon": today + datetime.timedelta(days=14),
        "month": datetime.datetime.combine(
            report_since(today, 2), datetime.time(0), tzinfo=timezone.get_current_timezone()
        ),
    }
    from accounts.clinics import clinics_of

    clinics = ", ".join(str(pk) for pk in clinics_of(_physician()).values_list("pk", flat=True))
    statements = [statement.format(clinics=clinics) for statement in DASHBOARD_SQL]
    timings = []
    with connection.cursor() as cursor:
        for _ in range(5 + int(requests)):  # 5 warm-up runs, as the page has 5 warm-up requests
            started = time.perf_counter()
            for statement in statements:
                cursor.execute(statement, params)
                cursor.fetchall()
            timings.append(time.perf_counter() - started)
    timings = timings[5:]
    return {
        "dashboard_sql_ms": round(statistics.median(timings) * 1000, 2),
        "dashboard_sql_best_ms": round(min(timings) * 1000, 2),
    }


def _send_all_day() -> None:
    from reminders.models import ReminderSettings

    config = ReminderSettings.load()
    config.window_start_hour, config.window_end_hour = 0, 24  # the bench clinic sends at any hour
    config.save()


def scan() -> dict[str, object]:
    """One reminder scan creating the due rows, now (the bench clinic's send window is all day)."""
    from reminders.outbox import reminders_scan

    _send_all_day()
    started = time.perf_counter()
    result = reminders_scan(now=timezone.now(), enqueue=False)
    return {
        "scan_s": round(time.perf_counter() - started, 3),
        "scan_created": result.created,
        "scan_skipped": result.skipped,
        "scan_due_ids": len(result.due_ids),
    }


def _batches(ids: list[int]) -> list[list[int]]:
    from django.conf import settings

    size = settings.SEND_BATCH_SIZE
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def emails() -> dict[str, object]:
    """Send every ready reminder to the SMTP sink named by EMAIL_HOST/EMAIL_PORT, in one process, in
    batches of SEND_BATCH_SIZE (the `send_reminders` path)."""
    from reminders.outbox import reminders_send

    ids = _reset_sent()
    started = time.perf_counter()
    outcomes: dict[str, int] = {}
    for batch in _batches(ids):
        for outcome in reminders_send(reminder_ids=batch, now=timezone.now()).values():
            outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
    elapsed = time.perf_counter() - started
    return {
        "emails_sent": outcomes.get("sent", 0),
        "emails_per_s_one_process": round(outcomes.get("sent", 0) / elapsed, 1),
        "email_outcomes": outcomes,
    }


def _reset_sent() -> list[int]:
    """Rows sent by an earlier measure pending again (this is the benchmark's own database)."""
    from reminders.models import Reminder, Status

    _send_all_day()
    Reminder.objects.filter(status=Status.SENT).update(
        status=Status.PENDING, attempts=0, sent_at=None, enqueued_at=None, next_attempt_at=timezone.now()
    )
    return list(Reminder.objects.filter(status=Status.PENDING).order_by("pk").values_list("pk", flat=True))


def celery_emails(timeout: str = "600") -> dict[str, object]:
    """The real path: the ready reminders queued as the scan queues them (one batch task per
    SEND_BATCH_SIZE ids, after commit) and sent by the Celery workers that bench/run.py started (to the
    SMTP sink). Rows sent by the one-process measure are put back to pending first."""
    from django.conf import settings
    from django.db import transaction

    from reminders.models import Reminder, Status
    from reminders.sending import enqueue_batches_on_commit

    ids = _reset_sent()
    started = time.perf_counter()
    with transaction.atomic():
        enqueue_batches_on_commit(Reminder, ids, timezone.now())
    deadline = started + float(timeout)
    busy = Reminder.objects.filter(pk__in=ids, status__in=[Status.PENDING, Status.SENDING])
    while busy.exists() and time.perf_counter() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    sent = Reminder.objects.filter(pk__in=ids, status=Status.SENT).count()
    return {
        "emails_per_s": round(sent / elapsed, 1),
        "emails_sent_by_workers": sent,
        "emails_queued": len(ids),
        "send_batch_size": settings.SEND_BATCH_SIZE,
    }


def email_costs(count: str = "1000") -> dict[str, object]:
    """Where a batch's time goes, per email, in one process (milliseconds of wall time): the message's
    templates and opt-out link (`render`), its MIME bytes (`mime`), the SMTP exchange with the sink
    (`smtp`), the mark after the server accepted it (`db_mark`), and the rest, per batch (`batch_db`:
    the claim, the rows, the re-checks, the events and the record). Timers around the real functions.
    Also the CPU per email of this process and of its database server process."""
    import dataclasses
    from collections import defaultdict

    from django.db import connection

    from reminders import emails, sending
    from reminders.models import Reminder
    from reminders.outbox import REMINDERS

    spent: dict[str, float] = defaultdict(float)

    def timed(name, function):  # noqa: ANN001, ANN202
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    outbound = dataclasses.replace(REMINDERS, build=timed("render", REMINDERS.build))
    sending._mark_accepted = timed("db_mark", sending._mark_accepted)
    emails.Session.send = timed("smtp", emails.Session.send)  # the MIME bytes are made in here (wire_bytes)
    ids = _reset_sent()[: int(count)]
    with connection.cursor() as cursor:  # the database server's process serving this one
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    database_cpu, process_cpu = _cpu_seconds(backend), time.process_time()
    started = time.perf_counter()
    for batch in _batches(ids):
        sending.send_batch(outbound, batch, timezone.now())
    total = time.perf_counter() - started
    database_cpu, process_cpu = _cpu_seconds(backend) - database_cpu, time.process_time() - process_cpu
    rows = list(Reminder.objects.select_related("patient").filter(pk__in=ids))
    messages = [REMINDERS.build(row, timezone.now()) for row in rows]
    started = time.perf_counter()
    for message in messages:
        emails.wire_bytes(message)  # the bytes Session.send hands over
    mime = time.perf_counter() - started
    per = {
        "render": spent["render"],
        "mime": mime,
        "smtp": spent["smtp"] - mime,
        "db_mark": spent["db_mark"],
        "batch_db": total - spent["render"] - spent["smtp"] - spent["db_mark"],
        "total": total,
    }
    figures = {f"email_ms_{name}": round(seconds / len(ids) * 1000, 3) for name, seconds in per.items()}
    figures["email_cpu_ms_process"] = round(process_cpu / len(ids) * 1000, 3)
    figures["email_cpu_ms_database"] = round(database_cpu / len(ids) * 1000, 3)
    figures["email_costs_sent"] = len(ids)
    return figures


def _cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of a process on this machine (the database server's, for one)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_rows(patients: str = "2000") -> dict[str, object]:
    """The register import: `patients` patients of the bench population exported in FORMAT.md's files
    under new record numbers, imported through the actions (every row checked), then rolled back so
    the bench database stays as generated."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    from accounts import roles
    from accounts.models import Clinic
    from exchange.exports import clinic_export, csv_bytes
    from exchange.importer import Upload, import_register
    from patients.models import Patient

    admin, _ = get_user_model().objects.get_or_create(username="bench-admin")
    admin.groups.add(Group.objects.get(name=roles.CLINIC_ADMIN))
    clinic = Clinic.objects.order_by("pk").first()
    clinic.staff.add(admin)
    mine = Patient.objects.filter(clinic=clinic).order_by("pk").values("pk")[: int(patients)]
    chosen = Patient.objects.filter(pk__in=mine)
    files, _ = clinic_export(patients=chosen)
    for data in files.values():  # new patients, not the ones on record
        column = data.headers.index("mrn")
        rows = [list(row) for row in data]
        # generate_clinic may put today's doses later than now, and a planned medication start ahead:
        # not history, which the import refuses.
        now = f"{timezone.localtime():%Y-%m-%d %H:%M:%S}"
        for when in ("given_at", "collected_on", "checked_on"):
            if when in data.headers:
                moment = data.headers.index(when)
                rows = [row for row in rows if str(row[moment]) < now]
        if "name" in data.headers and "start" in data.headers:
            start = data.headers.index("start")
            rows = [row for row in rows if str(row[start]) <= now[:10]]
        renamed = [[f"IMP{v}" if i == column else v for i, v in enumerate(row)] for row in rows]
        data.dict = [dict(zip(data.headers, row, strict=True)) for row in renamed]
    uploads = [Upload(name, f"{name}.csv", csv_bytes(data)) for name, data in files.items()]
    marks: dict[str, float] = {}

    def mark(stage: str) -> Callable[[int, int], None]:
        return lambda done, total: marks.__setitem__(stage, time.perf_counter())

    started = time.perf_counter()
    with transaction.atomic():
        report = import_register(
            uploads,
            by=admin,
            clinic=clinic.name,
            accept_warnings=True,
            progress=mark("rows"),
            care_progress=mark("care"),
        )
        elapsed = time.perf_counter() - started
        # Every patient of the files is a new one, with its care status (else the figure measured
        # the re-import of patients already on record, which writes nothing).
        created = Patient.objects.filter(mrn__startswith="IMP").count()
        evaluated = Patient.objects.filter(mrn__startswith="IMP", care_status__isnull=False).count()
        transaction.set_rollback(True)
    assert report.saved, [str(p) for p in report.errors[:5]]
    assert created == evaluated == len(files["patients"]), (created, evaluated, len(files["patients"]))
    return {
        "import_patients": len(files["patients"]),
        "import_rows": report.rows,
        "import_s": round(elapsed, 1),
        # the rows read, checked and written; then the care statuses of every new patient
        "import_rows_s": round(marks.get("rows", started) - started, 1),
        "import_care_s": round(marks.get("care", marks.get("rows", started)) - marks.get("rows", started), 1),
        "import_rows_per_s": round(report.rows / elapsed, 1),
    }


MEASURES = {
    "email_costs": email_costs,
    "import_rows": import_rows,
    "celery_emails": celery_emails,
    "engine": engine,
    "refresh": refresh,
    "preview": preview,
    "session": session,
    "queries": queries,
    "sql": sql,
    "scan": scan,
    "emails": emails,
}

if __name__ == "__main__":
    print(json.dumps(MEASURES[sys.argv[1]](*sys.argv[2:])))
