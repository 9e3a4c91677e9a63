"""The staff reminders page and the patients' one-click opt-out."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.clinics import clinics_of
from audit.services import note_patients
from reminders import emails, letters, optout, outbox, selectors
from reminders.models import Reminder, Status

# Every staff role may see patients; the page names patients, so it asks the same permission.
STAFF_PERMISSION = "patients.view_patient"


@permission_required(STAFF_PERMISSION, raise_exception=True)
def reminder_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    clinics = clinics_of(request.user)
    reminders = selectors.reminders_page(clinics=clinics, status=status)
    note_patients(request, [reminder.patient_id for reminder in reminders])
    return render(
        request,
        "reminders/reminder_list.html",
        {
            "counts": selectors.reminder_status_counts(clinics=clinics),
            "statuses": Status.choices,
            "selected": status if status in Status.values else None,
            "reminders": reminders,
        },
    )


@require_POST
@permission_required(STAFF_PERMISSION, raise_exception=True)
def reminder_retry(request: HttpRequest, reminder_id: int) -> HttpResponse:
    # Another clinic's reminder is a 404, as its patient is (patients.access).
    reminder = get_object_or_404(Reminder, pk=reminder_id, patient__clinic__in=clinics_of(request.user))
    outbox.reminder_retry(reminder=reminder, by=request.user, now=timezone.now())
    return redirect(reverse("reminders:list") + "?status=failed")


@permission_required(STAFF_PERMISSION, raise_exception=True)
def letter_list(request: HttpRequest) -> HttpResponse:
    """The letters waiting to be printed, and those printed today (to print again)."""
    clinics = clinics_of(request.user)
    today = timezone.localdate()
    waiting = letters.letters_waiting(clinics=clinics)
    printed = letters.letters_printed(clinics=clinics, day=today)
    note_patients(request, [letter.patient_id for letter in [*waiting, *printed]])
    return render(request, "reminders/letter_list.html", {"waiting": waiting, "printed": printed, "today": today})


def _pdf(content: bytes, day: datetime.date) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="letters-{day:%Y-%m-%d}.pdf"'
    response["Cache-Control"] = "no-store"  # patient data: no copy in any cache
    return response


@require_POST
@permission_required(STAFF_PERMISSION, raise_exception=True)
def letters_print(request: HttpRequest) -> HttpResponse:
    """Print the waiting letters shown on the page: marked sent and returned as one PDF."""
    ids = [int(value) for value in request.POST.getlist("letter") if value.isdigit()]
    now = timezone.now()
    result = letters.letters_print(letter_ids=ids, clinics=clinics_of(request.user), by=request.user, now=now)
    note_patients(request, [letter.patient_id for letter in result.letters])
    if not result.letters:
        messages.info(request, "There was nothing left to print: someone printed these letters already.")
        return redirect("reminders:letters")
    return _pdf(result.pdf, timezone.localdate(now))


@permission_required(STAFF_PERMISSION, raise_exception=True)
def letters_reprint(request: HttpRequest) -> HttpResponse:
    """The letters printed on a day (today unless `?day=YYYY-MM-DD`), drawn again; nothing changes."""
    try:
        day = datetime.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    printed = letters.letters_printed(clinics=clinics_of(request.user), day=day)
    note_patients(request, [letter.patient_id for letter in printed])
    if not printed:
        messages.info(request, f"No letters were printed on {emails.format_day(day)}.")
        return redirect("reminders:letters")
    return _pdf(letters.letters_pdf(printed), day)


# Mail providers POST `List-Unsubscribe=One-Click` (RFC 8058) without a CSRF token; the signed token
# in the URL is what authorises the opt-out, and a forged request could only opt a patient out.
@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    patient = optout.patient_for_unsubscribe_token(token)
    context = {**emails.clinic_context(), "token": token}
    if patient is None:
        return render(request, "reminders/unsubscribe.html", {**context, "invalid": True}, status=404)
    if request.method == "POST":
        outbox.patient_unsubscribe(patient=patient, now=timezone.now())
        return render(request, "reminders/unsubscribe.html", {**context, "done": True})
    return render(request, "reminders/unsubscribe.html", context)
