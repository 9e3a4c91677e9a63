"""The CSV reader gives the rows tablib's own CSV import gives (exchange.reader), numbered alike."""

from __future__ import annotations

import pytest

from exchange.reader import UnreadableFile, _csv, load, read_table


@pytest.mark.parametrize(
    "text",
    [
        "mrn,first_name\nR-1,Ada\nR-2,Alan\n",
        "\ufeffmrn;first_name\r\nR-1;Ada\r\n",  # a byte-order mark, semicolons, CRLF
        "mrn,first_name\n\nR-1,Ada\n\n\nR-2,Alan",  # empty lines skipped, no newline at the end
        "mrn,first_name,last_name\nR-1\nR-2,Alan,\n",  # a short row padded
        'mrn,note\nR-1,"two\nlines, and a comma"\nR-2,"say ""hi"""\n',  # quoted cells
        "mrn,first_name\n,\n",  # a spreadsheet's empty row: kept (and counted)
        "mrn\r\rR-1\r",  # old Mac line ends
        "",
    ],
)
def test_it_reads_a_csv_as_tablib_does(text: str) -> None:
    content = text.encode("utf-8")
    headers, rows = _csv(content, "f.csv")
    reference = load(content, "f.csv")
    assert headers == (reference.headers or [])
    assert rows == [list(row) for row in reference]


def test_it_refuses_a_row_longer_than_the_header_as_tablib_does() -> None:
    content = b"mrn,first_name\nR-1,Ada,extra\n"
    with pytest.raises(UnreadableFile, match="more cells than the header"):
        load(content, "f.csv")
    with pytest.raises(UnreadableFile, match="more cells than the header"):
        _csv(content, "f.csv")


def test_it_numbers_rows_as_a_spreadsheet_shows_them_less_the_empty_lines() -> None:
    table = read_table("patients", b"mrn,first_name\nR-1,Ada\n\nR-2,Alan\n", "p.csv")
    assert [(number, cells["mrn"]) for number, cells in table.rows] == [(2, "R-1"), (3, "R-2")]
