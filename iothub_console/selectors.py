"""What every app's selectors share: a read's "not found" as a console page's 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import Http404

from .errors import NotFound

Found = TypeVar("Found")


def found_or_404(read: Callable[..., Found], **lookup: Any) -> Found:
    """The selector's object for a console page; an object the account lacks (another account's too) is a 404."""
    try:
        return read(**lookup)
    except NotFound:
        raise Http404 from None
