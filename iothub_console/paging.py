"""Keys of keyset pages, read from a query string the user can edit."""

from __future__ import annotations

MAX_KEY_DIGITS = 18  # every 18-digit number fits a 64-bit id column


def id_key(value: str | None) -> int | None:
    """A page key from the query string; anything but a plausible id means the first page.

    ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
    """
    if value is None or not value.isascii() or not value.isdigit() or len(value) > MAX_KEY_DIGITS:
        return None
    return int(value)
