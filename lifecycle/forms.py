"""Forms of the certificate lifecycle: revoke, renew, upload a CRL, choose a second CA."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from certificates import crl
from certificates import selectors as certificate_selectors
from iothub_console.forms import UploadField
from products.forms import DeviceForm
from products.models import Product

from . import services
from .models import RevokedCertificate
from .renewal_batches import DAYS_OUT_OF_RANGE, MAX_DAYS

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


def _check_crl_size(size: int) -> None:
    if size > crl.MAX_CRL_FILE_BYTES:
        raise forms.ValidationError(crl.CRL_TOO_LARGE.format(size=size, limit=crl.MAX_CRL_FILE_BYTES))


class RenewalBatchForm(forms.Form):
    days = forms.IntegerField(
        label="Expiring within (days)",
        min_value=1,
        max_value=MAX_DAYS,
        initial=30,
        error_messages={
            "min_value": DAYS_OUT_OF_RANGE,
            "max_value": DAYS_OUT_OF_RANGE,
            "invalid": DAYS_OUT_OF_RANGE,
            "required": DAYS_OUT_OF_RANGE,
        },
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
    )


class CRLFileField(UploadField):
    """An uploaded CRL: right extension, not empty, at most crl.MAX_CRL_FILE_BYTES."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"empty": crl.EMPTY_CRL, "required": CRL_REQUIRED})
        super().__init__(
            extensions=CRL_EXTENSIONS,
            wrong_extension=WRONG_CRL_EXTENSION,
            check_size=_check_crl_size,
            **kwargs,
        )


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
