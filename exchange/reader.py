"""Reading the register's files: CSV (UTF-8 with or without a byte-order mark, comma or semicolon) or
XLSX (the first sheet), through tablib (openpyxl underneath for XLSX).

Why tablib rather than django-import-export: the import is not a model-to-row mapping. Each row goes
through the application layer's actions with their own checks, several files refer to each other by
`mrn`, and problems are reported as `FILE row N, column COLUMN`; django-import-export's resources,
diff and admin views would have to be bent around all three. tablib is the format layer it is built
on (same maintainers, Jazzband), and that is all this needs.

Rows are numbered as a spreadsheet shows them: the header is row 1. A CSV's entirely empty lines are
skipped by tablib and not counted (spreadsheets write an empty row as `,,,`, which is counted).

A CSV is read with the standard library's csv.reader directly, in the same loop as tablib's own CSV
import (`tablib.formats._csv.import_set`: empty lines skipped, short rows padded, long rows refused),
so the rows and their numbers are the same; what is left out is the Dataset's bookkeeping per row,
which took most of the reading time of a 600,000-row register (tests/exchange check both paths).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import tablib
from tablib.exceptions import InvalidDimensions

XLSX_MAGIC = b"PK\x03\x04"


def normal(header: object) -> str:
    """Headers match without regard to case, spaces, hyphens or underscores."""
    return re.sub(r"[\s_\-]+", "", str(header or "")).lower()


class UnreadableFile(Exception):
    """The file as a whole cannot be read (not UTF-8, not a spreadsheet, ragged rows)."""


@dataclass
class Table:
    name: str  # the file's role: patients, causes, injections, labs, symptoms, medications
    filename: str
    headers: list[str]  # as written
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (row number, {normal header: cell})


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def load(content: bytes, filename: str) -> tablib.Dataset:
    if content.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        try:
            return tablib.Dataset().load(io.BytesIO(content), format="xlsx")
        except InvalidDimensions as error:
            raise UnreadableFile("a row has more cells than the header") from error
        except Exception as error:  # openpyxl raises many kinds on a damaged workbook
            raise UnreadableFile(f"not a readable XLSX workbook ({type(error).__name__})") from error
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not UTF-8 text (byte {error.start}): save the file as CSV UTF-8") from error
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return tablib.Dataset().load(text, format="csv", delimiter=_delimiter(text))
    except InvalidDimensions as error:
        raise UnreadableFile("a row has more cells than the header") from error


def _csv(content: bytes, filename: str) -> tuple[list[Any], list[list[Any]]]:
    """(headers, rows) of a CSV file, as tablib would load them."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not UTF-8 text (byte {error.start}): save the file as CSV UTF-8") from error
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    headers = next(reader, [])
    width = len(headers)
    rows = []
    for row in reader:
        if not row:
            continue
        if len(row) < width:
            row += [""] * (width - len(row))
        elif len(row) > width:
            raise UnreadableFile("a row has more cells than the header")
        rows.append(row)
    return headers, rows


def read_table(name: str, content: bytes, filename: str) -> Table:
    if content.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        data = load(content, filename)
        found, rows = data.headers or [], list(data)
    else:
        found, rows = _csv(content, filename)
    headers = [str(h).strip() if h is not None else "" for h in found]
    keys = [normal(h) for h in headers]
    table = Table(name=name, filename=filename, headers=headers)
    for index, row in enumerate(rows, start=2):
        cells = {key: _cell(value) for key, value in zip(keys, row, strict=False) if key}
        if all(value in ("", None) for value in cells.values()):
            continue  # an empty spreadsheet row
        table.rows.append((index, cells))
    return table


def _cell(value: object) -> object:
    if isinstance(value, str):
        return value.strip()
    return "" if value is None else value


def unknown_columns(table: Table, known: Iterable[str]) -> list[str]:
    wanted = {normal(column) for column in known}
    return [header for header in table.headers if header and normal(header) not in wanted]
