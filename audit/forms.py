from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from django import forms
from django.utils.html import format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from .models import AuditEntry
from .selectors import EntryFilter

DATES_REVERSED = "The first day must not be after the last day."


DATE_ATTRS = {"class": "form-control form-control-sm"}


class DateInput(forms.DateInput):
    input_type = "date"


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(
        label="Object",
        required=False,
        choices=[("", "All objects"), *AuditEntry.ObjectType.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "All actions"), *AuditEntry.Action.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    since = forms.DateField(label="From (UTC)", required=False, widget=DateInput(DATE_ATTRS))
    until = forms.DateField(label="To (UTC)", required=False, widget=DateInput(DATE_ATTRS))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", DATES_REVERSED)
        return data

    def options(self, name: str) -> SafeString:
        """A select's <option>s with the chosen one selected, as one string (see _options)."""
        return _options(name, self.value(name))

    def value(self, name: str) -> str:
        return str(self.data.get(name, "")) if self.is_bound else ""

    def filters(self) -> EntryFilter:
        """The filters asked for; none while the form is unbound or invalid."""
        if not self.is_bound or not self.is_valid():
            return EntryFilter()
        return EntryFilter(**self.cleaned_data)

    def query(self) -> str:
        """The filters as a query string, for the page and export links."""
        if not self.is_bound or not self.is_valid():
            return ""
        return urlencode({key: value for key, value in self.cleaned_data.items() if value})


@lru_cache(maxsize=128)
def _options(name: str, chosen: str) -> SafeString:
    # The form's widgets render each option through a template, which cost the Audit
    # Log page as much as its twenty rows; the choices never change, so once is enough.
    field = cast(forms.ChoiceField, AuditFilterForm.base_fields[name])
    choices = cast(list[tuple[str, str]], field.choices)  # a list, as the class body sets it
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, mark_safe(" selected") if value == chosen else "", label) for value, label in choices),
    )
