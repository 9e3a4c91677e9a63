"""Emails: the reminder's composition, and the transport. Each email is three templates (subject, plain
text, HTML) under templates/emails/, assembled here."""

from __future__ import annotations

import datetime
import functools
import random
import re
import smtplib
import sys
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email import policy as email_policy
from email.generator import BytesGenerator
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.template.loader import get_template
from django.utils.html import escape

from accounts.models import Clinic
from outreach.models import Appointment, AppointmentKind, AppointmentStatus
from reminders import optout
from reminders.calendar import Invitation, format_visit, invitation_ics
from reminders.calendar import format_day as format_day
from reminders.models import DUE_SOON_KINDS, INJECTION_KINDS, Kind, Reminder


def clinic_context(clinic: Clinic | None = None) -> dict[str, str]:
    """How patients reach the clinic: the patient's clinic's phone, email and address where it has
    them (accounts.Clinic), else the install's (CLINIC_PHONE ...). The name is CLINIC_EMAIL_NAME, which
    names no condition."""
    address = ", ".join(line.strip() for line in (clinic.address if clinic else "").splitlines() if line.strip())
    return {
        "clinic_name": settings.CLINIC_EMAIL_NAME,
        "clinic_phone": (clinic.phone if clinic else "") or settings.CLINIC_PHONE,
        "clinic_email": (clinic.email if clinic else "") or settings.CLINIC_EMAIL,
        "clinic_address": address or settings.CLINIC_ADDRESS,
        "site_url": settings.SITE_URL,
    }


def sender() -> str:
    """DEFAULT_FROM_EMAIL's address under CLINIC_EMAIL_NAME (its own name may name a condition)."""
    return _sender(settings.CLINIC_EMAIL_NAME, settings.DEFAULT_FROM_EMAIL)


@functools.lru_cache(maxsize=16)
def _sender(name: str, default_from: str) -> str:
    return formataddr((name, parseaddr(default_from)[1] or "clinic@localhost"))


# The values each patient email fills in per email (render_email's `slots`): the templates only print
# them or test whether they are set (tests/reminders/test_wire.py reads the templates for that).
REMINDER_SLOTS = ("given_name", "due", "appointment", "unsubscribe_url")
APPOINTMENT_SLOTS = ("given_name", "when", "unsubscribe_url")


def render_email(template: str, context: Mapping[str, Any], *, slots: Collection[str] = ()) -> tuple[str, str, str]:
    """(subject, text, html) from emails/<template>_subject.txt, _body.txt and _body.html.

    `slots`: the context's names whose values change from email to email (the patient's name, the
    date, the opt-out link) and that the templates only print. See `_Skeleton`: the three templates are
    rendered once for each set of the other values, and each email's values put in their places."""
    values = {**clinic_context(), **context}
    templates = tuple(get_template(f"emails/{template}_{part}") for part in ("subject.txt", "body.txt", "body.html"))
    filled = {name: values[name] for name in slots if isinstance(values.get(name), str) and values[name]}
    if not filled or any("\x00" in value for value in filled.values()):
        # Nothing to fill in (the staff digest), or a marker's look-alike (never from the database:
        # PostgreSQL text has no NUL): rendered in full.
        return _render(templates, values)
    # The loaded templates (the cached loader's, the same objects until they are reloaded).
    loaded = tuple(one.template for one in templates)
    try:
        key = (template, frozenset((name, value) for name, value in values.items() if name not in filled))
        skeleton = _SKELETONS.get(key)
    except TypeError:  # a value that cannot be a key: rendered in full
        return _render(templates, values)
    if skeleton is None or skeleton.templates != loaded:
        rendered = _render(templates, values)
        if len(_SKELETONS) >= _SKELETONS_KEPT:
            _SKELETONS.clear()
        _SKELETONS[key] = _Skeleton.of(templates, loaded, values, filled, rendered)
        return rendered
    return skeleton.fill(filled) or _render(templates, values)


def _render(templates: tuple[Any, ...], values: Mapping[str, Any]) -> tuple[str, str, str]:
    subject, text, html = (template.render(values) for template in templates)
    return " ".join(subject.split()), text, html


