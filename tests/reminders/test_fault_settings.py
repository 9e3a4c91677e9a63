"""The outbox's waits follow the send task's time limits, and inconsistent values stop start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_settings import _settings, _settings_error

NAMES = ["SEND_TASK_TIME_LIMIT", "REMINDER_RECORD_RETRY_SECONDS", "REMINDER_STUCK_AFTER", "REMINDER_UNCONFIRMED_AFTER"]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, [90, 30, 180, 1800]),
        ({"SEND_TASK_SOFT_TIME_LIMIT": "100", "SEND_TASK_TIME_LIMIT": "120"}, [120, 30, 240, 1800]),
        ({"REMINDER_STUCK_AFTER": "91", "REMINDER_UNCONFIRMED_AFTER": "91"}, [90, 30, 91, 91]),
    ],
)
def test_the_waits_follow_the_send_time_limit(tmp_path: Path, variables: dict[str, str], expected: list[int]) -> None:
    values = _settings(tmp_path, NAMES, DEBUG="1", **variables)
    assert [values[name] for name in NAMES] == expected


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"REMINDER_RECORD_RETRY_SECONDS": "75"}, "REMINDER_RECORD_RETRY_SECONDS"),  # = the soft limit
        ({"REMINDER_STUCK_AFTER": "90"}, "REMINDER_STUCK_AFTER"),  # = the hard limit
        ({"REMINDER_UNCONFIRMED_AFTER": "179"}, "REMINDER_UNCONFIRMED_AFTER"),  # under REMINDER_STUCK_AFTER
        ({"REMINDER_STUCK_AFTER": "3 minutes"}, "REMINDER_STUCK_AFTER"),
        ({"SEND_BATCH_SIZE": "0"}, "SEND_BATCH_SIZE"),
    ],
)
def test_it_refuses_waits_that_contradict_the_time_limits(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    message = _settings_error(tmp_path, DEBUG="1", **variables)
    assert message.startswith("django.core.exceptions.ImproperlyConfigured") and named in message
