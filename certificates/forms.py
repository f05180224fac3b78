from __future__ import annotations

from pathlib import PurePath

from django import forms
from django.core.files.uploadedfile import UploadedFile

from . import x509
from .services import CA_NAME_PATTERN, INVALID_NAME

ALLOWED_EXTENSIONS = {".cer", ".crt", ".pem"}
WRONG_EXTENSION = 'Only .cer, .crt and .pem files are accepted; "{filename}" is not one of them.'
FILE_TOO_LARGE = "The file is {size:,} bytes; certificate files may be at most 64 KiB (65,536 bytes)."


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
        if upload.size > x509.MAX_CERTIFICATE_FILE_BYTES:
            raise forms.ValidationError(FILE_TOO_LARGE.format(size=upload.size))
        return upload.read()


class ProofOfPossessionForm(forms.Form):
    """A CA certificate and the verification certificate that proves its key is held.

    Takes the authentication code it shows, as healthchecks' TotpForm takes the
    secret it checks; the code itself is checked by the service against the account.
    """

    ca_certificate = CertificateFileField(
        label="Upload CA Certificate",
        help_text="The CA certificate (.cer, .crt or .pem, PEM or DER) — never its private key.",
    )
    authentication_code = forms.CharField(
        label="Authentication Code",
        required=False,
        disabled=True,
        help_text="Use this code as the Common Name of the verification certificate. "
        "It can be used once and expires after 24 hours.",
    )
    verification_certificate = CertificateFileField(
        label="Upload Certificate",
        help_text="The verification certificate: CN = the code above, signed with the CA's private key.",
    )

    def __init__(self, *args, authentication_code: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["authentication_code"].initial = authentication_code
        self.fields["authentication_code"].widget.attrs.update(
            {"readonly": True, "class": "font-monospace", "id": "id_authentication_code"}
        )


class CACertificateForm(ProofOfPossessionForm):
    name = forms.CharField(
        label="CA Certificate Name",
        max_length=32,
        strip=False,
        help_text="Up to 32 characters: letters, digits, _, - and @.",
        error_messages={"max_length": INVALID_NAME},
    )

    field_order = ["name", "ca_certificate", "authentication_code", "verification_certificate"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if not CA_NAME_PATTERN.fullmatch(name):
            raise forms.ValidationError(INVALID_NAME)
        return name
