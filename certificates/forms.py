from __future__ import annotations

from typing import Any

from django import forms

from iothub_console.forms import RuleField, UploadField

from . import validators, x509

CERTIFICATE_EXTENSIONS = (".cer", ".crt", ".pem")
WRONG_EXTENSION = 'Only .cer, .crt and .pem files are accepted; "{filename}" is not one of them.'


class CertificateFileField(UploadField):
    """An uploaded certificate file: right extension, not empty, at most 64 KiB."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"empty": x509.EMPTY_FILE})
        super().__init__(
            extensions=CERTIFICATE_EXTENSIONS,
            wrong_extension=WRONG_EXTENSION,
            check_size=validators.validate_certificate_size,
            **kwargs,
        )


class ProofOfPossessionForm(forms.Form):
    """A CA certificate and the verification certificate that proves its key is held.

    The authentication code the verification certificate names is shown beside these
    fields (includes/authentication_code_field.html) and checked by the service
    against the account, so it is not a form field.
    """

    ca_certificate = CertificateFileField(
        label="Upload CA Certificate",
        help_text="The CA certificate (.cer, .crt or .pem, PEM or DER) — never its private key.",
    )
    verification_certificate = CertificateFileField(
        label="Upload Certificate",
        help_text="The verification certificate: CN = the code above, signed with the CA's private key.",
    )


class CACertificateForm(ProofOfPossessionForm):
    name = RuleField(
        label="CA Certificate Name",
        max_length=validators.CA_NAME_MAX,
        strip=False,
        validators=[validators.validate_ca_name],
        help_text="Up to 32 characters: letters, digits, _, - and @.",
    )

    field_order = ["name", "ca_certificate", "verification_certificate"]
