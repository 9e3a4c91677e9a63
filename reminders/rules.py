"""The reminder rules, pure: what is due when, who may be emailed, how long to wait after an error,
and whether an error is temporary. No database access here; outbox.py applies these to the rows."""

from __future__ import annotations

import datetime
import smtplib
from typing import Protocol

from protocols.engine.evaluate import NOT_STARTED
from reminders.models import INJECTION_KINDS, Kind

# How long a queued or a handed-over row waits before the scan queues it again is a setting
# (REMINDER_STUCK_AFTER, REMINDER_UNCONFIRMED_AFTER), read by outbox.py: it follows the task time limits.
# Retry after a temporary error: 1, 2, 4 ... minutes, at most an hour apart, then give up.
BACKOFF_FIRST = datetime.timedelta(minutes=1)
BACKOFF_MAX = datetime.timedelta(hours=1)
MAX_ATTEMPTS = 12
# An overdue reminder is created up to this long after it fell due; older misses are the worklist's.
OVERDUE_LOOKBACK = datetime.timedelta(days=30)


class Emailable(Protocol):
    is_active: bool
    email: str
    email_reminders_consent: bool
    email_opt_out_at: datetime.datetime | None


class Due(Protocol):
    phase: str
    next_injection_due: datetime.date | None
    next_recheck_due: datetime.date | None


def patient_skip_reason(patient: Emailable) -> str:
    """Why this patient may not be emailed; empty when they may."""
    if not patient.is_active:
        return "discharged"
    if patient.email_opt_out_at is not None:
        return "opted out"
    if not patient.email_reminders_consent:
        return "no consent to email reminders"
    if not patient.email:
        return "no email address"
    return ""


def obligations(
    *,
    next_injection_due: datetime.date | None,
    next_recheck_due: datetime.date | None,
    today: datetime.date,
    days_before: int,
    days_after: int,
) -> list[tuple[str, datetime.date]]:
    """The (kind, due date) reminders that are due on `today` by the clinic's rules.

    Due soon: from `days_before` days before the due date up to the due date itself. Overdue: from
    `days_after` days after it (for OVERDUE_LOOKBACK). The unique key makes each one happen once.
    """
    found: list[tuple[str, datetime.date]] = []
    for due, soon, overdue in (
        (next_injection_due, Kind.INJECTION_DUE_SOON, Kind.INJECTION_OVERDUE),
        (next_recheck_due, Kind.RECHECK_DUE_SOON, Kind.RECHECK_OVERDUE),
    ):
        if due is None:
            continue
        if due - datetime.timedelta(days=days_before) <= today <= due:
            found.append((soon.value, due))
        first_overdue = due + datetime.timedelta(days=days_after)
        if first_overdue <= today <= first_overdue + OVERDUE_LOOKBACK:
            found.append((overdue.value, due))
    return found


def current_due(status: Due | None, kind: str) -> datetime.date | None:
    """The due date a reminder of `kind` is about, by the care status (None: nothing to remind of)."""
    if status is None:
        return None
    if kind in INJECTION_KINDS:
        # A patient not started yet is "due today" every day: there is no appointment to remind of.
        return None if status.phase == NOT_STARTED else status.next_injection_due
    return status.next_recheck_due


_TEMPORARY_EXCEPTIONS = (smtplib.SMTPServerDisconnected, OSError, TimeoutError)


def is_temporary(error: BaseException) -> bool:
    """Whether a send error may go away by itself: 4xx replies and network trouble are; 5xx are not."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and any(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPException):
        return isinstance(error, smtplib.SMTPServerDisconnected)
    if type(error).__name__ == "SoftTimeLimitExceeded":
        return True
    return isinstance(error, _TEMPORARY_EXCEPTIONS)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def describe(error: BaseException) -> str:
    """The error as staff read it: the SMTP reply code and text when there is one."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        detail = "; ".join(f"{address}: {code} {_text(text)}" for address, (code, text) in error.recipients.items())
    elif isinstance(error, smtplib.SMTPResponseException):
        detail = f"{error.smtp_code} {_text(error.smtp_error)}"
    else:
        detail = str(error)
    return f"{type(error).__name__}: {detail}"[:2000]


def backoff(attempts: int) -> datetime.timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4 ... minutes, at most BACKOFF_MAX."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)
