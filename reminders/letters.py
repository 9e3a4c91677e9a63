"""Printed letters for patients who may not be emailed (no address, no consent, opted out): the same
reminders and appointment notices as the emails, as a PDF on the clinic's letterhead, printed by staff
in one batch a day.

A letter is a `Reminder` row on the LETTER channel, with the same unique key and history as an email:
- the appointment notices make theirs when queued (reminders.appointments);
- `letters_create` (each beat tick, after the scan) makes one beside each due-date reminder the scan
  skipped for a reason a letter answers;
- `letters_print` marks the chosen waiting letters sent ("printed by ...") and draws them as one PDF,
  in one transaction: a PDF that cannot be drawn marks nothing.
The PDF is drawn with fpdf2 in DejaVu Sans (vendored by scripts/vendor_static.sh into static/vendor/),
which prints Wiśniewski, Łódź and Müller; a letter names the patient, the kind of visit and its date
(or the appointment's date and time in the clinic's time zone), nothing clinical.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from fpdf import FPDF

from accounts.models import Clinic
from patients.selectors import Clinics
from reminders import emails
from reminders.appointments import LETTER_REASONS
from reminders.calendar import format_day, format_visit
from reminders.models import (
    DUE_SOON_KINDS,
    INJECTION_KINDS,
    RECHECK_KINDS,
    Channel,
    Kind,
    Reminder,
    ReminderEvent,
    Status,
)

# fontTools (fpdf2's font subsetter) logs every table it prunes at INFO: nothing anyone needs.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIR = Path(settings.BASE_DIR) / "static" / "vendor" / "dejavu"
# A skipped email older than this gets no letter: the letters start with the day they are deployed.
LETTER_LOOKBACK = datetime.timedelta(days=2)


# Which letters --------------------------------------------------------------------------------------


def letters_create(*, now: datetime.datetime) -> int:
    """A letter beside every due-date reminder the scan skipped lately for a reason a letter answers
    (no email address, no consent, opted out; not a discharge), at most once (the unique key); the
    number made. Due-soon ones whose date has passed are moot."""
    today = timezone.localdate(now)
    skipped = (
        Reminder.objects.filter(
            channel=Channel.EMAIL,
            status=Status.SKIPPED,
            appointment__isnull=True,
            kind__in=[*INJECTION_KINDS, *RECHECK_KINDS],
            reason__in=LETTER_REASONS,
            updated_at__gte=now - LETTER_LOOKBACK,
        )
        .exclude(kind__in=DUE_SOON_KINDS, due_date__lt=today)
        .exclude(
            Exists(
                Reminder.objects.filter(
                    channel=Channel.LETTER,
                    appointment__isnull=True,
                    patient_id=OuterRef("patient_id"),
                    kind=OuterRef("kind"),
                    due_date=OuterRef("due_date"),
                )
            )
        )
        .values_list("patient_id", "kind", "due_date")
    )
    new = [
        Reminder(
            patient_id=patient_id,
            kind=kind,
            due_date=due_date,
            channel=Channel.LETTER,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for patient_id, kind, due_date in skipped
    ]
    if not new:
        return 0
    with transaction.atomic():
        Reminder.objects.bulk_create(new, ignore_conflicts=True)  # the letters made by an earlier tick stay
        created = list(Reminder.objects.filter(message_id__in=[r.message_id for r in new]).values_list("pk", flat=True))
        ReminderEvent.objects.bulk_create(
            ReminderEvent(reminder_id=pk, at=now, status=Status.PENDING, note="letter: the patient may not be emailed")
            for pk in created
        )
    return len(created)


def _letters(clinics: Clinics) -> QuerySet[Reminder]:
    return (
        Reminder.objects.filter(channel=Channel.LETTER, patient__clinic__in=clinics)
        .select_related("patient", "patient__clinic", "appointment")
        .order_by("patient__family_name", "patient__given_name", "pk")
    )


def letters_waiting(*, clinics: Clinics) -> list[Reminder]:
    """The letters of `clinics`' patients waiting to be printed."""
    return list(_letters(clinics).filter(status=Status.PENDING))


