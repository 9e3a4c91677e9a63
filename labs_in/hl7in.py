"""HL7 v2 `ORU^R01` in: framing, parsing and ACKs, with python-hl7 (`hl7`). No database here.

Messages come MLLP-framed (<VT> message <FS><CR>) or bare, with segments ended by CR, LF or CRLF;
`split_messages` finds each message in a file or a stream's buffer, `parse` turns one into an
`Oru` of plain values (the patient's fields and one `Observation` per OBX) or raises `Unparseable`.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

import hl7

VT, FS, CR = "\x0b", "\x1c", "\r"
_SEGMENT_END = re.compile(r"\r\n|\n|\r")


class Unparseable(ValueError):
    """Not an ORU^R01 we can read: the answer is an AR."""


@dataclass(frozen=True)
class Observation:
    set_id: str
    code: str  # OBX-3.1, a LOINC code
    code_text: str  # OBX-3.2
    code_system: str  # OBX-3.3 (LN)
    value: str  # OBX-5
    unit: str  # OBX-6.1
    reference_range: str  # OBX-7
    abnormal_flag: str  # OBX-8
    status: str  # OBX-11: F final, C corrected, P preliminary ...
    observed_on: datetime.date | None  # OBX-14, else OBR-7


@dataclass(frozen=True)
class Oru:
    control_id: str  # MSH-10
    sending_application: str  # MSH-3
    sending_facility: str  # MSH-4
    sent_at: str  # MSH-7 as written
    mrn: str  # PID-3.1, stripped
    birth_date: datetime.date | None  # PID-7
    family_name: str  # PID-5.1
    given_name: str  # PID-5.2
    sex: str  # PID-8
    observations: tuple[Observation, ...] = field(default=())


def normalise(text: str) -> str:
    """One message with its MLLP frame removed and every segment ended by CR."""
    text = text.replace(VT, "").replace(FS, "")
    segments = [segment for segment in _SEGMENT_END.split(text) if segment.strip()]
    return CR.join(segments) + CR if segments else ""


def split_messages(text: str) -> list[str]:
    """The messages of a file: each starts at an MSH segment (framed or not)."""
    text = text.replace(VT, "\n").replace(FS, "\n")
    messages: list[list[str]] = []
    for segment in _SEGMENT_END.split(text):
        if not segment.strip():
            continue
        if segment.startswith("MSH") or not messages:
            messages.append([])
        messages[-1].append(segment)
    return [CR.join(segments) + CR for segments in messages]


def hl7_date(value: str) -> datetime.date | None:
    """The date of an HL7 DT/DTM (YYYYMMDD[HHMM[SS]][+ZZZZ]); None when blank or not a date."""
    digits = value.strip()[:8]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _field(segment: hl7.Segment, index: int, component: int = 1, repeat: int = 1) -> str:
    """Field `index`, its `repeat`th repetition's `component`, as text ("" when absent)."""
    try:
        return str(segment.extract_field(field_num=index, repeat_num=repeat, component_num=component)).strip()
    except (IndexError, KeyError, TypeError, ValueError):
        return ""


def _record_number(pid: hl7.Segment) -> str:
    """PID-3: the identifier typed MR (medical record number) among its repetitions, else the first.
    Laboratories often send an insurance or national number first."""
    first = _field(pid, 3, 1)
    for repeat in range(1, 11):
        value = _field(pid, 3, 1, repeat)
        if not value and repeat > 1:
            break
        if value and _field(pid, 3, 5, repeat).upper() == "MR":
            return value
    return first


def parse(text: str) -> Oru:
    raw = normalise(text)
    if not raw.startswith("MSH"):
        raise Unparseable("The message does not start with an MSH segment.")
    try:
        message = hl7.parse(raw)
        msh = message.segment("MSH")
    except (hl7.ParseException, KeyError, IndexError, ValueError) as error:
        raise Unparseable(f"The message cannot be parsed: {error}") from error
    kind = f"{_field(msh, 9, 1)}^{_field(msh, 9, 2)}"
    if kind != "ORU^R01":
        raise Unparseable(
            f"Only ORU^R01 results are received here, not {kind.strip('^') or 'a message without a type'}."
        )
    control_id = _field(msh, 10)
    if not control_id:
        raise Unparseable("The message has no control id (MSH-10).")
    pids = [segment for segment in message if str(segment[0]) == "PID"]
    if not pids:
        raise Unparseable("The message has no PID segment.")
    if len(pids) > 1:
        # Several patients in one ORU: refused whole rather than risk an OBX under the wrong PID.
        raise Unparseable("One patient a message: this one has several PID segments; send one message each.")
    pid = pids[0]
    observations = []
    observed: datetime.date | None = None

    def text(value: str) -> str:
        """HL7 escapes (\\T\\ for &, \\S\\ for ^ ...) read back as the characters they stand for."""
        return message.unescape(value) if "\\" in value else value

    for segment in message:
        name = str(segment[0])
        if name == "OBR":
            observed = hl7_date(_field(segment, 7))
        elif name == "OBX":
            observations.append(
                Observation(
                    set_id=_field(segment, 1),
                    code=_field(segment, 3, 1),
                    code_text=text(_field(segment, 3, 2)),
                    code_system=_field(segment, 3, 3),
                    value=text(_field(segment, 5)),
                    unit=text(_field(segment, 6, 1)),
                    reference_range=_field(segment, 7),
                    abnormal_flag=_field(segment, 8),
                    status=_field(segment, 11),
                    observed_on=hl7_date(_field(segment, 14)) or observed,
                )
            )
    if not observations:
        raise Unparseable("The message has no OBX segment.")
    return Oru(
        control_id=control_id,
        sending_application=_field(msh, 3),
        sending_facility=_field(msh, 4),
        sent_at=_field(msh, 7),
        mrn=_record_number(pid),
        birth_date=hl7_date(_field(pid, 7)),
        family_name=text(_field(pid, 5, 1)),
        given_name=text(_field(pid, 5, 2)),
        sex=_field(pid, 8),
        observations=tuple(observations),
    )


