"""Checking an action's JSON parameters against its declared shape.

Each failure is an `ApiError` with Tencent's common code: MissingParameter,
UnknownParameter, InvalidParameter (wrong type) or InvalidParameterValue (out of range).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iothub_console.errors import RuleError
from iothub_console.validators import CONTROL_CHARACTERS_REFUSED, INVALID_VALUE_CODE, has_control_characters


class ApiError(RuleError):
    """A request the API refuses before any service sees it; `code` is Tencent's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Param:
    kind: str  # "str", "int", "str_list", "object", "object_list"
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple | None = None
    fields: dict[str, Param] = field(default_factory=dict)  # for objects


_KIND_WORDS = {
    "str": "a string",
    "int": "an integer",
    "str_list": "a list of strings",
    "object": "an object",
    "object_list": "a list of objects",
}


def validate(params: Any, spec: dict[str, Param], prefix: str = "") -> dict[str, Any]:
    """The parameters, checked; absent optional ones are left out."""
    if not isinstance(params, dict):
        raise ApiError(
            "InvalidParameter", f"The parameter {prefix.rstrip('.') or 'body'} must be a JSON object."
        )
    for name in params:
        if name not in spec:
            raise ApiError(
                "UnknownParameter", f"The parameter {prefix}{name} is not recognised by this action."
            )
    checked: dict[str, Any] = {}
    for name, rule in spec.items():
        full_name = f"{prefix}{name}"
        if name not in params or params[name] is None:
            if rule.required:
                raise ApiError("MissingParameter", f"The parameter {full_name} is required.")
            continue
        checked[name] = _check(params[name], rule, full_name)
    return checked


def _check(value: Any, rule: Param, name: str) -> Any:
    if not _has_kind(value, rule.kind):
        raise ApiError("InvalidParameter", f"The parameter {name} must be {_KIND_WORDS[rule.kind]}.")
    if rule.kind == "str":
        _check_text(value, name)
    if rule.kind == "str_list":
        for index, item in enumerate(value):
            _check_text(item, f"{name}.{index}")
    if rule.kind == "object":
        return validate(value, rule.fields, prefix=f"{name}.")
    if rule.kind == "object_list":
        return [validate(item, rule.fields, prefix=f"{name}.{index}.") for index, item in enumerate(value)]
    if rule.kind == "int" and (
        (rule.minimum is not None and value < rule.minimum)
        or (rule.maximum is not None and value > rule.maximum)
    ):
        raise ApiError(
            "InvalidParameterValue",
            f"The parameter {name} must be between {rule.minimum} and {rule.maximum}, not {value}.",
        )
    if rule.choices is not None and value not in rule.choices:
        allowed = ", ".join(repr(choice) for choice in rule.choices)
        raise ApiError(
            "InvalidParameterValue", f"The parameter {name} must be one of {allowed}, not {value!r}."
        )
    return value


def _check_text(value: str, name: str) -> None:
    # JSON's \u escapes can spell what no database column holds: NUL (PostgreSQL text
    # refuses it) and lone surrogates (not encodable as UTF-8). Every other control
    # character is refused too, by the console's own rule, in every string parameter.
    if has_control_characters(value):
        raise ApiError(INVALID_VALUE_CODE, f"The parameter {name}: {CONTROL_CHARACTERS_REFUSED}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            INVALID_VALUE_CODE, f"The parameter {name} must be Unicode text (it holds a lone surrogate)."
        ) from None


def _has_kind(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "str_list":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "object_list":
        return isinstance(value, list) and all(isinstance(item, dict) for item in value)
    raise ValueError(f"unknown parameter kind {kind!r}")
