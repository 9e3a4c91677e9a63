"""Receiving ORU^R01 messages (labs_in.actions.message_receive and `receive_hl7 FILE...`): matching on
the record number and the birth date together, the LOINC table, the ACKs, duplicates, the queue."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Clinic
from labs_in import hl7in
from labs_in.actions import message_receive
from labs_in.models import LoincCode, ReceivedMessage, ReceivedResult, ResultStatus
from patients.models import LabResult, Patient

pytestmark = pytest.mark.django_db


def test_it_records_a_matched_result_with_its_unit_canonical_value_and_source(
    alice: Patient, oru: Callable[..., str]
) -> None:
    receipt = message_receive(text=oru(control_id="LAB-1", observations=[("14685-2", "258.2", "pmol/L")]))

    assert receipt.code == "AA"
    assert hl7in.ack_code(receipt.ack) == "AA"
    assert "MSA|AA|LAB-1" in receipt.ack
    lab = LabResult.objects.get(patient=alice)
    assert (lab.analyte, lab.value_entered, lab.unit_entered) == ("b12", Decimal("258.2"), "pmol/L")
    assert lab.value_canonical == Decimal("349.9593")
    assert lab.collected_on.isoformat() == "2026-02-28"
    assert lab.received_result.message.control_id == "LAB-1"
    assert lab.received_result.message.raw.startswith("MSH|^~\\&|FAKELAB")
    assert "LAB-1" in lab.notes


@pytest.mark.parametrize(
    ("code", "value", "unit", "analyte"),
    [
        ("2132-9", "350", "pg/mL", "b12"),
        ("13964-2", "250", "nmol/L", "mma"),
        ("13965-9", "11", "umol/L", "homocysteine"),
        ("2276-4", "80", "ug/L", "ferritin"),
        ("2502-3", "25", "%", "transferrin_saturation"),
        ("2284-8", "9", "ng/mL", "folate"),
        ("62292-8", "30", "ng/mL", "vitamin_d"),
        ("718-7", "13.5", "g/dL", "hemoglobin"),
        ("787-2", "92", "fL", "mcv"),
    ],
)
def test_it_maps_each_loinc_code_to_its_analyte(
    alice: Patient, oru: Callable[..., str], code: str, value: str, unit: str, analyte: str
) -> None:
    assert message_receive(text=oru(observations=[(code, value, unit)])).code == "AA"
    assert LabResult.objects.get(patient=alice).analyte == analyte


def test_it_uses_a_code_the_clinic_added(alice: Patient, oru: Callable[..., str]) -> None:
    LoincCode.objects.create(code="99999-1", analyte="b12", description="Local B12")
    assert message_receive(text=oru(observations=[("99999-1", "400", "pg/mL")])).code == "AA"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"mrn": "MRN-404"}, "Unknown patient"),
        ({"birth_date": "19700511"}, "Unknown patient"),
        ({"mrn": ""}, "No record number"),
        ({"birth_date": ""}, "No readable birth date"),
        ({"observations": [("12345-6", "350", "pg/mL")]}, "Unknown LOINC code 12345-6"),
        ({"observations": [("2132-9", "350", "furlongs")]}, "Unknown unit"),
        ({"observations": [("2132-9", "999999", "pg/mL")]}, "Refused"),
        ({"observations": [("2132-9", "3000", "pg/mL")]}, "Needs confirmation"),
        ({"observations": [("2132-9", "<50", "pg/mL")]}, "Refused"),
        ({"status": "P"}, "Not a final result"),
    ],
)
def test_it_queues_what_it_cannot_record_with_the_reason(
    alice: Patient, oru: Callable[..., str], overrides: dict[str, object], reason: str
) -> None:
    receipt = message_receive(text=oru(**overrides))

    assert receipt.code == "AE"
    assert reason in receipt.ack
    assert "ERR|" in receipt.ack
    queued = ReceivedResult.objects.get()
    assert queued.status == ResultStatus.PENDING
    assert queued.reason.startswith(reason)
    assert not LabResult.objects.exists()


@pytest.mark.parametrize("mrn", ["", "   ", "^^^B12CLINIC^MR"])
def test_it_never_matches_on_a_blank_record_number(alice: Patient, oru: Callable[..., str], mrn: str) -> None:
    # Alice has the message's birth date: a lookup on the birth date alone would pick her.
    message_receive(text=oru(mrn=mrn).replace("PID|1||^^^B12CLINIC^MR^^^B12CLINIC^MR", "PID|1||^^^B12CLINIC^MR"))
    queued = ReceivedResult.objects.get()
    assert queued.patient is None and queued.reason.startswith("No record number")
    assert not LabResult.objects.exists()


@pytest.mark.parametrize(
    "pid3",
    ["MRN-100", "MRN-100^^^B12CLINIC^MR", "INS-1^^^PAYER^HC~MRN-100^^^B12CLINIC^MR", "MRN-100^^^B12^MR~INS-1^^^P^HC"],
)
def test_it_finds_the_record_number_among_the_identifiers(alice: Patient, oru: Callable[..., str], pid3: str) -> None:
    text = oru().replace("PID|1||MRN-100^^^B12CLINIC^MR|", f"PID|1||{pid3}|")
    assert message_receive(text=text).code == "AA"


def test_it_records_the_matched_rows_and_queues_the_others_of_one_message(
    alice: Patient, oru: Callable[..., str]
) -> None:
    receipt = message_receive(text=oru(observations=[("2132-9", "350", "pg/mL"), ("0000-0", "1", "mg")]))
    assert receipt.code == "AE"
    assert [r.status for r in ReceivedResult.objects.order_by("set_id")] == ["recorded", "pending"]
    assert LabResult.objects.count() == 1


def test_it_records_nothing_new_for_the_same_control_id(alice: Patient, oru: Callable[..., str]) -> None:
    text = oru(control_id="DUP-1")
    first = message_receive(text=text)
    second = message_receive(text=text)

    assert second.duplicate and second.ack == first.ack and second.code == "AA"
    assert LabResult.objects.count() == 1
    assert ReceivedMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hello", "does not start with an MSH"),
        ("MSH|^~\\&|LAB|X|B12|Y|20260301||ADT^A01|C1|P|2.5.1\rPID|1||MRN-100\r", "Only ORU R01"),
        ("MSH|^~\\&|LAB|X|B12|Y|20260301||ORU^R01||P|2.5.1\rPID|1||MRN-100\r", "no control id"),
        ("MSH|^~\\&|LAB|X|B12|Y|20260301||ORU^R01|C2|P|2.5.1\rPID|1||MRN-100\r", "no OBX"),
        (
            "MSH|^~\\&|LAB|X|B12|Y|20260301||ORU^R01|C3|P|2.5.1\rPID|1||MRN-100||A^B||19700510\r"
            "OBX|1|NM|2132-9^B12^LN||350|pg/mL|||||F|||20260228\rPID|2||MRN-200||C^D||19800101\r"
            "OBX|1|NM|2132-9^B12^LN||999|pg/mL|||||F|||20260228\r",
            "several PID segments",
        ),
    ],
)
def test_it_rejects_what_it_cannot_read_with_ar(text: str, reason: str, db: None) -> None:
    receipt = message_receive(text=text)
    assert receipt.code == "AR"
    assert reason in receipt.ack
    assert not ReceivedMessage.objects.exists()


def test_it_matches_only_in_the_clinic_it_serves(alice: Patient, oru: Callable[..., str]) -> None:
    south = Clinic.objects.create(name="South", slug="south")
    receipt = message_receive(text=oru(), clinic=south)
    assert receipt.code == "AE" and "Unknown patient" in receipt.ack


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"], ids=["cr", "lf", "crlf"])
@pytest.mark.parametrize("framed", [False, True], ids=["bare", "mllp"])
def test_it_reads_files_of_several_messages_and_prints_each_ack(
    alice: Patient, oru: Callable[..., str], tmp_path: Path, end: str, framed: bool
) -> None:
    messages = [oru(end=end), oru(end=end, observations=[("2276-4", "80", "ug/L")]), oru(mrn="MRN-404", end=end)]
    content = "".join(hl7in.frame(m).decode() if framed else m for m in messages)
    path = tmp_path / "results.hl7"
    path.write_text(content)
    out = io.StringIO()

    call_command("receive_hl7", str(path), stdout=out)

    codes = [line.split("|")[1] for line in out.getvalue().splitlines() if line.startswith("MSA|")]
    assert codes == ["AA", "AA", "AE"]
    assert LabResult.objects.count() == 2


def test_it_queues_the_same_result_sent_again_under_a_new_control_id(alice: Patient, oru: Callable[..., str]) -> None:
    assert message_receive(text=oru(control_id="A")).code == "AA"
    receipt = message_receive(text=oru(control_id="B"))
    assert receipt.code == "AE" and "Needs confirmation" in receipt.ack
    assert LabResult.objects.count() == 1


def test_a_clinic_admin_may_extend_the_loinc_table(clinic_admin: object) -> None:
    assert clinic_admin.has_perm("labs_in.add_loinccode")  # type: ignore[attr-defined]


def test_it_reads_hl7_escapes_in_names(oru: Callable[..., str], db: None) -> None:
    message_receive(text=oru(family_name="O\\T\\BRIEN", mrn="MRN-404"))
    assert ReceivedResult.objects.get().family_name == "O&BRIEN"
