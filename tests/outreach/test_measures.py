"""The outreach measures on a small clinic built through the actions, whose true numbers are known
(worked out by hand below), on the report page, its CSV and the dashboard's card."""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Clinic as Site
from clinic import actions
from outreach.measures import measures_for
from tests.ui.builders import Clinic

pytestmark = pytest.mark.django_db
LONDON = zoneinfo.ZoneInfo("Europe/London")
TODAY = datetime.datetime(2026, 3, 25, 12, 0, tzinfo=LONDON)
FEB, MAR = datetime.date(2026, 2, 1), datetime.date(2026, 3, 1)


def on(month: int, day: int, hour: int = 11) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, 0, tzinfo=LONDON)


@pytest.fixture
def programme_clinic(nurse, physician):
    """North (the default clinic) and "=South" (a name a spreadsheet would run as a formula)."""
    with time_machine.travel(TODAY, tick=False):
        south = Site.objects.create(name="=South", slug="south")
        south.staff.add(nurse, physician)
        north = Clinic(nurse=nurse, physician=physician, home=Site.objects.exclude(pk=south.pk).get())
        southern = Clinic(nurse=nurse, physician=physician, home=south)
        a, b, c, d, e = (north.overdue(60, family_name=name) for name in "ABCDE")
        f, g = (southern.overdue(60, family_name=name) for name in "FG")

        def call(patient, when, outcome):
            actions.contact_attempt_record(patient=patient, outcome=outcome, by=nurse, now=when)

        # North, February: A called twice, booked, came 8 days later; B left a voicemail, came 18 days later.
        call(a, on(2, 10), "no_answer")
        call(a, on(2, 12), "reached_booked")
        north.inject(a, datetime.date(2026, 2, 20))
        call(b, on(2, 15), "voicemail")
        north.inject(b, datetime.date(2026, 3, 5))
        # North, March: C a wrong number, never came; D moved away (discharged); E will call back, lab 10 days later.
        call(c, on(3, 2), "wrong_number")
        call(d, on(3, 3), "moved_away")
        actions.patient_discharge(patient=d, by=nurse, reason="moved_away")
        call(e, on(3, 10), "reached_call_back")
        north.lab(e, datetime.date(2026, 3, 20), "b12", "300", "pg/mL")
        # South, March: F declined, never came; G no answer then booked, came on the 15th day.
        call(f, on(3, 5), "declined")
        call(g, on(3, 6), "no_answer")
        call(g, on(3, 8), "reached_booked")
        southern.inject(g, datetime.date(2026, 3, 23))
    return north.home, south


TRUE_NUMBERS = {
    # (clinic, month): calls, reached, booked, patients called, returned within 15 days, still lost
    ("North", FEB): (3, 1, 1, 2, 1, 0),
    ("North", MAR): (3, 2, 0, 3, 1, 1),
    ("=South", MAR): (3, 2, 1, 2, 1, 1),
}


def test_the_measures_match_the_true_numbers(programme_clinic) -> None:
    north, south = programme_clinic
    north.name = "North"
    north.save()
    result = measures_for(clinics=Site.objects.all(), since=datetime.date(2025, 4, 1))
    assert {(row.clinic_name, row.month): tuple(row.values().values()) for row in result.rows} == TRUE_NUMBERS
    assert result.total(MAR) == {"calls": 6, "reached": 4, "booked": 1, "patients": 5, "returned": 2, "still_lost": 2}
    only_south = measures_for(clinics=Site.objects.filter(pk=south.pk), since=datetime.date(2025, 4, 1))
    assert [row.clinic_name for row in only_south.rows] == ["=South"]


def test_the_report_page_its_plot_and_its_csv(client, programme_clinic, physician) -> None:
    north, _ = programme_clinic
    north.name = "North"
    north.save()
    client.force_login(physician)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("outreach_report"))
        download = client.get(reverse("outreach_report") + "?format=csv")
        dashboard = client.get(reverse("dashboard"))
    body = page.content.decode()
    assert 'id="outreach-plot-data"' in body and "outreach_report.js" in body and "<script>" not in body
    plot = page.context["plot"]
    assert plot["labels"] == ["Feb 2026", "Mar 2026"]
    assert {s["label"]: s["data"] for s in plot["series"]}["Calls made"] == [3, 6]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == ["month", "clinic", "calls", "reached", "booked", "patients", "returned", "still_lost"]
    assert rows[1:] == [
        ["2026-02", "North", "3", "1", "1", "2", "1", "0"],
        ["2026-03", "North", "3", "2", "0", "3", "1", "1"],
        ["2026-03", "'=South", "3", "2", "1", "2", "1", "1"],  # neutralised: text, not a formula
    ]
    card = dashboard.context["outreach"]
    assert card["this_month"] == {"calls": 6, "reached": 4, "booked": 1, "patients": 5, "returned": 2, "still_lost": 2}
    assert card["last_month"]["calls"] == 3
    assert 'data-testid="outreach-measures"' in dashboard.content.decode()
