from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def utc(value: datetime | None, precision: str = "minute") -> str:
    """A UTC timestamp as the console shows it: 2026-11-27 07:30 (or ...:45 with "second", or a "day").

    A plain strftime: Django's `date` filter, with its localisation machinery, was
    the largest part of rendering a page of 20 devices.
    """
    if value is None:
        return ""
    value = value.astimezone(UTC)
    formats = {"day": "%Y-%m-%d", "minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S"}
    return value.strftime(formats.get(precision, formats["minute"]))
