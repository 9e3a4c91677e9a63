"""The drop folder: files received as receive_hl7 would, then moved to done/ beside their ACKs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from labs_in.drop_folder import drop_folder_scan
from patients.models import LabResult, Patient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "age_seconds", "taken"),
    [
        ("results.hl7", 10, True),
        ("RESULTS", 10, True),
        ("results.hl7.tmp", 10, False),
        ("results.part", 10, False),
        (".results.hl7", 10, False),
        ("results.hl7", 0, False),  # still being written
    ],
)
def test_it_takes_only_finished_files(
    alice: Patient, oru: Callable[..., str], tmp_path: Path, name: str, age_seconds: float, taken: bool
) -> None:
    (tmp_path / name).write_text(oru() + oru(mrn="MRN-404"))
    now = time.time() + age_seconds

    done = drop_folder_scan(folder=tmp_path, clinic=None, now=now)

    assert bool(done) is taken
    assert LabResult.objects.filter(patient=alice).exists() is taken
    if taken:
        assert not (tmp_path / name).exists()
        acks = (tmp_path / "done" / f"{name}.ack").read_text()
        assert "MSA|AA|" in acks and "MSA|AE|" in acks


def test_a_file_of_the_same_name_again_is_kept_apart(alice: Patient, oru: Callable[..., str], tmp_path: Path) -> None:
    for _ in range(2):
        (tmp_path / "results.hl7").write_text(oru(control_id="SAME"))
        drop_folder_scan(folder=tmp_path, clinic=None, now=time.time() + 10)
    assert len(list((tmp_path / "done").glob("*.ack"))) == 2
    assert LabResult.objects.count() == 1  # the same control id: nothing new
