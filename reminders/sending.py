"""Sending the outbox in batches: claim, hand over to the SMTP server, record; for any outbox model.

Every outbox model (an `OutboxMessage` subclass: the patient reminders, the staff digests, ...)
registers an `Outbound`: how to load its claimed rows, which of them no longer go (ending skipped or
cancelled), how to build each message and where its history goes. `send_batch` does for any of them
what one send task does:

1. **Claim**: the given rows that are pending and due -> `sending`, in one conditional
   `UPDATE ... RETURNING` on PostgreSQL (elsewhere a locking select, the same conditional update, and
   the claimed ids read back), committed together with the re-checks and one history event a row.
   Only the rows this claim changed are sent: a batch delivered twice, two scans and racing workers
   send each email once.
2. **Send**: one SMTP session for the batch (`emails.Session`), rows in ascending id order. Once the
   server accepted a message, its row is marked (`sent_at`, one short write) before the next message
   is handed over. A send error is recorded on its row at once: temporary -> pending with a backoff,
   permanent -> failed.
3. **Record**: the accepted rows -> `sent` in one UPDATE with their events, once per batch.

So at every moment, among the rows of one claim (one `claimed_at`) still `sending`: those with
`sent_at` were accepted by the server; of the others only the lowest id can have been handed over
(the message in flight); the rest never were. A worker killed mid-batch is repaired by the scan
(`recover_abandoned`) once the batch is certainly over: the accepted rows are recorded as sent (no
second copy), the never-handed-over ones are pending again, and the one that may have been in flight
waits for REMINDER_UNCONFIRMED_AFTER and goes again with its history saying so: one second copy at
most. Time is passed in (`now`); the database is retried while unreachable (`with_database_retry`).
"""

from __future__ import annotations

import datetime
import functools
import logging
import smtplib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connection, models, transaction
from django.db.models import F
from django.utils import timezone

from reminders import emails
from reminders.models import OutboxMessage, ReminderSettings, Status
from reminders.rules import MAX_ATTEMPTS, backoff, describe, is_temporary

logger = logging.getLogger(__name__)

SEND_BATCH_TASK = "reminders.tasks.send_batch"

# (row id, status, note) lines of history, written in bulk by the model's own history.
History = Callable[[Sequence[tuple[int, str, str]], datetime.datetime], None]


def no_history(entries: Sequence[tuple[int, str, str]], now: datetime.datetime) -> None:
    """For outbox models without a history table (the staff digest)."""


@dataclass(frozen=True)
class Outbound:
    """How the rows of one outbox model are sent; the generic path calls these for the model's parts.

    - `build(row, now)`: the message of a claimed row (it may raise: a database error releases the
      row, anything else fails it like a 5xx).
    - `load(ids)`: the claimed rows with what `build` and `stops` need (default: the rows alone).
    - `stops(rows, now)`: {id: (status, reason)} for claimed rows that must not go any more (checked
      in the claim's transaction), e.g. a patient who opted out; they end with that status.
    - `history(entries, now)`: record (id, status, note) lines in bulk, inside the caller's transaction.
    - `reason_field`: where a stopped row's reason goes. `send_window`: only inside the clinic's
      send window (ReminderSettings), for patient mail.
    """

    model: type[OutboxMessage]
    build: Callable[[OutboxMessage, datetime.datetime], EmailMultiAlternatives]
    load: Callable[[Sequence[int]], Iterable[OutboxMessage]] | None = None
    stops: Callable[[Sequence[OutboxMessage], datetime.datetime], dict[int, tuple[str, str]]] | None = None
    history: History = no_history
    reason_field: str = "last_error"
    send_window: bool = False

    @property
    def label(self) -> str:
        return self.model._meta.label_lower


_OUTBOUND: dict[str, Outbound] = {}


def register(outbound: Outbound) -> Outbound:
    """Make an outbox model sendable by the batch task and repaired by the scan (at import time)."""
    _OUTBOUND[outbound.label] = outbound
    return outbound