# A slot's marker: a NUL never comes out of a template or a value; the "&" tells, once rendered, whether
# the template escaped it ("&amp;": HTML, and the subject, which Django autoescapes too) or not.
_SLOT = "\x00{}&\x00"
_ESCAPED_SLOT = "\x00{}&amp;\x00"
_SKELETONS: dict[tuple[object, ...], _Skeleton] = {}
_SKELETONS_KEPT = 256  # per clinic, kind of visit and branch of the templates: a handful in practice


@dataclass(frozen=True)
class _Skeleton:
    """The three templates rendered with a marker in place of each slot's value; `fill` writes an
    email's values (escaped where the template escaped the marker) into the markers' places.

    Exact only for values the templates print as they are (no filter, no test other than being
    non-empty, which every slot's value is): checked against a full render of the first email of
    each skeleton, and a skeleton that differs is not used (None: the caller renders in full)."""

    templates: tuple[object, ...]  # rendered from these (compared by identity: a reload makes new ones)
    parts: tuple[str, str, str]  # the subject not yet collapsed to single spaces
    usable: bool

    @classmethod
    def of(
        cls,
        templates: tuple[Any, ...],
        loaded: tuple[object, ...],
        values: Mapping[str, Any],
        filled: Mapping[str, str],
        rendered: tuple[str, str, str],
    ) -> _Skeleton:
        marked = {**values, **{name: _SLOT.format(name) for name in filled}}
        parts = tuple(template.render(marked) for template in templates)
        skeleton = cls(loaded, parts, usable=True)  # type: ignore[arg-type]
        return skeleton if skeleton.fill(filled) == rendered else cls(loaded, parts, usable=False)  # type: ignore[arg-type]

    def fill(self, filled: Mapping[str, str]) -> tuple[str, str, str] | None:
        if not self.usable:
            return None
        parts = []
        for part in self.parts:
            for name, value in filled.items():
                part = part.replace(_SLOT.format(name), value).replace(_ESCAPED_SLOT.format(name), escape(value))
            if "\x00" in part:  # a marker the template changed (a filter): not this way
                return None
            parts.append(part)
        subject, text, html = parts
        return " ".join(subject.split()), text, html


def build_email(
    *,
    template: str,
    context: Mapping[str, Any],
    to: str,
    message_id: str,
    headers: Mapping[str, str] | None = None,
    slots: Collection[str] = (),
) -> EmailMultiAlternatives:
    """One message from a template triplet, with the row's stable Message-ID (`slots`: render_email's)."""
    subject, text, html = render_email(template, context, slots=slots)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender(),
        to=[to],
        headers={"Message-ID": message_id, **(headers or {})},
    )
    message.attach_alternative(html, "text/html")
    return message


# The bytes on the wire -----------------------------------------------------------------------------
#
# What Django's SMTP backend sends (`message.message().as_bytes(linesep="\r\n")`), byte for byte, made
# with less of the `email` package's work: most of a message's CPU went to folding its headers (a
# Header object and its splitter for each of some fifteen headers, most of them the same in every
# message) and to compiling a new regular expression for each message's multipart boundary.

_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))  # as email.generator's
# Printable ASCII and spaces, and line breaks followed by a space (Django folds a long subject so).
_PRINTABLE = re.compile(r"(?:[ -~]|\n(?= ))*")
_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, single spaces
_WORD = re.compile(r"[^ ;,\r\n]+")  # what compat32's folding never splits


@functools.lru_cache(maxsize=4096)  # a subject's shape changes with the date's words: hundreds a clinic
def _fold(name: str, value: str, linesep: str, max_line_length: int | None, cte_type: str) -> str:
    """compat32's fold_binary(name, value), remembered. A function of its arguments alone."""
    policy = email_policy.compat32.clone(linesep=linesep, max_line_length=max_line_length, cte_type=cte_type)
    return policy.fold_binary(name, value).decode("ascii")


