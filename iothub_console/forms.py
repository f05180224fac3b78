"""Form fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django import forms


class RuleField(forms.CharField):
    """A text field whose validators are one rule: the first refusal is the only message.

    A name that is too long and also holds a space breaks one rule (the name pattern),
    and the user reads that rule once, not once per validator that noticed.
    """

    def run_validators(self, value: Any) -> None:
        if value in self.empty_values:
            return
        for validator in self.validators:
            validator(value)
