from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from labs_in import hl7in
from patients.models import Patient
from tests.ui.conftest import nurse_client, physician_client  # noqa: F401  (the page tests)

BIRTH = "19700510"


@pytest.fixture
def alice(make_patient: Callable[..., Patient]) -> Patient:
    return make_patient(mrn="MRN-100", birth_date=datetime.date(1970, 5, 10))


@pytest.fixture
def oru() -> Callable[..., str]:
    """An ORU^R01 for Alice (MRN-100, born 1970-05-10) with one B12 of 350 pg/mL, unless overridden."""
    counter = iter(range(1, 10_000))

    def make(**overrides: Any) -> str:
        values: dict[str, Any] = {
            "control_id": f"MSG{next(counter):05d}",
            "mrn": "MRN-100",
            "birth_date": BIRTH,
            "observations": [("2132-9", "350", "pg/mL")],
        }
        values.update(overrides)
        return hl7in.compose_oru(**values)

    return make
