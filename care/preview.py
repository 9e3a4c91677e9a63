"""The preview of a protocol change: what a draft would change for every patient on its profile.

Reads only. For each chunk of patients it loads the engine's facts (care.facts), takes the outcome
under the version in force and evaluates the draft, and compares the two with the pure
protocols.engine.compare. The outcome in force is the stored care status when that was evaluated
today with the version in force (what publishing would overwrite, and the same evaluation: statuses
are rewritten with every change of the facts), and an evaluation otherwise, so the preview costs one
evaluation a patient after the nightly refresh. On PostgreSQL each chunk's queries run one chunk
ahead on a reader thread (`_reader`), so the database works on the other core meanwhile. Nothing is
written here (care.services writes); `profile_run_execute` records the counts on the run's row.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from django.db import connection, connections
from django.db.models import QuerySet
from django.utils import timezone

from care.facts import BulkRows, FactCache, bulk_rows, facts_by_patient, facts_from_rows
from care.models import CareAlert, CareStatus, ProfileRun
from care.services import care_status_refresh_all
from patients.models import Patient
from protocols.engine.compare import Change, Outcome, Tally, compare
from protocols.engine.evaluate import evaluate
from protocols.engine.profiles import Profile
from protocols.models import ProtocolProfile
from protocols.selectors import profile_from_settings, profile_to_engine

Progress = Callable[[int, int], None]
CHUNK = 2000


@dataclass
class Preview:
    tally: Tally = field(default_factory=Tally)
    # (patient id, outcome in force, outcome of the draft, change): the changed patients only.
    changes: list[tuple[int, Outcome, Outcome, Change]] = field(default_factory=list)
    evaluated_in_force: int = 0  # patients whose stored status could not stand for the version in force
    load_s: float = 0.0  # reading the facts and the stored outcomes
    evaluate_s: float = 0.0  # the engine and the comparison, facts in memory


def patients_on(profile: ProtocolProfile) -> QuerySet[Patient]:
    """Every patient on the profile, discharged ones too: publishing re-evaluates them all."""
    return Patient.objects.filter(regimen__profile=profile)


def _stored_outcomes(ids: list[int], *, as_of: datetime.date, profile: Profile) -> dict[int, Outcome]:
    """The stored outcomes that are today's evaluation with the version in force (two queries over
    the chunk's id range: cheaper to build than a list of 2,000 parameters)."""
    wanted, first, last = set(ids), min(ids), max(ids)
    alerts: dict[int, set[str]] = defaultdict(set)
    for pid, rule in CareAlert.objects.filter(patient_id__gte=first, patient_id__lte=last).values_list(
        "patient_id", "rule"
    ):
        alerts[pid].add(rule)
    return {
        pid: Outcome(injection, recheck, verdict, frozenset(alerts[pid]))
        for pid, injection, recheck, verdict in CareStatus.objects.filter(
            patient_id__gte=first,
            patient_id__lte=last,
            profile__slug=profile.slug,
            profile_version=profile.version,
            as_of=as_of,
        ).values_list("patient_id", "next_injection_due", "next_recheck_due", "verdict")
        if pid in wanted
    }


def profile_preview(
    *,
    profile: ProtocolProfile,
    new: Profile,
    as_of: datetime.date | None = None,
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
    use_stored: bool = True,
) -> Preview:
    """What publishing `new` as `profile`'s next version would change, patient by patient.

    `progress(done, total)` is called after each chunk. With `use_stored` False the version in force
    is evaluated for every patient (twice the engine's work; the same result while the stored
    statuses are current)."""
    with _collector_paused():
        return _preview(profile, new, as_of or timezone.localdate(), progress, chunk_size, use_stored)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the run: it would walk the hundreds of thousands of
    fact objects alive at a time again and again (a third of the loading time), and facts hold no
    cycles (frozen dataclasses and tuples, freed by reference counting as each chunk goes)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _preview(
    profile: ProtocolProfile,
    new: Profile,
    as_of: datetime.date,
    progress: Progress | None,
    chunk_size: int,
    use_stored: bool,
) -> Preview:
    old = profile_to_engine(profile)
    ids = list(patients_on(profile).order_by("pk").values_list("pk", flat=True))
    inactive = set(patients_on(profile).filter(is_active=False).values_list("pk", flat=True))
    chunks = [ids[start : start + chunk_size] for start in range(0, len(ids), chunk_size)]
    read = partial(_read_chunk, as_of=as_of, profile=old, use_stored=use_stored, zone=timezone.get_current_timezone())
    preview, cache, done = Preview(), FactCache(), 0
    if progress:
        progress(0, len(ids))
    with _reader() as submit:
        ahead = submit(partial(read, chunks[0])) if chunks else None
        for position, chunk in enumerate(chunks):
            started = time.perf_counter()
            rows, stored = ahead.result()  # type: ignore[union-attr]
            if position + 1 < len(chunks):  # the next chunk's queries, while this one is evaluated
                ahead = submit(partial(read, chunks[position + 1]))
            loaded = (
                facts_from_rows(rows, as_of=as_of, cache=cache)
                if rows is not None
                else facts_by_patient(chunk, as_of=as_of)
            )
            evaluating = time.perf_counter()
            preview.load_s += evaluating - started
            for pid, facts in loaded.items():
                in_care = pid not in inactive
                before = stored.get(pid)
                if before is None:
                    before = Outcome.of(evaluate(facts, old), in_care=in_care)
                    preview.evaluated_in_force += 1
                after = Outcome.of(evaluate(facts, new), in_care=in_care)
                change = compare(before, after)
                preview.tally.add(change)
                if change:
                    preview.changes.append((pid, before, after, change))
            preview.evaluate_s += time.perf_counter() - evaluating
            done += len(chunk)
            if progress:
                progress(done, len(ids))
    return preview


