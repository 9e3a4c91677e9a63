"""Emails: the reminder's composition, and the transport. Each email is three templates (subject, plain
text, HTML) under templates/emails/, assembled here."""

from __future__ import annotations

import datetime
import smtplib
import threading
from collections.abc import Mapping
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string

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
    return formataddr((settings.CLINIC_EMAIL_NAME, parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "clinic@localhost"))


def render_email(template: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) from emails/<template>_subject.txt, _body.txt and _body.html."""
    values = {**clinic_context(), **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", values).split())
    text = render_to_string(f"emails/{template}_body.txt", values)
    html = render_to_string(f"emails/{template}_body.html", values)
    return subject, text, html


def build_email(
    *,
    template: str,
    context: Mapping[str, Any],
    to: str,
    message_id: str,
    headers: Mapping[str, str] | None = None,
) -> EmailMultiAlternatives:
    """One message from a template triplet, with the row's stable Message-ID."""
    subject, text, html = render_email(template, context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender(),
        to=[to],
        headers={"Message-ID": message_id, **(headers or {})},
    )
    message.attach_alternative(html, "text/html")
    return message


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
    )
    method = "CANCEL" if reminder.kind == Kind.APPOINTMENT_CANCELLED else "REQUEST"
    # As an attachment (what every mail client offers to open) whose type carries the iTIP method, so
    # that calendar-aware clients show it as an invitation (or its cancellation).
    part = MIMEText(appointment_invitation(reminder).decode(), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="appointment.ics")
    message.attach(part)
    return message
