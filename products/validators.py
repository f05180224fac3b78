"""Products' and devices' field rules, each defined once.

Model fields, form fields, services (and so the API) and batches use these, so a
name refused in one place is refused everywhere, with the same message and code.
"""

from __future__ import annotations

import base64
import binascii
import re

from django.core.exceptions import ValidationError

from certificates.x509 import MAX_CERTIFICATE_FILE_BYTES
from iothub_console.validators import INVALID_VALUE_CODE, reject_control_characters

PSK_NOT_BASE64_CODE = "InvalidParameterValue.DefinedPskNotBase64"

PRODUCT_NAME_MAX = 40
PRODUCT_NAME_PATTERN = re.compile(rf"[A-Za-z0-9_\-@]{{1,{PRODUCT_NAME_MAX}}}")
DEVICE_NAME_MAX = 48
DEVICE_NAME_PATTERN = re.compile(rf"[A-Za-z0-9_\-:]{{1,{DEVICE_NAME_MAX}}}")
DESCRIPTION_MAX = 500
# The same limit as a certificate file: a CSR is smaller than the certificate it asks for.
MAX_CSR_FILE_BYTES = MAX_CERTIFICATE_FILE_BYTES

INVALID_PRODUCT_NAME = (
    "Product names are 1 to 40 characters: letters (A-Z, a-z), digits, underscores (_), "
    "hyphens (-) and @, with no spaces."
)
INVALID_DEVICE_NAME = (
    "Device names are 1 to 48 characters: letters (A-Z, a-z), digits, underscores (_), "
    "hyphens (-) and colons (:), with no spaces or slashes."
)
DESCRIPTION_TOO_LONG = "The description may be at most 500 characters."
PSK_NOT_BASE64 = "The PSK must be valid base64 (for example the output of: openssl rand -base64 24)."
CSR_TOO_LARGE = "The CSR file may be at most 64 KiB."


def validate_product_name(value: str) -> None:
    if not PRODUCT_NAME_PATTERN.fullmatch(value):
        raise ValidationError(INVALID_PRODUCT_NAME, code=INVALID_VALUE_CODE)


def validate_device_name(value: str) -> None:
    if not DEVICE_NAME_PATTERN.fullmatch(value):
        raise ValidationError(INVALID_DEVICE_NAME, code=INVALID_VALUE_CODE)


def validate_description(value: str) -> None:
    reject_control_characters(value)
    if len(value) > DESCRIPTION_MAX:
        raise ValidationError(DESCRIPTION_TOO_LONG, code=INVALID_VALUE_CODE)


def validate_psk(value: str) -> None:
    """A PSK given in base64 (surrounding spaces already stripped); it must decode to bytes."""
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise ValidationError(PSK_NOT_BASE64, code=PSK_NOT_BASE64_CODE)


def validate_csr_size(size: int) -> None:
    if size > MAX_CSR_FILE_BYTES:
        raise ValidationError(CSR_TOO_LARGE, code=INVALID_VALUE_CODE)