def _read_chunk(
    chunk: list[int], *, as_of: datetime.date, profile: Profile, use_stored: bool, zone: datetime.tzinfo
) -> tuple[BulkRows | None, dict[int, Outcome]]:
    """A chunk's queries: the stored outcomes and, on PostgreSQL, the rows its facts are built from
    (None elsewhere: the facts are then read row by row). In the clinic's time zone of the caller (an
    injection's day), whichever thread runs it."""
    with timezone.override(zone):
        stored = _stored_outcomes(chunk, as_of=as_of, profile=profile) if use_stored else {}
        return (bulk_rows(chunk) if connection.vendor == "postgresql" else None), stored


T = TypeVar("T")


@contextlib.contextmanager
def _reader() -> Iterator[Callable[[Callable[[], T]], Future[T]]]:
    """Where the chunks' queries run: on a thread of its own, one chunk ahead, so that PostgreSQL
    reads and aggregates the next chunk on the other core while this thread evaluates the current
    one (the queries are about a third of a preview's time). That thread has its own database
    connection, which sees only committed data: so inside a transaction (a test's, or a caller's
    atomic block) the queries run here, in order, as before."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield _run_now
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview-reader") as pool:
        try:
            yield pool.submit
        finally:
            pool.submit(connections.close_all).result()  # the reader thread's own connection


def _run_now(work: Callable[[], T]) -> Future[T]:
    done: Future[T] = Future()
    try:
        done.set_result(work())
    except BaseException as error:  # raised where the result is read, as from the thread
        done.set_exception(error)
    return done


def _outcome_row(outcome: Outcome) -> dict[str, object]:
    return {
        "next_injection_due": outcome.next_injection_due.isoformat() if outcome.next_injection_due else None,
        "next_recheck_due": outcome.next_recheck_due.isoformat() if outcome.next_recheck_due else None,
        "verdict": outcome.verdict,
        "alerts": sorted(outcome.alerts),
    }


def change_row(patient_id: int, before: Outcome, after: Outcome, change: Change) -> dict[str, object]:
    """One changed patient as stored on the run (JSON): both outcomes and how they differ."""
    return {
        "patient": patient_id,
        "before": _outcome_row(before),
        "after": _outcome_row(after),
        "next_injection": change.next_injection,
        "next_recheck": change.next_recheck,
        "verdict": list(change.verdict) if change.verdict else None,
        "alerts_added": list(change.alerts_added),
        "alerts_removed": list(change.alerts_removed),
    }


# The runs (Celery tasks: care.tasks) -----------------------------------------------------------------


def _claim(run_id: int) -> ProfileRun | None:
    """The queued run, now running; None when another delivery of the task already took it."""
    if not ProfileRun.objects.filter(pk=run_id, status=ProfileRun.Status.QUEUED).update(
        status=ProfileRun.Status.RUNNING
    ):
        return None
    return ProfileRun.objects.select_related("profile").get(pk=run_id)


def _progress(run_id: int) -> Progress:
    # The run's own row, outside any transaction: the page polling it sees each chunk.
    def report(done: int, total: int) -> None:
        ProfileRun.objects.filter(pk=run_id).update(done=done, total=total)

    return report


def profile_run_execute(*, run_id: int) -> str:
    """Run a queued preview or publication and record its outcome on the run.

    A preview evaluates the draft's settings it was given (the run's `settings`) against the version
    in force and stores the counts and the changed patients; a publication re-evaluates every patient
    on the profile with the version now in force, chunk by chunk."""
    run = _claim(run_id)
    if run is None:
        return "already claimed"
    try:
        if run.kind == ProfileRun.Kind.PREVIEW:
            preview = profile_preview(
                profile=run.profile,
                new=profile_from_settings(run.profile, run.settings),
                as_of=run.as_of,
                progress=_progress(run.pk),
            )
            fields: dict[str, object] = {
                "counts": preview.tally.as_dict(),
                "changes": [change_row(*changed) for changed in preview.changes],
            }
        else:
            summary = care_status_refresh_all(
                today=run.as_of, patients=patients_on(run.profile), progress=_progress(run.pk)
            )
            fields = {"counts": {"patients": summary.patients, "alerts": summary.alerts}}
    except Exception as error:
        ProfileRun.objects.filter(pk=run.pk).update(
            status=ProfileRun.Status.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now()
        )
        raise
    ProfileRun.objects.filter(pk=run.pk).update(status=ProfileRun.Status.DONE, finished_at=timezone.now(), **fields)
    return ProfileRun.Status.DONE


def summary_lines(counts: dict[str, Any]) -> list[str]:
    """The counts of a preview as plain lines (the command prints them)."""

    def moved(name: str) -> str:
        c = counts[name]
        return f"{c['earlier']} earlier, {c['later']} later, {c['added']} added, {c['removed']} removed"

    lines = [
        f"patients: {counts['patients']}, changed: {counts['changed']}",
        f"next injection: {moved('next_injection')}",
        f"next recheck: {moved('next_recheck')}",
        f"verdicts changed: {counts['verdicts_changed']}",
        *[f"  {transition}: {n}" for transition, n in counts["verdicts"].items()],
        f"alerts: {counts['alerts_appear']} appear, {counts['alerts_disappear']} disappear",
        *[f"  + {rule}: {n}" for rule, n in counts["alerts_added"].items()],
        *[f"  - {rule}: {n}" for rule, n in counts["alerts_removed"].items()],
    ]
    return lines