def outbound_for(model: type[OutboxMessage] | str) -> Outbound:
    label = model if isinstance(model, str) else model._meta.label_lower
    try:
        return _OUTBOUND[label]
    except KeyError:
        raise LookupError(f"no Outbound registered for {label!r}") from None


def _history_of(model: type[OutboxMessage]) -> History:
    outbound = _OUTBOUND.get(model._meta.label_lower)
    return outbound.history if outbound is not None else no_history


# Waits, and how staff read times ---------------------------------------------------------------------


def stuck_after() -> datetime.timedelta:
    """A row queued this long and not taken lost its message (with the broker): queue it again."""
    return datetime.timedelta(seconds=settings.REMINDER_STUCK_AFTER)


def unconfirmed_after() -> datetime.timedelta:
    """A row in `sending` this long was handed to the SMTP server and never recorded: send it again."""
    return datetime.timedelta(seconds=settings.REMINDER_UNCONFIRMED_AFTER)


def abandoned_after() -> datetime.timedelta:
    """A batch claimed this long ago is over, finished or its worker gone: twice the send task's hard
    time limit (a batch also stops handing messages over after `send_budget`, whatever the pool), and
    never later than the longer wait (so the repair always comes first). Settings keep both above the
    hard limit."""
    return min(datetime.timedelta(seconds=2 * settings.SEND_TASK_TIME_LIMIT), unconfirmed_after())


def send_budget() -> float:
    """Seconds a batch goes on handing messages over: the soft time limit less the record retry and
    one SMTP timeout, so that the last one is handed over, marked and recorded before the task is
    stopped. The rest is released (pending again). The first message of a batch always goes."""
    return float(
        settings.SEND_TASK_SOFT_TIME_LIMIT - settings.REMINDER_RECORD_RETRY_SECONDS - (settings.EMAIL_TIMEOUT or 0)
    )


def clock(instant: datetime.datetime) -> str:
    """A time of day as staff read it: clinic time (BST in summer, GMT in winter)."""
    return f"{timezone.localtime(instant):%H:%M}"


# Every row re-sent after the longer wait has an event (and, until sent, a last error) starting so:
# the operator's search for "sent, not recorded" rows (README, Reminders in production).
UNCONFIRMED = "sent, not recorded"


def unconfirmed_note(claimed_at: datetime.datetime) -> str:
    return (
        f"{UNCONFIRMED}: handed to the SMTP server at {clock(claimed_at)} and never recorded as sent "
        "(the worker or its database was lost); it may already have been delivered, so sending it "
        "again may give the patient a second copy"
    )


NEVER_HANDED_OVER = "requeued: claimed by a send batch that stopped before handing it to the SMTP server (not sent)"


# Queueing ------------------------------------------------------------------------------------------


def enqueue_batches_on_commit(model: type[OutboxMessage], ids: Sequence[int], now: datetime.datetime) -> None:
    """Mark the rows handed out and, after commit, publish one batch task per SEND_BATCH_SIZE ids."""
    if not ids:
        return
    model.objects.filter(pk__in=ids).update(enqueued_at=now)
    size = settings.SEND_BATCH_SIZE
    chunks = [list(ids[start : start + size]) for start in range(0, len(ids), size)]
    label = model._meta.label_lower
    transaction.on_commit(partial(_publish, model, [(SEND_BATCH_TASK, [label, chunk], chunk) for chunk in chunks]))


def _publish(model: type[OutboxMessage], tasks: list[tuple[str, list[object], list[int]]]) -> None:
    for position, (task_name, args, _) in enumerate(tasks):
        try:
            current_app.send_task(task_name, args=args)
        except Exception:  # the broker is down: the rest would fail the same way
            unsent = [pk for _, _, ids in tasks[position:] for pk in ids]
            logger.exception(
                "Could not queue %s %s row(s) (%s); they stay pending and the next scan queues them.",
                len(unsent),
                model.__name__,
                task_name,
            )
            model.objects.filter(pk__in=unsent, status=Status.PENDING).update(enqueued_at=None)
            return


# Claiming ------------------------------------------------------------------------------------------