def _fold_binary(policy: email_policy.Compat32, name: str, value: object) -> bytes:
    """policy.fold_binary(name, value), cheaper for the compat32 policy Django's messages use.

    compat32 folds a printable ASCII value where it has spaces, semicolons, commas and line breaks, by
    the lengths of the runs between them, never inside a run. So a value is folded once for each shape
    (every run written as so many "x"), and its own runs are put back: the subject, the boundary and
    the opt-out link differ from message to message, their shapes hardly. A value of words that fits
    on the line is written as it is. Anything else (a Header object for a non-ASCII value, a tab, a
    line break not followed by a space) goes to the policy itself. tests/reminders/test_wire.py
    compares all three with the policy."""
    if type(policy) is not email_policy.Compat32 or not isinstance(value, str) or not _PRINTABLE.fullmatch(value):
        return policy.fold_binary(name, value)
    if (
        policy.max_line_length is not None
        and len(name) + 2 + len(value) <= policy.max_line_length
        and _PLAIN_HEADER.fullmatch(value)
    ):
        return f"{name}: {value}{policy.linesep}".encode("ascii")
    runs = _WORD.findall(value)
    shape = _WORD.sub(lambda run: "x" * len(run[0]), value)
    folded = _fold(name, shape, policy.linesep, policy.max_line_length, policy.cte_type)
    head, body = folded[: len(name) + 2], folded[len(name) + 2 :]
    if head != f"{name}: " or [len(run) for run in _WORD.findall(body)] != [len(run) for run in runs]:
        return policy.fold_binary(name, value)  # not the shape expected: no shortcut
    pieces = iter(runs)
    return (head + _WORD.sub(lambda _: next(pieces), body)).encode("ascii")


class _Generator(BytesGenerator):
    """BytesGenerator with remembered header folding and a boundary check without a new regex."""

    def _write_headers(self, msg: Message) -> None:
        for name, value in msg.raw_items():
            self._fp.write(_fold_binary(self.policy, name, value))
        self.write(self._NL)

    @classmethod
    def _make_boundary(cls, text: bytes | None = None) -> str:  # type: ignore[override]
        """The standard library's boundary ("=" * 15, a random number, "=="), checked against the parts'
        text with a substring test instead of a regex compiled for each message: no line of the text
        may start with "--" and the boundary (stricter than the library's test, so as safe)."""
        boundary = f"{'=' * 15}{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}=="
        if text is None:
            return boundary
        candidate, counter = boundary, 0
        while True:
            marker = b"--" + candidate.encode("ascii")
            if not text.startswith(marker) and b"\n" + marker not in text:
                return candidate
            candidate = f"{boundary}.{counter}"
            counter += 1


def wire_bytes(message: EmailMultiAlternatives) -> bytes:
    """The bytes Django's SMTP backend hands to the server for `message` (its `as_bytes(linesep="\r\n")`),
    the same byte for byte but the random multipart boundary."""
    out = BytesIO()
    _Generator(out, mangle_from_=False).flatten(message.message(), linesep="\r\n")
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def _sanitized(address: str, encoding: str) -> str:
    """Django's sanitize_address for the sender, the same in every message (pure: remembered)."""
    return sanitize_address(address, encoding)


def _send_smtp(connection: SMTPBackend, message: EmailMultiAlternatives) -> None:
    """What Django's SMTP backend does for one message on its open session (`_send`, without
    fail_silently, which Session never uses), with the bytes made by `wire_bytes`."""
    if not message.recipients():
        return
    encoding = message.encoding or settings.DEFAULT_CHARSET
    recipients = [sanitize_address(address, encoding) for address in message.recipients()]
    connection.connection.sendmail(_sanitized(message.from_email, encoding), recipients, wire_bytes(message))


# One open connection per process (and thread), reused from message to message: a worker sends many,
# and opening an SMTP session costs more than a message. Keyed by the settings it was opened with.
_outbound = threading.local()


def _connection_key() -> tuple[object, ...]:
    return (settings.EMAIL_BACKEND, getattr(settings, "EMAIL_HOST", ""), getattr(settings, "EMAIL_PORT", None))


