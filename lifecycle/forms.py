"""Forms of the certificate lifecycle: revoke, renew, upload a CRL, choose a second CA."""

from __future__ import annotations

from pathlib import PurePath
from typing import cast

from django import forms
from django.core.files.uploadedfile import UploadedFile

from certificates import crl
from certificates import selectors as certificate_selectors
from products.forms import DeviceForm
from products.models import Product

from . import services
from .models import RevokedCertificate

CRL_EXTENSIONS = (".crl", ".pem", ".der")
WRONG_CRL_EXTENSION = (
    'Only .crl, .pem and .der files are accepted for a CRL; "{filename}" is not one of them.'
)
CRL_REQUIRED = "Choose the CRL file to upload."
CA_CHOICE_REQUIRED = "Choose the CA certificate to trust as the second CA."


class RevokeForm(forms.Form):
    reason = forms.ChoiceField(
        label="Reason",
        choices=[(reason.value, reason.label) for reason in services.REVOCATION_REASONS],
        initial=RevokedCertificate.Reason.KEY_COMPROMISE,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )


class RenewForm(DeviceForm):
    """Renew Certificate: Add Device's credential fields, for a device that keeps its name."""

    def __init__(self, *args, product: Product, second_ca_name: str = "", **kwargs) -> None:
        super().__init__(*args, product=product, **kwargs)
        del self.fields["name"]
        if second_ca_name and product.ca_certificate is not None and "device_certificate" in self.fields:
            self.fields["device_certificate"].help_text = (
                f'Issued by "{product.ca_certificate.name}" or by the second CA "{second_ca_name}", '
                f"with Common Name {product.product_id} followed by the device name."
            )


class CRLFileField(forms.FileField):
    """An uploaded CRL: right extension, not empty, at most crl.MAX_CRL_FILE_BYTES."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("error_messages", {"empty": crl.EMPTY_CRL, "required": CRL_REQUIRED})
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": ",".join(CRL_EXTENSIONS)}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> bytes | None:
        upload: UploadedFile | None = super().clean(data, initial)
        if upload is None:
            return None
        filename = PurePath(upload.name or "")
        if filename.suffix.lower() not in CRL_EXTENSIONS:
            raise forms.ValidationError(WRONG_CRL_EXTENSION.format(filename=filename.name))
        size = upload.size or 0
        if size > crl.MAX_CRL_FILE_BYTES:
            raise forms.ValidationError(crl.CRL_TOO_LARGE.format(size=size, limit=crl.MAX_CRL_FILE_BYTES))
        return upload.read()


class CRLUploadForm(forms.Form):
    crl_file = CRLFileField(
        label="Upload CRL",
        help_text="The CA's certificate revocation list (.crl or .pem, PEM or DER), signed by this CA.",
    )


class SecondCAForm(forms.Form):
    ca_certificate = forms.ChoiceField(
        label="Second CA",
        help_text="Devices with certificates issued by either CA can connect while they move over.",
        error_messages={"required": CA_CHOICE_REQUIRED},
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, product: Product, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = certificate_selectors.ca_certificate_names(product.owner)
        current = product.ca_certificate.name if product.ca_certificate is not None else None
        cast(forms.ChoiceField, self.fields["ca_certificate"]).choices = [
            ("", "Select a CA certificate"),
            *[(name, name) for name in names if name != current],
        ]
