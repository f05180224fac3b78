"""Form errors with the Tencent error code beside each message, as the API reports them."""

from __future__ import annotations

import re

from django import template
from django.forms.utils import ErrorList

register = template.Library()

# Tencent's codes are dotted CamelCase (`InvalidParameterValue.CACertNotMatch`);
# Django's own codes (`required`, `max_length`) are snake_case and name no Tencent code.
TENCENT_CODE = re.compile(r"[A-Z][A-Za-z0-9]*(\.[A-Z][A-Za-z0-9]*)*")


@register.filter
def with_codes(errors: ErrorList | None) -> list[tuple[str, str]]:
    """Each error's message and its Tencent error code ("" where it has none)."""
    if not errors:
        return []
    pairs = []
    for error in errors.as_data():
        code = error.code or ""
        for message in error.messages:  # with its parameters filled in
            pairs.append((message, code if TENCENT_CODE.fullmatch(code) else ""))
    return pairs
