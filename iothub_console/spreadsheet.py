"""CSV for spreadsheets: every CSV the console writes goes through `SpreadsheetWriter`.

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@`
as a formula (`=HYPERLINK(...)` in a device name would be a link on the user's
screen), and a leading tab or carriage return hides such a prefix from a naive check.
A leading apostrophe makes the spreadsheet show the cell as text; the value itself
(a device name such as `-2-3`) is unchanged everywhere else. Pure: no Django.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(value: object) -> str:
    """The cell as text, with an apostrophe in front if a spreadsheet would read a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


class SpreadsheetWriter:
    """`csv.writer` (CRLF lines, as RFC 4180 and Excel expect) that neutralises every cell."""

    def __init__(self, stream: _Writable) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)
