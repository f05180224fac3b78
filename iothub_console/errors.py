"""The errors that the console's rules raise, for the console and the API alike.

Every refusal — a certificate rule (`certificates.x509.CertificateError`), a batch
input (`batches.inputs.InputError`), a service rule (`ServiceError`) or an API
parameter (`api.params.ApiError`) — is a `RuleError`: it carries the message a user
reads. Nothing here imports Django, so pure modules can raise these too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django import forms


class RuleError(Exception):
    """A request broke a rule; `message` says which, in words a user can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServiceError(RuleError):
    """A request broke a service's rule.

    `code` is the Tencent Cloud error code (e.g. ``InvalidParameterValue.CACertNotMatch``)
    that the API returns; `field` is the console form field the message belongs
    beside, or None for a message about the whole request.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, field={self.field!r})"


class NotFound(ServiceError):
    """The account has no such object: a 404 in the console, ResourceNotFound.* in the API."""


def add_to_form(form: forms.BaseForm, error: ServiceError) -> None:
    """Show a service's refusal on the form: beside its field if the form has it, else above.

    The Tencent error code goes with it, and the form's error templates show it
    beside the message, as the API reports it.
    """
    from django.core.exceptions import ValidationError  # here: the rest of the module is Django-free

    field = error.field if error.field in form.fields else None
    form.add_error(field, ValidationError(error.message, code=error.code))
