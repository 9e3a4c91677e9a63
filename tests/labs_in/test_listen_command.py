"""`python manage.py hl7_listen` as production runs it: its own process on the test database, a real
loopback port and a drop folder, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import hl7.client
import pytest

from labs_in import hl7in
from patients.models import LabResult, Patient
from tests.reminders.conftest import (  # noqa: F401
    ROOT,
    _database_url,
    migrated_rows,
    migrated_rows_each,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("migrated_rows_each")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_listens_watches_the_drop_folder_and_stops_on_sigterm(
    alice: Patient, oru: Callable[..., str], tmp_path: Path
) -> None:
    port, folder, log = _free_port(), tmp_path / "in", tmp_path / "listener.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "b12clinic.settings",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "DEBUG": "1",  # as `make run`; production's start-up checks want SITE_URL and the rest
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "manage.py", "hl7_listen", "--port", str(port), "--drop-folder", str(folder)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "Listening for HL7" in log.read_text() or process.poll() is not None, timeout=60)
        assert process.poll() is None, log.read_text()

        client = hl7.client.MLLPClient("127.0.0.1", port)
        client.socket.settimeout(20)
        try:
            ack = client.send_message(oru(control_id="CMD-1")).decode()
        finally:
            client.close()
        assert hl7in.ack_code(ack) == "AA"

        (folder / "batch.hl7").write_text(oru(control_id="CMD-2", observations=[("2276-4", "80", "ug/L")]))
        wait_for(lambda: (folder / "done" / "batch.hl7.ack").exists(), timeout=30)
        assert "MSA|AA|CMD-2" in (folder / "done" / "batch.hl7.ack").read_text()
        assert set(LabResult.objects.filter(patient=alice).values_list("analyte", flat=True)) == {"b12", "ferritin"}

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()
        assert "Stopped." in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