def letters_printed(*, clinics: Clinics, day: datetime.date) -> list[Reminder]:
    """The letters of `clinics`' patients printed on `day` (the install's time zone), to print them again."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time()))
    end = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time()))
    return list(_letters(clinics).filter(status=Status.SENT, sent_at__gte=start, sent_at__lt=end))


@dataclass
class Printed:
    letters: list[Reminder]
    pdf: bytes
    withdrawn: int = 0  # letters not printed after all (the patient was emailed instead)


def _emailed_instead(letter: Reminder) -> bool:
    """A due-date letter whose email was sent or is going after all (an address or consent came)."""
    return (
        letter.appointment_id is None
        and Reminder.objects.filter(
            patient_id=letter.patient_id,
            kind=letter.kind,
            due_date=letter.due_date,
            channel=Channel.EMAIL,
            status__in=[Status.PENDING, Status.SENDING, Status.SENT],
        ).exists()
    )


def letters_print(
    *, letter_ids: Iterable[int], clinics: Clinics, by: AbstractBaseUser, now: datetime.datetime
) -> Printed:
    """Print the waiting letters among `letter_ids` of `clinics`' patients: marked sent (printed by
    `by`, with an event each) and drawn as one PDF, in one transaction. Letters printed already, or of
    another clinic, are left out (two people printing at once print each letter once)."""
    with transaction.atomic():
        ids = list(
            Reminder.objects.filter(
                pk__in=list(letter_ids), channel=Channel.LETTER, status=Status.PENDING, patient__clinic__in=clinics
            )
            .select_for_update()
            .values_list("pk", flat=True)
        )
        letters = list(_letters(clinics).filter(pk__in=ids))
        withdrawn = [letter for letter in letters if _emailed_instead(letter)]
        printed = [letter for letter in letters if letter not in withdrawn]
        if withdrawn:
            pks = [letter.pk for letter in withdrawn]
            Reminder.objects.filter(pk__in=pks).update(
                status=Status.CANCELLED, reason="emailed instead", updated_at=now
            )
            ReminderEvent.objects.bulk_create(
                ReminderEvent(reminder_id=pk, at=now, status=Status.CANCELLED, note="emailed instead") for pk in pks
            )
        pks = [letter.pk for letter in printed]
        Reminder.objects.filter(pk__in=pks).update(
            status=Status.SENT, sent_at=now, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        ReminderEvent.objects.bulk_create(
            ReminderEvent(reminder_id=pk, at=now, status=Status.SENT, note=f"printed by {by.get_username()}")
            for pk in pks
        )
        for letter in printed:
            letter.status, letter.sent_at = Status.SENT, now
        pdf = letters_pdf(printed) if printed else b""
    return Printed(letters=printed, pdf=pdf, withdrawn=len(withdrawn))


# What a letter says ----------------------------------------------------------------------------------


def letterhead_name(clinic: Clinic) -> str:
    """The clinic's name on the letterhead: its own (a site's name, "North clinic"), unless that is the
    install's product name CLINIC_NAME ("B12 Clinic" by default), which names the condition: then the
    name the emails use, CLINIC_EMAIL_NAME."""
    if clinic.name.strip().casefold() == settings.CLINIC_NAME.strip().casefold():
        return settings.CLINIC_EMAIL_NAME
    return clinic.name


@dataclass(frozen=True)
class Letter:
    clinic_name: str
    clinic_lines: tuple[str, ...]  # address lines, then phone and email
    date: str
    recipient: str
    reference: str
    salutation: str
    paragraphs: tuple[str, ...]  # **bold** marks the date (fpdf2 markdown)
    closing: str = "Yours sincerely,"
    signature: str = ""


def letter_content(letter: Reminder, *, now: datetime.datetime) -> Letter:
    """What one letter says (pure but for the booked appointment a due-soon reminder names): the kind
    of visit and its date, or the appointment's date and time in the clinic's time zone; how to reach
    the clinic. `now` is when it is printed."""
    patient = letter.patient
    clinic = patient.clinic
    contact = emails.clinic_context(clinic)
    phone = contact["clinic_phone"]
    call = f"telephone us on {phone}" if phone else "contact us"
    zone = clinic.zone
    if letter.appointment_id is not None:
        visit = emails.APPOINTMENT_VISIT[letter.appointment.kind]
        when = format_visit(letter.visit_at, zone)
        body = {
            Kind.APPOINTMENT_BOOKED: (
                f"Your {visit} is booked for **{when}**.",
                f"If you cannot come, please {call} to arrange another time.",
            ),
            Kind.APPOINTMENT_RESCHEDULED: (
                f"Your {visit} has moved. It is now on **{when}**.",
                f"If you cannot come, please {call} to arrange another time.",
            ),
            Kind.APPOINTMENT_CANCELLED: (
                f"Your {visit} on **{when}** has been cancelled.",
                f"Please {call} to book another time.",
            ),
        }[Kind(letter.kind)]
    else:
        visit = emails.VISIT[Kind(letter.kind)]
        due = format_day(letter.due_date)
        booked = emails.booked_appointment(letter, now=now) if letter.kind in DUE_SOON_KINDS else None
        if booked is not None:
            body = (
                f"This is a reminder of your {visit} on **{format_visit(booked.starts_at, zone)}**.",
                f"If you cannot come, please {call} to arrange another time.",
            )
        elif letter.kind in DUE_SOON_KINDS:
            body = (
                f"This is a reminder that your {visit} is due on **{due}**.",
                f"If you have not booked it yet, please {call}.",
            )
        else:
            body = (
                f"Our records show that your {visit} was due on **{due}** and has not taken place yet.",
                f"Please {call} to book it as soon as you can.",
            )
        body = (*body, "If you have already been seen, please ignore this letter.")
    lines = [line.strip() for line in clinic.address.splitlines() if line.strip()]
    if not lines and contact["clinic_address"]:
        lines = [part.strip() for part in contact["clinic_address"].split(",") if part.strip()]
    if phone:
        lines.append(f"Telephone {phone}")
    if contact["clinic_email"]:
        lines.append(contact["clinic_email"])
    name = letterhead_name(clinic)
    return Letter(
        clinic_name=name,
        clinic_lines=tuple(lines),
        date=format_day(timezone.localtime(now, zone).date()),
        recipient=f"{patient.given_name} {patient.family_name}",
        reference=f"Our reference: {patient.mrn}",
        salutation=f"Dear {patient.given_name},",
        paragraphs=body,
        signature=name,
    )


# Drawing ---------------------------------------------------------------------------------------------


def letters_pdf(letters: Sequence[Reminder]) -> bytes:
    """One A4 page per letter, each as printed at its `sent_at` (so a reprint is the same letter)."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title("Letters")
    pdf.set_creator("Clinic letters")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(25, 20, 25)
    pdf.set_auto_page_break(True, margin=20)
    for letter in letters:
        draw_letter(pdf, letter_content(letter, now=letter.sent_at or timezone.now()))
    return bytes(pdf.output())


def draw_letter(pdf: FPDF, letter: Letter) -> None:
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(0, 8, letter.clinic_name, new_x="LMARGIN", new_y="NEXT", align="R")
    pdf.set_font("DejaVu", "", 9.5)
    for line in letter.clinic_lines:
        pdf.cell(0, 4.8, line, new_x="LMARGIN", new_y="NEXT", align="R")
    pdf.ln(2)
    pdf.set_line_width(0.3)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(12)
    pdf.set_font("DejaVu", "", 11)
    pdf.cell(0, 6, letter.recipient, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9.5)
    pdf.cell(0, 5, letter.reference, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 11)
    pdf.cell(0, 6, letter.date, new_x="LMARGIN", new_y="NEXT", align="R")
    pdf.ln(8)
    pdf.cell(0, 6, letter.salutation, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for paragraph in letter.paragraphs:
        # Only the date is marked bold; the rest of the text is ours, with no markdown of its own.
        pdf.multi_cell(0, 6, paragraph, markdown=True, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.ln(5)
    pdf.cell(0, 6, letter.closing, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.cell(0, 6, letter.signature, new_x="LMARGIN", new_y="NEXT")
