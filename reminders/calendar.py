"""The appointment as a patient reads it: its date and time in the clinic's time zone, and the
iCalendar (RFC 5545 / iTIP RFC 5546) invitation that puts it in their calendar.

No database here: the caller passes the appointment's facts. The invitation keeps the appointment's
UID for its whole life and carries its SEQUENCE, so a reschedule replaces the event in the patient's
calendar (METHOD:REQUEST, a higher SEQUENCE) and a cancellation removes it (METHOD:CANCEL); DTSTART is
the clinic's local time with its TZID and a VTIMEZONE, never UTC.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from icalendar import Calendar, Event, vCalAddress

# Neither names a condition nor the product (its name may, e.g. "B12 Clinic"): minimum necessary.
PRODID = "-//Clinic appointments//Patient reminders//EN"


def format_day(day: datetime.date) -> str:
    """'Tuesday 24 March 2026': unambiguous in every locale, no 03/04 guessing."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def format_visit(starts_at: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """'Tuesday 31 March 2026 at 09:30', in the clinic's time zone (summer or winter time as it falls)."""
    local = starts_at.astimezone(zone)
    return f"{format_day(local.date())} at {local:%H:%M}"


@dataclass(frozen=True)
class Invitation:
    uid: str
    sequence: int
    cancelled: bool
    starts_at: datetime.datetime  # aware
    duration: datetime.timedelta
    zone: zoneinfo.ZoneInfo
    summary: str
    description: str
    location: str
    organizer_email: str
    organizer_name: str
    attendee_email: str
    stamp: datetime.datetime  # when this version of the invitation was made (aware)


def invitation_ics(invitation: Invitation) -> bytes:
    """The .ics of one version of an appointment: METHOD REQUEST (booked, moved) or CANCEL."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if invitation.cancelled else "REQUEST")

    local_start = invitation.starts_at.astimezone(invitation.zone)
    event = Event()
    event.add("uid", invitation.uid)
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", invitation.stamp.astimezone(datetime.UTC))  # RFC 5545: DTSTAMP is UTC
    event.add("dtstart", local_start)  # TZID=<the clinic's zone>
    event.add("dtend", local_start + invitation.duration)
    event.add("summary", invitation.summary)
    if invitation.description:
        event.add("description", invitation.description)
    if invitation.location:
        event.add("location", invitation.location)
    event.add("status", "CANCELLED" if invitation.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer = vCalAddress(f"mailto:{invitation.organizer_email}")
    organizer.params["CN"] = invitation.organizer_name
    event.add("organizer", organizer)
    if invitation.attendee_email:
        attendee = vCalAddress(f"mailto:{invitation.attendee_email}")
        attendee.params.update({"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED", "RSVP": "FALSE"})
        event.add("attendee", attendee)
    calendar.add_component(event)
    # The zone's rules around the visit (a year either side), not its whole history since 1970.
    day = local_start.date()
    calendar.add_missing_timezones(
        first_date=day - datetime.timedelta(days=366), last_date=day + datetime.timedelta(days=366)
    )
    return calendar.to_ical()
