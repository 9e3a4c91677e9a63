"""Messages about a booked appointment: the patient's email naming its date and time in the clinic's
time zone, with an iCalendar (.ics) invitation; an update when it is rescheduled, a cancellation when
it is cancelled; a printed letter for a patient who may not be emailed.

The application layer (clinic.actions) calls `appointment_notice_queue` inside the transaction that
booked, rescheduled or cancelled the appointment.
"""

from __future__ import annotations

import datetime
from typing import Literal

from outreach.models import Appointment

Change = Literal["booked", "rescheduled", "cancelled"]


def appointment_notice_queue(*, appointment: Appointment, change: Change, now: datetime.datetime) -> None:
    """Queue the patient's notice of `change` to `appointment` (inside the caller's transaction).

    Being built beside the appointments (issue 15, item 3): until then no notice is queued.
    """
    return None