def claim(model: type[OutboxMessage], pk: int, now: datetime.datetime) -> bool:
    """pending -> sending in one conditional UPDATE, committed before anything is sent (a rival's
    UPDATE waits for the row lock, then finds it no longer pending); True only for the one caller
    that changed the row."""
    return (
        model.objects.filter(pk=pk, status=Status.PENDING, next_attempt_at__lte=now).update(
            status=Status.SENDING, claimed_at=now, sent_at=None, attempts=F("attempts") + 1, updated_at=now
        )
        == 1
    )


def _column(model: type[models.Model], name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def claim_batch(model: type[OutboxMessage], ids: Sequence[int], now: datetime.datetime) -> list[int]:
    """The rows of `ids` that this call moved pending -> sending (due by `now`), in id order.

    PostgreSQL: one `UPDATE ... WHERE id = ANY(...) AND status = 'pending' ... RETURNING id`; a row a
    rival holds is waited for, then re-checked, so each row goes to one claim. Elsewhere (SQLite,
    whose transactions here begin IMMEDIATE and so run one at a time): the pending rows are selected
    (locked where the database can), updated with the same conditions, and read back."""
    if not ids:
        return []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(model._meta.db_table)
            pk, status = _column(model, model._meta.pk.name), _column(model, "status")
            attempts = _column(model, "attempts")
            sql = (
                f"UPDATE {table} SET {status} = %s, {_column(model, 'claimed_at')} = %s, "
                f"{_column(model, 'sent_at')} = NULL, {attempts} = {attempts} + 1, {_column(model, 'updated_at')} = %s "
                f"WHERE {pk} = ANY(%s) AND {status} = %s AND {_column(model, 'next_attempt_at')} <= %s RETURNING {pk}"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [Status.SENDING, now, now, list(ids), Status.PENDING, now])
                return sorted(row[0] for row in cursor.fetchall())
        due = model.objects.filter(pk__in=ids, status=Status.PENDING, next_attempt_at__lte=now)
        candidates = list(due.select_for_update().values_list("pk", flat=True))
        if not candidates:
            return []
        due.filter(pk__in=candidates).update(
            status=Status.SENDING, claimed_at=now, sent_at=None, attempts=F("attempts") + 1, updated_at=now
        )
        mine = model.objects.filter(pk__in=candidates, status=Status.SENDING, claimed_at=now)
        return sorted(mine.values_list("pk", flat=True))


# Results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    # sent, retry, failed, cancelled, skipped, not_claimed, outside_window; released (not sent: pending
    # again at once); unrecorded (sent or maybe sent, the result not stored: the longer wait applies);
    # not_sent (claimed, never handed over, left for the scan to put back: the database was away)
    status: str
    error: str = ""


_DATABASE_DOWN = (OperationalError, InterfaceError)


def _reconnect() -> None:
    """Drop this thread's broken database connection; the next query opens a new one (not inside an
    outer transaction, which only its owner may end)."""
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:  # closing a connection the server cut may fail; it is dropped either way
        pass


T = TypeVar("T")


def with_database_retry(write: Callable[[], T], *, what: str) -> T:
    """`write()` (one transaction), retried while the database is unreachable: reconnect, wait 0.1, 0.2,
    0.4 ... at most 2 s apart, for REMINDER_RECORD_RETRY_SECONDS; then the last error is raised."""
    deadline = time.monotonic() + settings.REMINDER_RECORD_RETRY_SECONDS
    delay = 0.1
    while True:
        try:
            return write()
        except _DATABASE_DOWN as error:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("%s: database unreachable, retrying in %.1f s: %s", what, delay, error)
            _reconnect()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _move(queryset: models.QuerySet[OutboxMessage], **values: object) -> list[int]:
    """Update the rows of `queryset`, locked first (inside the caller's transaction); the ids moved."""
    ids = list(queryset.select_for_update().values_list("pk", flat=True))
    if ids:
        queryset.model.objects.filter(pk__in=ids).update(**values)
    return ids


def release_batch(
    model: type[OutboxMessage], ids: Sequence[int], *, claimed_at: datetime.datetime, now: datetime.datetime, text: str
) -> bool:
    """Nothing of these rows reached the SMTP server: pending again at once, their attempt counted, for
    the next scan to queue; False when the database stayed away (the scan repairs them later).

    The claim may or may not have committed (a connection cut during COMMIT): either way a row is this
    claim's `sending` or still `pending`, and both are released."""
    ids = list(ids)
    logger.warning("%s %s: %s", model.__name__, ids if len(ids) > 1 else ids[0], text)

    def write() -> None:
        with transaction.atomic():
            moved = _move(
                model.objects.filter(pk__in=ids, status=Status.SENDING, claimed_at=claimed_at),
                status=Status.PENDING,
                next_attempt_at=now,
                enqueued_at=None,
                last_error=text,
                updated_at=now,
            )
            rest = sorted(set(ids) - set(moved))
            if rest:  # the claim was rolled back: count the attempt all the same
                moved += _move(
                    model.objects.filter(pk__in=rest, status=Status.PENDING, next_attempt_at__lte=now),
                    attempts=F("attempts") + 1,
                    enqueued_at=None,
                    last_error=text,
                    updated_at=now,
                )
            _history_of(model)([(pk, Status.PENDING, text) for pk in moved], now)

    try:
        with_database_retry(write, what=f"{model.__name__} {ids[0]}...: release")
    except _DATABASE_DOWN:
        logger.error(
            "%s %s: could not release (database unreachable); a later scan queues them again", model.__name__, ids
        )
        return False
    return True


def _store(
    row: OutboxMessage,
    now: datetime.datetime,
    record: Callable[[str, str], None],
    *,
    status: str,
    note: str,
    **values: object,
) -> bool:
    """Store the result of this claim's attempt on the row, with its history, in one transaction that
    is retried while the database is unreachable. The same conditional update each time (this claim's
    row, still `sending`), so a retry after a COMMIT that did happen changes nothing. False when
    another claim owns the row now."""
    model = type(row)
    claimed_at = row.claimed_at

    def write() -> bool:
        with transaction.atomic():
            mine = model.objects.filter(pk=row.pk, claimed_at=claimed_at, status=Status.SENDING)
            if mine.update(status=status, updated_at=now, **values):
                record(status, note)
                return True
            return model.objects.filter(pk=row.pk, claimed_at=claimed_at, status=status).exists()

    stored = with_database_retry(write, what=f"{model.__name__} {row.pk}: record {status}")
    row.status, row.updated_at = status, now
    for name, value in values.items():
        setattr(row, name, value)
    return stored


def _mid_send(error: BaseException) -> bool:
    return isinstance(error, smtplib.SMTPServerDisconnected | ConnectionError)


def _record_failure(
    row: OutboxMessage, now: datetime.datetime, record: Callable[[str, str], None], error: Exception, *, doubt: bool
) -> Outcome:
    """A message that could not be built or sent: temporary -> pending with a backoff, else failed."""
    name = f"{type(row).__name__} {row.pk}"
    text = describe(error)
    values: dict[str, object] = {}
    if is_temporary(error) and row.attempts < MAX_ATTEMPTS:
        retry_at = now + backoff(row.attempts)
        doubt_note = " (the connection was lost mid-send: the server may have it)" if doubt else ""
        result, status = Outcome("retry", text), Status.PENDING
        note = f"temporary error{doubt_note}, retry after {clock(retry_at)}: {text}"
        values = {"next_attempt_at": retry_at, "enqueued_at": None}
        logger.warning("%s: temporary send error, will retry: %s", name, text)
    else:
        result, status, note = Outcome("failed", text), Status.FAILED, text
        logger.error("%s: send failed for good: %s", name, text)
    try:
        _store(row, now, record, status=status, note=note, last_error=text, **values)
    except _DATABASE_DOWN as lost:
        logger.error(
            "%s: the send error could not be recorded (%s); the row stays 'sending' and is sent again after %s",
            name,
            describe(lost),
            unconfirmed_after(),
        )
        return Outcome("unrecorded", text)
    return result


def _mark_accepted(row: OutboxMessage, now: datetime.datetime) -> None:
    """The server accepted the message of `row`: say so on this claim's row before the next message of
    the batch is handed over (one statement, committed on its own).

    On PostgreSQL without waiting for the write-ahead log to reach the disk (`synchronous_commit` off
    for this statement's transaction alone; some 0.3 ms instead of 2-5 ms here): the mark is seen by
    every other session at once and survives the worker's death, and only a crash of the database
    server itself can lose the last fraction of a second of marks. Even then nothing is sent twice
    unless the worker dies too before the end of its batch, because the batch records its accepted
    rows from memory (`_record_sent`, a durable commit)."""
    model = type(row)
    if connection.vendor != "postgresql":
        model.objects.filter(pk=row.pk, claimed_at=row.claimed_at, status__in=[Status.SENDING, Status.PENDING]).update(
            sent_at=now
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(_mark_sql(model), [now, row.pk, row.claimed_at, Status.SENDING, Status.PENDING])


@functools.cache
def _mark_sql(model: type[OutboxMessage]) -> str:
    """`_mark_accepted`'s statement for `model` (PostgreSQL), made once."""
    table = connection.ops.quote_name(model._meta.db_table)
    status = _column(model, "status")
    return (
        "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)) "
        f"UPDATE {table} SET {_column(model, 'sent_at')} = %s FROM quick "
        f"WHERE {_column(model, model._meta.pk.name)} = %s AND {_column(model, 'claimed_at')} = %s "
        f"AND {status} IN (%s, %s)"
    )


def _record_sent(outbound: Outbound, rows: Sequence[OutboxMessage], now: datetime.datetime) -> dict[int, Outcome]:
    """The accepted rows of a batch -> sent, with their events: one transaction, retried while the
    database is unreachable. A row the requeue took back meanwhile (pending, nobody claimed it again)
    is recorded too. When the database stays away, the rows keep their marks and the scan records them
    (no second copy)."""
    model = outbound.model
    claims: dict[datetime.datetime, list[int]] = defaultdict(list)
    for row in rows:
        claims[row.claimed_at].append(row.pk)

    def write() -> set[int]:
        with transaction.atomic():
            moved: list[int] = []
            already: set[int] = set()
            for claimed_at, ids in claims.items():
                mine = model.objects.filter(pk__in=ids, claimed_at=claimed_at)
                moved += _move(
                    mine.filter(status__in=[Status.SENDING, Status.PENDING]),
                    status=Status.SENT,
                    sent_at=now,
                    last_error="",
                    updated_at=now,
                )
                # A retry after a COMMIT that did happen finds them sent by this claim.
                already |= set(mine.filter(status=Status.SENT).exclude(pk__in=moved).values_list("pk", flat=True))
            outbound.history([(pk, Status.SENT, "") for pk in moved], now)
            return set(moved) | already

    try:
        recorded = with_database_retry(write, what=f"{model.__name__} x{len(rows)}: record sent")
    except _DATABASE_DOWN as error:
        logger.error(
            "%s %s: accepted by the SMTP server at %s but not recorded as sent (%s); they are marked, and the "
            "scan records them after %s without sending them again",
            model.__name__,
            [row.pk for row in rows],
            clock(now),
            describe(error),
            abandoned_after(),
        )
        return {row.pk: Outcome("sent", describe(error)) for row in rows}
    for row in rows:
        if row.pk in recorded:
            row.status, row.sent_at, row.last_error, row.updated_at = Status.SENT, now, "", now
        else:
            logger.warning(
                "%s %s: sent, but another claim owns the row now; a second copy may go", model.__name__, row.pk
            )
    return {row.pk: Outcome("sent") for row in rows}


# Sending -------------------------------------------------------------------------------------------


def _send_one(
    outbound: Outbound, row: OutboxMessage, now: datetime.datetime, session: emails.Session
) -> tuple[Outcome, bool]:
    """Build and hand over the message of one claimed row, and settle it: marked as accepted, or its
    error recorded, or released. Also whether it is settled in the database (False: stop the batch)."""
    name = f"{type(row).__name__} {row.pk}"

    def record(status: str, note: str) -> None:
        outbound.history([(row.pk, status, note)], now)

    try:
        message = outbound.build(row, now)
        session.send(message)
    except _DATABASE_DOWN as error:  # while building: nothing was handed to SMTP
        text = f"not sent, released: {describe(error)}"[:2000]
        released = release_batch(type(row), [row.pk], claimed_at=row.claimed_at, now=now, text=text)
        return Outcome("released", text), released
    except Exception as error:
        outcome = _record_failure(row, now, record, error, doubt=_mid_send(error) and not session.never_opened(error))
        return outcome, outcome.status != "unrecorded"
    try:
        with_database_retry(partial(_mark_accepted, row, now), what=f"{name}: mark accepted")
    except BaseException as error:  # the database stayed away (or the task was stopped) after the server took it
        logger.error(
            "%s: %s: Message-ID %s was accepted by the SMTP server at %s but could not be recorded (%s); "
            "the row stays 'sending' and is sent again after %s",
            name,
            UNCONFIRMED,
            row.message_id,
            clock(now),
            describe(error),
            unconfirmed_after(),
        )
        if isinstance(error, _DATABASE_DOWN):
            return Outcome("unrecorded", describe(error)), False
        raise
    return Outcome("sent"), True


def _send_claimed(outbound: Outbound, rows: Sequence[OutboxMessage], now: datetime.datetime) -> dict[int, Outcome]:
    """Hand the messages of claimed rows (one claim) to the SMTP server over one session, in id order,
    each settled before the next goes; then record the accepted ones as sent, in bulk."""
    rows = sorted(rows, key=lambda row: row.pk)
    outcomes: dict[int, Outcome] = {}
    accepted: list[OutboxMessage] = []
    session = emails.Session()
    deadline = time.monotonic() + send_budget()
    try:
        for position, row in enumerate(rows):
            rest = rows[position:]
            if position and time.monotonic() > deadline:
                text = "not sent, released: the send batch ran out of time before handing it to the SMTP server"
                released = release_batch(
                    outbound.model, [r.pk for r in rest], claimed_at=row.claimed_at, now=now, text=text
                )
                outcomes.update({r.pk: Outcome("released" if released else "not_sent", text) for r in rest})
                break
            outcome, settled = _send_one(outbound, row, now, session)
            outcomes[row.pk] = outcome
            if outcome.status == "sent":
                accepted.append(row)
            if not settled:  # the database is away: hand nothing more over; the scan puts the rest back
                text = "not sent: the database was unreachable; the scan puts it back"
                outcomes.update({r.pk: Outcome("not_sent", text) for r in rest[1:]})
                break
    finally:
        if accepted:
            outcomes.update(_record_sent(outbound, accepted, now))
    return outcomes


def _finish(outbound: Outbound, stops: dict[int, tuple[str, str]], now: datetime.datetime) -> None:
    """Claimed rows that must not go any more end with their status and reason (one UPDATE a reason)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, (status, reason) in stops.items():
        groups[(status, reason)].append(pk)
    for (status, reason), ids in groups.items():
        outbound.model.objects.filter(pk__in=ids).update(
            status=status, updated_at=now, **{outbound.reason_field: reason[:200]}
        )
        outbound.history([(pk, status, reason) for pk in ids], now)


def send_batch(outbound: Outbound, ids: Sequence[int], now: datetime.datetime) -> dict[int, Outcome]:
    """Send the rows `ids` of one outbox model at most once per claim: claim, re-check, hand over, record.
    Safe to call any number of times with any ids; the outcome of each id.

    The claim, the re-checks and their events are one transaction, so a committed `sending` row is
    one about to be handed over; a database error before that releases the rows at once."""
    wanted = sorted(set(ids))
    if outbound.send_window and not ReminderSettings.load().in_window(timezone.localtime(now)):
        return dict.fromkeys(wanted, Outcome("outside_window"))  # the next scan inside the window queues them
    try:
        with transaction.atomic():
            claimed = claim_batch(outbound.model, wanted, now)
            if not claimed:
                return dict.fromkeys(wanted, Outcome("not_claimed"))
            if outbound.load is not None:
                rows = list(outbound.load(claimed))
            else:
                rows = list(outbound.model.objects.filter(pk__in=claimed))
            outbound.history([(row.pk, Status.SENDING, f"attempt {row.attempts}") for row in rows], now)
            stops = outbound.stops(rows, now) if outbound.stops is not None else {}
            _finish(outbound, stops, now)
    except _DATABASE_DOWN as error:
        text = f"not sent, released: {describe(error)}"[:2000]
        release_batch(outbound.model, wanted, claimed_at=now, now=now, text=text)
        return dict.fromkeys(wanted, Outcome("released", text))
    outcomes = dict.fromkeys(wanted, Outcome("not_claimed"))
    outcomes.update({pk: Outcome(status) for pk, (status, _) in stops.items()})
    outcomes.update(_send_claimed(outbound, [row for row in rows if row.pk not in stops], now))
    return outcomes


def deliver(
    row: OutboxMessage,
    build: Callable[[], EmailMultiAlternatives],
    now: datetime.datetime,
    record: Callable[[str, str], None],
) -> Outcome:
    """Build and send the message of one row already claimed (`claim`) at `now`, and store the result,
    with its history (`record(status, note)`): a batch of one (see `send_batch`)."""

    def history(entries: Sequence[tuple[int, str, str]], _now: datetime.datetime) -> None:
        for _, status, note in entries:
            record(status, note)

    outbound = Outbound(model=type(row), build=lambda _row, _now: build(), history=history)
    return _send_claimed(outbound, [row], now)[row.pk]


# Repair --------------------------------------------------------------------------------------------


@dataclass
class Recovered:
    recorded: int = 0  # accepted by the server, recorded as sent by the scan
    released: int = 0  # claimed, never handed over: pending again


def recover_abandoned(now: datetime.datetime) -> Recovered:
    """Rows left `sending` by a batch that is over (claimed more than `abandoned_after` ago: its worker
    was killed, or lost the database): those the server accepted (marked) -> sent, without a second
    copy; those never handed over -> pending, queued again by this scan. Of each claim's unmarked rows
    the lowest id is left alone: it may have been in flight, and waits for REMINDER_UNCONFIRMED_AFTER.
    Runs inside the scan's transaction, before the longer wait's requeue."""
    cutoff = now - abandoned_after()
    result = Recovered()
    for outbound in _OUTBOUND.values():
        model = outbound.model
        rows = list(
            model.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
            .select_for_update()
            .values_list("pk", "claimed_at", "sent_at")
        )
        accepted: dict[datetime.datetime, list[int]] = defaultdict(list)
        unmarked: dict[datetime.datetime, list[int]] = defaultdict(list)
        for pk, claimed_at, sent_at in rows:
            if sent_at is not None and sent_at >= claimed_at:  # marked by this claim
                accepted[sent_at].append(pk)
            else:
                unmarked[claimed_at].append(pk)
        history: list[tuple[int, str, str]] = []
        for sent_at, ids in accepted.items():
            model.objects.filter(pk__in=ids).update(status=Status.SENT, last_error="", updated_at=now)
            note = (
                f"sent: accepted by the SMTP server at {clock(sent_at)}; recorded by the scan, the worker "
                "having stopped before recording it"
            )
            history += [(pk, Status.SENT, note) for pk in ids]
            result.recorded += len(ids)
        never = [pk for ids in unmarked.values() for pk in sorted(ids)[1:]]
        if never:
            model.objects.filter(pk__in=never).update(
                status=Status.PENDING,
                next_attempt_at=now,
                enqueued_at=None,
                last_error=NEVER_HANDED_OVER,
                updated_at=now,
            )
            history += [(pk, Status.PENDING, NEVER_HANDED_OVER) for pk in never]
            result.released += len(never)
        outbound.history(history, now)
        if history:
            logger.warning(
                "%s: a send batch stopped before recording: %s accepted rows recorded as sent %s, %s never handed "
                "over queued again %s",
                model.__name__,
                sum(len(ids) for ids in accepted.values()),
                sorted(pk for ids in accepted.values() for pk in ids),
                len(never),
                never,
            )
    return result
