"""The real MLLP listener on a loopback port, in a thread, with real HL7 messages over a socket."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

import hl7.client
import pytest
from django.core.management import call_command

from labs_in import hl7in
from labs_in.listener import MllpListener
from labs_in.models import ReceivedMessage, ReceivedResult
from patients.models import LabResult, Patient
from tests.reminders.conftest import migrated_rows, migrated_rows_each  # noqa: F401

# The listener's database work runs in another thread: its own connection, so committed data.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("migrated_rows_each")]


@pytest.fixture
def listener() -> Iterator[MllpListener]:
    server = MllpListener(host="127.0.0.1", port=0, clinic=None)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    assert server.ready.wait(10)
    yield server
    server.stop()
    thread.join(10)


def send(listener: MllpListener, *messages: str) -> list[str]:
    """Each message on one connection, and the ACK that came back for it."""
    assert listener.address
    client = hl7.client.MLLPClient(*listener.address)
    client.socket.settimeout(20)
    try:
        return [hl7in.normalise(client.send_message(message).decode()) for message in messages]
    finally:
        client.close()


def test_it_answers_each_message_on_one_connection_with_its_ack(
    listener: MllpListener, alice: Patient, oru: Callable[..., str]
) -> None:
    acks = send(
        listener,
        oru(control_id="L-1", observations=[("2132-9", "350", "pg/mL"), ("2276-4", "40", "ng/mL")]),
        oru(control_id="L-2", mrn="MRN-404"),
        oru(control_id="L-3", mrn=""),
        oru(control_id="L-4", observations=[("12345-6", "1", "pg/mL")]),
        oru(control_id="L-5", observations=[("2132-9", "999999", "pg/mL")]),
        "MSH|^~\\&|FAKELAB|X|B12|Y|20260301||ADT^A01|L-6|P|2.5.1\r",
        oru(control_id="L-1"),
    )

    assert [hl7in.ack_code(ack) for ack in acks] == ["AA", "AE", "AE", "AE", "AE", "AR", "AA"]
    assert "MSA|AA|L-1" in acks[0]
    assert "Unknown patient" in acks[1]
    assert "No record number" in acks[2]
    assert "Unknown LOINC code 12345-6" in acks[3]
    assert "Refused" in acks[4] and "value" in acks[4]
    assert acks[6] == acks[0]  # the duplicate: the first ACK again, nothing new
    labs = {lab.analyte: lab for lab in LabResult.objects.filter(patient=alice)}
    assert set(labs) == {"b12", "ferritin"}
    assert (labs["ferritin"].value_entered, labs["ferritin"].unit_entered) == (Decimal("40"), "ng/mL")
    assert (labs["ferritin"].value_canonical, labs["ferritin"].unit_canonical) == (Decimal("40"), "ug/L")
    assert labs["b12"].received_result.message.control_id == "L-1"
    assert ReceivedMessage.objects.filter(control_id="L-1").count() == 1
    queued = dict(ReceivedResult.objects.filter(status="pending").values_list("message__control_id", "reason"))
    assert set(queued) == {"L-2", "L-3", "L-4", "L-5"}
    assert queued["L-5"].startswith("Refused")
    assert ReceivedResult.objects.get(message__control_id="L-3").patient is None


def test_it_serves_several_senders_at_once(listener: MllpListener, alice: Patient, oru: Callable[..., str]) -> None:
    results: list[list[str]] = []
    threads = [
        threading.Thread(
            target=lambda n=n: results.append(
                send(listener, oru(control_id=f"P-{n}", observations=[("2132-9", str(300 + n), "pg/mL")]))
            )
        )
        for n in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(hl7in.ack_code(acks[0]) for acks in results) == ["AA", "AA", "AA"]


def test_it_closes_a_connection_whose_framing_is_lost_and_keeps_listening(
    listener: MllpListener, alice: Patient, oru: Callable[..., str]
) -> None:
    assert listener.address
    with socket.create_connection(listener.address, timeout=10) as raw:
        raw.sendall(b"not a frame" + b"\x1c\r")
        assert raw.recv(100) == b""  # closed by the listener
    assert hl7in.ack_code(send(listener, oru())[0]) == "AA"


def test_the_fake_laboratory_sends_results_the_listener_records_or_queues(
    listener: MllpListener, alice: Patient
) -> None:
    assert listener.address
    out = io.StringIO()
    host, port = listener.address
    call_command("fake_lab", host=host, port=port, count=1, seed=7, wait=5, stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["AA", "AE"]  # Alice's panel; a stranger's B12
    assert {"b12", "folate", "hemoglobin", "mcv"} <= set(
        LabResult.objects.filter(patient=alice).values_list("analyte", flat=True)
    )
    assert ReceivedResult.objects.get(status="pending").reason.startswith("Unknown patient")
