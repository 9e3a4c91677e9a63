"""The bulk export's task in a real Celery worker (another process, the real broker): kick-off,
202 with X-Progress or the manifest, the files read back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from fhir.resources.R4B import get_fhir_model_class

from patients.models import Patient
from tests.conftest import reachable_redis_url
from tests.reminders.conftest import (  # noqa: F401  (the fixtures of transactional tests)
    migrated_rows,
    migrated_rows_each,
    purge,
    start_workers,
    use_broker,
    wait_for,
)

# The worker is another process: it sees only committed data, so this test commits.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("migrated_rows_each"),
    pytest.mark.services,
]


@pytest.fixture
def export_worker(settings, tmp_path: Path, django_db_blocker) -> Iterator[Path]:
    """One worker on a queue of its own, on REDIS_URL's database, writing exports where this test reads."""
    url, queue = reachable_redis_url(), f"fhir-export-test-{uuid.uuid4().hex[:8]}"
    exports = tmp_path / "exports"
    settings.FHIR_EXPORT_DIR = exports
    with django_db_blocker.unblock():
        workers = start_workers(
            count=1,
            broker_url=url,
            queue=queue,
            smtp_port=1,
            directory=tmp_path,
            environment={"FHIR_EXPORT_DIR": str(exports)},
        )
    undo = use_broker(url, queue)
    try:
        yield exports
    finally:
        undo()
        for worker in workers:
            worker.stop()
        purge(url, queue)


def test_a_real_worker_writes_the_export(
    api, token_for, physician: User, charted: Patient, export_worker: Path
) -> None:
    token = token_for(physician)
    kick_off = api("get", "/fhir/$export", token, HTTP_PREFER="respond-async")
    assert kick_off.status_code == 202
    status_url = kick_off["Content-Location"]
    seen = []

    def done() -> bool:
        response = api("get", status_url, token)
        seen.append(response.status_code)
        if response.status_code == 202:
            assert response["X-Progress"]
        return response.status_code == 200

    wait_for(done, timeout=60)
    manifest = json.loads(api("get", status_url, token).content)
    counts = {item["type"]: item["count"] for item in manifest["output"]}
    assert (counts["Patient"], counts["MedicationAdministration"], counts["Observation"]) == (1, 2, 3)
    for item in manifest["output"]:
        lines = b"".join(api("get", item["url"], token).streaming_content).decode().splitlines()
        model = get_fhir_model_class(item["type"])
        assert [model.model_validate_json(line).get_resource_type() for line in lines] == [item["type"]] * item["count"]
    assert any(export_worker.glob("*/Patient.ndjson"))
