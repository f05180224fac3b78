"""Certificate Management's field rules, each defined once.

The CA name rule serves the model field, the form field and the service (and so the
API); the 64 KiB limit serves every door through which a certificate arrives.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from iothub_console.validators import INVALID_VALUE_CODE, has_control_characters

from .x509 import MAX_CERTIFICATE_FILE_BYTES

CA_INVALID_CODE = "InvalidParameterValue.CACertInvalid"

CA_NAME_MAX = 32
CA_NAME_PATTERN = re.compile(rf"[A-Za-z0-9_\-@]{{1,{CA_NAME_MAX}}}")
INVALID_CA_NAME = (
    "CA certificate names are 1 to 32 characters: letters (A-Z, a-z), digits, "
    "underscores (_), hyphens (-) and @, with no spaces."
)
FILE_TOO_LARGE = "The file is {size:,} bytes; certificate files may be at most 64 KiB (65,536 bytes)."
NAME_HAS_CONTROL_CHARACTERS = (
    "The certificate's subject or issuer name contains a control character (such as NUL, "
    "U+0000), which the console does not store. Issue the certificate again without it."
)


def validate_ca_name(value: str) -> None:
    if not CA_NAME_PATTERN.fullmatch(value):
        raise ValidationError(INVALID_CA_NAME, code=INVALID_VALUE_CODE)


def validate_certificate_size(size: int) -> None:
    """At most 64 KiB: what the console, the API and batches accept as one certificate file."""
    if size > MAX_CERTIFICATE_FILE_BYTES:
        raise ValidationError(FILE_TOO_LARGE.format(size=size), code=CA_INVALID_CODE)


def validate_certificate_name_text(value: str) -> None:
    """A subject, issuer or Common Name read from a certificate, before it is stored."""
    if has_control_characters(value):
        raise ValidationError(NAME_HAS_CONTROL_CHARACTERS, code=CA_INVALID_CODE)
