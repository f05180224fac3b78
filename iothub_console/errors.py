"""The one error type that services raise, for the console and the API alike."""

from __future__ import annotations


class ServiceError(Exception):
    """A request broke a rule.

    `code` is the Tencent Cloud error code (e.g. ``InvalidParameterValue.CACertNotMatch``)
    that the API returns; `field` is the console form field the message belongs
    beside, or None for a message about the whole request.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"ServiceError({self.code!r}, {self.message!r}, field={self.field!r})"
