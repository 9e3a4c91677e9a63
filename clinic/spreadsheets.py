"""Cells and CSV files for spreadsheets, shared by the exports (exchange) and the pages of this layer
(the outreach report). Every cell that a spreadsheet would read as a formula (starting with =, +, -,
@, a tab or a carriage return) is prefixed with a quote (OWASP's advice on CSV injection): a patient
named `=HYPERLINK(...)` stays text. Pure, apart from reading the current time zone for datetimes."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal

import tablib
from django.http import HttpResponse
from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """The cell as text, with a leading quote if a spreadsheet would run it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)  # a number, never a formula (days_until may be negative)
    if isinstance(value, datetime.datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        text = local.strftime("%Y-%m-%d %H:%M:%S.%f" if local.microsecond else "%Y-%m-%d %H:%M:%S")
    elif isinstance(value, datetime.date):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        return f"{value.normalize():f}"
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def dataset(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> tablib.Dataset:
    data = tablib.Dataset(headers=list(headers))
    for row in rows:
        data.append([neutralise(value) for value in row])
    return data


def csv_bytes(data: tablib.Dataset) -> bytes:
    """UTF-8 with a byte-order mark, which spreadsheet programs need to read accents right."""
    return ("\ufeff" + data.export("csv")).encode("utf-8")


def csv_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> HttpResponse:
    """A CSV download of `rows`, every cell neutralised."""
    response = HttpResponse(csv_bytes(dataset(headers, rows)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
