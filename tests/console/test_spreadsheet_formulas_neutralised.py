"""CSV written for spreadsheets (pure, no database): formula prefixes are neutralised, the rest is left alone."""

from __future__ import annotations

import csv
import io

import pytest

from iothub_console import spreadsheet


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1+2", "'+1+2"),
        ("-2-3", "'-2-3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        (-5, "'-5"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_as_a_formula_gets_an_apostrophe(value, cell):
    assert spreadsheet.neutralise(value) == cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("dev_01", "dev_01"),
        ("a=b", "a=b"),
        ("2-3", "2-3"),
        ("", ""),
        (None, ""),
        (12, "12"),
        ("'quoted", "'quoted"),
    ],
)
def test_other_cells_are_written_as_they_are(value, cell):
    assert spreadsheet.neutralise(value) == cell


def test_the_writer_neutralises_every_cell_of_every_row_with_crlf_lines():
    buffer = io.StringIO()
    writer = spreadsheet.SpreadsheetWriter(buffer)

    writer.writerow(["row", "device_name"])
    writer.writerows([[1, "-2-3"], [2, "=1+1"], [3, "plain, with comma"]])

    assert buffer.getvalue() == "row,device_name\r\n1,'-2-3\r\n2,'=1+1\r\n3,\"plain, with comma\"\r\n"
    assert list(csv.reader(io.StringIO(buffer.getvalue(), newline=""))) == [
        ["row", "device_name"],
        ["1", "'-2-3"],
        ["2", "'=1+1"],
        ["3", "plain, with comma"],
    ]
