"""Rules that every text field of the console follows, whichever app it belongs to.

Validators raise Django's `ValidationError` with the Tencent Cloud error code as its
`code`, so a model field, a form field and a service (through `check`) give the same
message, and the API the same code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ValidationError

from .errors import ServiceError

INVALID_VALUE_CODE = "InvalidParameterValue"

Value = TypeVar("Value")

# C0 and C1 control characters and DEL. Tab and line breaks stay allowed in free text
# (a description is a textarea); name patterns refuse them on their own.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_CHARACTERS_REFUSED = (
    "The text contains a control character (such as NUL, U+0000). Remove it and try again."
)


def has_control_characters(value: str) -> bool:
    return _CONTROL_CHARACTER.search(value) is not None


def printable(text: str) -> str:
    """`text` with each control character shown as U+FFFD, to store what a user sent and the rules refuse.

    A batch keeps every row as given, refused ones too, so that its results show them.
    """
    return _CONTROL_CHARACTER.sub("\ufffd", text)


# Text that must stay on one line (a broker's id, a topic, an Audit Log detail): tab and
# line breaks count as control characters too.
_ANY_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_any_control_characters(value: str) -> bool:
    return _ANY_CONTROL_CHARACTER.search(value) is not None


def one_line(text: str, replacement: str = "\ufffd") -> str:
    """`text` with every control character, tab and line breaks included, replaced."""
    return _ANY_CONTROL_CHARACTER.sub(replacement, text)


def reject_control_characters(value: str) -> None:
    # PostgreSQL cannot store NUL in text at all; the other control characters would
    # reach pages, CSV files and the broker's configuration.
    if has_control_characters(value):
        raise ValidationError(CONTROL_CHARACTERS_REFUSED, code=INVALID_VALUE_CODE)


def check(validator: Callable[[Value], None], value: Value, *, field: str | None = None) -> None:
    """Run a field validator inside a service: its refusal becomes a `ServiceError`."""
    try:
        validator(value)
    except ValidationError as error:
        raise ServiceError(error.code or INVALID_VALUE_CODE, error.messages[0], field) from None