def close_connection() -> None:
    connection: BaseEmailBackend | None = getattr(_outbound, "connection", None)
    _outbound.connection = _outbound.key = None
    if connection is not None:
        try:
            connection.close()
        except Exception:  # closing a broken connection may fail; it is dropped either way
            pass


def _alive(connection: BaseEmailBackend) -> bool:
    """Whether a reused SMTP session still answers (NOOP); other backends have no session to lose."""
    session = getattr(connection, "connection", None)
    if session is None or not hasattr(session, "noop"):
        return True
    try:
        return session.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


class Session:
    """One SMTP session for a batch of messages, each handed over exactly once.

    This process's open session is reused: checked once with NOOP at the start of the batch (replaced
    when the server dropped it while idle), then trusted from message to message, since each exchange
    just proved it alive. An error during an exchange (a refusal, or a disconnect after DATA, when the
    server may already have stored the message) closes the session and is raised for the outbox to
    retry later or fail, never resent here; the next message opens a new session. When a session
    cannot be opened, that error is raised for every later message of the batch without trying again
    (`down`): nothing of theirs was handed over, and a server that is down is not asked once a message.
    """

    def __init__(self) -> None:
        self.checked = False
        self.down: BaseException | None = None

    def _connection(self) -> BaseEmailBackend:
        if getattr(_outbound, "key", None) != _connection_key():
            close_connection()
        connection: BaseEmailBackend | None = getattr(_outbound, "connection", None)
        if connection is not None and not self.checked and not _alive(connection):
            close_connection()
            connection = None
        if connection is None:
            connection = get_connection(fail_silently=False)
            try:
                connection.open()  # opened here, so send_messages leaves it open afterwards
            except BaseException as error:
                self.down = error
                raise
            _outbound.connection, _outbound.key = connection, _connection_key()
        self.checked = True
        return connection

    def send(self, message: EmailMultiAlternatives) -> None:
        if self.down is not None:
            raise self.down
        connection = self._connection()
        try:
            if type(connection) is SMTPBackend and connection.connection is not None:
                _send_smtp(connection, message)
            else:
                connection.send_messages([message])
        except BaseException:
            close_connection()
            raise

    def never_opened(self, error: BaseException) -> bool:
        """Whether `error` came from opening a session: the message never reached the server."""
        return error is self.down


def send(message: EmailMultiAlternatives) -> None:
    """Send one message over this process's open connection (checked with NOOP first), opening one
    when needed, exactly one attempt: a batch of one (see Session)."""
    Session().send(message)


# Composition ---------------------------------------------------------------------------------------

# The kind of visit, and nothing more: no drug, test name or condition (minimum necessary).
VISIT = {
    Kind.INJECTION_DUE_SOON: "injection appointment",
    Kind.INJECTION_OVERDUE: "injection appointment",
    Kind.RECHECK_DUE_SOON: "blood test",
    Kind.RECHECK_OVERDUE: "blood test",
}