def _clean(text: str) -> str:
    """Text safe inside an HL7 field: no delimiters, no line breaks, at most 80 characters."""
    return re.sub(r"[|^~\\&\r\n]", " ", text)[:80]


def ack(text: str, code: str, reason: str = "", *, control_id: str) -> str:
    """The ACK for message `text` (as received): MSH, then MSA with `code` (AA, AE, AR) and the
    reason in MSA-3, and an ERR segment for AE and AR. Built by hand when the MSH cannot be read."""
    raw = normalise(text)
    msh_fields: list[str] = raw.split(CR, 1)[0].split("|") if raw.startswith("MSH|") else []
    msh_fields += [""] * (12 - len(msh_fields))
    encoding = msh_fields[1] or "^~\\&"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    trigger = msh_fields[8].split("^")[1] if "^" in msh_fields[8] else ""
    header = [
        "MSH",
        encoding,
        msh_fields[4] or "B12CLINIC",
        msh_fields[5],
        msh_fields[2],
        msh_fields[3],
        now,
        "",
        f"ACK^{trigger}^ACK" if trigger else "ACK",
        control_id,
        msh_fields[10] or "P",
        msh_fields[11] or "2.5.1",
    ]
    segments = ["|".join(header), "|".join(["MSA", code, _clean(msh_fields[9]), _clean(reason)])]
    if code != "AA":
        severity = "E"
        segments.append(
            "|".join(["ERR", "", "", "207^Application internal error^HL70357", severity, "", "", "", _clean(reason)])
        )
    return CR.join(segments) + CR


def ack_code(ack_text: str) -> str:
    """MSA-1 of an ACK."""
    for segment in normalise(ack_text).split(CR):
        if segment.startswith("MSA|"):
            return segment.split("|")[1]
    return ""


def frame(text: str) -> bytes:
    return (VT + text + FS + CR).encode("utf-8")


def compose_oru(
    *,
    control_id: str,
    mrn: str,
    birth_date: str,
    observations: list[tuple[str, str, str]],
    family_name: str = "Example",
    given_name: str = "Alice",
    sex: str = "F",
    observed_at: str = "20260228090000",
    sending_application: str = "FAKELAB",
    sending_facility: str = "FAKELAB-CORE",
    status: str = "F",
    end: str = CR,
) -> str:
    """An ORU^R01 as a laboratory sends it: `observations` are (LOINC code, value, unit) rows. For the
    fake laboratory and the tests."""
    segments = [
        f"MSH|^~\\&|{sending_application}|{sending_facility}|B12CLINIC|B12CLINIC|{observed_at}||ORU^R01^ORU_R01|"
        f"{control_id}|P|2.5.1",
        f"PID|1||{mrn}^^^B12CLINIC^MR||{family_name}^{given_name}||{birth_date}|{sex}",
        f"OBR|1||{control_id}-1|CHEM^Chemistry panel^L|||{observed_at}",
    ]
    for number, (code, value, unit) in enumerate(observations, start=1):
        segments.append(
            f"OBX|{number}|NM|{code}^{_LOINC_NAMES.get(code, 'Unknown test')}^LN||{value}|{unit}|||||{status}|||{observed_at}"
        )
    return end.join(segments) + end


# Short names for compose_oru's OBX-3.2 (the clinic reads the code; the name is for people).
_LOINC_NAMES: dict[str, str] = {
    "2132-9": "Vitamin B12",
    "14685-2": "Vitamin B12",
    "13964-2": "Methylmalonic acid",
    "13965-9": "Homocysteine",
    "2276-4": "Ferritin",
    "2502-3": "Transferrin saturation",
    "2284-8": "Folate",
    "62292-8": "25-OH vitamin D",
    "718-7": "Hemoglobin",
    "787-2": "MCV",
}
