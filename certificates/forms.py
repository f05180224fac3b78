from __future__ import annotations

from pathlib import PurePath

from django import forms
from django.core.files.uploadedfile import UploadedFile

from iothub_console.forms import RuleField

from . import validators, x509

ALLOWED_EXTENSIONS = {".cer", ".crt", ".pem"}
WRONG_EXTENSION = 'Only .cer, .crt and .pem files are accepted; "{filename}" is not one of them.'


class CertificateFileField(forms.FileField):
    """An uploaded certificate file: right extension, not empty, at most 64 KiB.

    Its cleaned value is the file's bytes; what they hold is checked by the service.
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("error_messages", {"empty": x509.EMPTY_FILE})
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": ".cer,.crt,.pem"}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> bytes | None:
        upload: UploadedFile | None = super().clean(data, initial)
        if upload is None:
            return None
        filename = PurePath(upload.name or "")
        if filename.suffix.lower() not in ALLOWED_EXTENSIONS:
            raise forms.ValidationError(WRONG_EXTENSION.format(filename=filename.name))
        validators.validate_certificate_size(upload.size or 0)
        return upload.read()


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
        error_messages={"max_length": validators.INVALID_CA_NAME},
    )

    field_order = ["name", "ca_certificate", "verification_certificate"]