def opt_out_headers(opt_out: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{opt_out}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def reminder_email(reminder: Reminder) -> EmailMultiAlternatives:
    """The patient email: the kind of visit, its date (or, due soon with an appointment booked, the
    appointment's date and time in the clinic's time zone), how to reach the clinic; nothing clinical.
    A notice about an appointment (booked, moved, cancelled) is reminders.appointments'."""
    if reminder.appointment_id is not None:
        return appointment_notice_email(reminder)
    patient = reminder.patient
    opt_out = optout.unsubscribe_url(patient)
    overdue = reminder.kind not in DUE_SOON_KINDS
    # The claim's time: the reminder is built right after it (reminders.outbox.reminder_send).
    booked = None if overdue else booked_appointment(reminder, now=reminder.claimed_at or reminder.created_at)
    return build_email(
        template="reminder",
        context={
            **clinic_context(patient.clinic),
            "given_name": patient.given_name,
            "visit": VISIT[Kind(reminder.kind)],
            "due": format_day(reminder.due_date),
            "appointment": format_visit(booked.starts_at, patient.clinic.zone) if booked else "",
            "overdue": overdue,
            "unsubscribe_url": opt_out,
        },
        to=patient.email,
        message_id=reminder.message_id,
        headers=opt_out_headers(opt_out),
        slots=REMINDER_SLOTS,
    )


# Appointments ---------------------------------------------------------------------------------------

APPOINTMENT_VISIT = {AppointmentKind.INJECTION: "injection appointment", AppointmentKind.RECHECK: "blood test"}


def booked_appointment(reminder: Reminder, *, now: datetime.datetime) -> Appointment | None:
    """The patient's booked appointment (still ahead at `now`) for the visit `reminder` is about: a
    due-soon reminder names it rather than the due date alone."""
    kind = AppointmentKind.INJECTION if reminder.kind in INJECTION_KINDS else AppointmentKind.RECHECK
    prefetched = getattr(reminder.patient, "booked_appointments", None)  # the batch's load (outbox)
    if prefetched is not None:
        return next((a for a in prefetched if a.kind == kind and a.starts_at >= now), None)
    return (
        Appointment.objects.filter(
            patient_id=reminder.patient_id, kind=kind, status=AppointmentStatus.BOOKED, starts_at__gte=now
        )
        .order_by("starts_at")
        .first()
    )


def appointment_summary() -> str:
    """The calendar event's title: the clinic's email name only (which names no condition)."""
    return f"Appointment at {settings.CLINIC_EMAIL_NAME}"


def appointment_invitation(reminder: Reminder) -> bytes:
    """The .ics of the notice's version of the appointment (its own start and SEQUENCE)."""
    appointment, patient = reminder.appointment, reminder.patient
    clinic = patient.clinic
    context = clinic_context(clinic)
    cancelled = reminder.kind == Kind.APPOINTMENT_CANCELLED
    visit = APPOINTMENT_VISIT[AppointmentKind(appointment.kind)]
    phone = f" Phone {context['clinic_phone']}." if context["clinic_phone"] else ""
    return invitation_ics(
        Invitation(
            uid=f"{appointment.uid}@{parseaddr(sender())[1].rpartition('@')[2] or 'localhost'}",
            sequence=reminder.sequence or 0,
            cancelled=cancelled,
            starts_at=reminder.visit_at,
            duration=datetime.timedelta(minutes=appointment.duration_minutes),
            zone=clinic.zone,
            summary=appointment_summary(),
            description=f"Your {visit}{' is cancelled' if cancelled else ''}.{phone}",
            location=context["clinic_address"],
            organizer_email=context["clinic_email"] or parseaddr(sender())[1],
            organizer_name=settings.CLINIC_EMAIL_NAME,
            attendee_email=patient.email,
            stamp=reminder.created_at,
        )
    )


def appointment_notice_email(reminder: Reminder) -> EmailMultiAlternatives:
    """The patient's email about a booked, moved or cancelled appointment: its date and time in the
    clinic's time zone, with the calendar invitation (or its cancellation) attached; nothing clinical."""
    patient, appointment = reminder.patient, reminder.appointment
    opt_out = optout.unsubscribe_url(patient)
    message = build_email(
        template="appointment",
        context={
            **clinic_context(patient.clinic),
            "given_name": patient.given_name,
            "visit": APPOINTMENT_VISIT[AppointmentKind(appointment.kind)],
            "when": format_visit(reminder.visit_at, patient.clinic.zone),
            "change": reminder.kind.removeprefix("appointment_"),
            "unsubscribe_url": opt_out,
        },
        to=patient.email,
        message_id=reminder.message_id,
        headers=opt_out_headers(opt_out),
        slots=APPOINTMENT_SLOTS,
    )
    method = "CANCEL" if reminder.kind == Kind.APPOINTMENT_CANCELLED else "REQUEST"
    # As an attachment (what every mail client offers to open) whose type carries the iTIP method, so
    # that calendar-aware clients show it as an invitation (or its cancellation).
    part = MIMEText(appointment_invitation(reminder).decode(), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="appointment.ics")
    message.attach(part)
    return message
