from __future__ import annotations

from typing import Any, cast

from django import forms

from certificates import selectors as certificate_selectors
from certificates.forms import CertificateFileField
from iothub_console.forms import RuleField, UploadField

from . import services, validators
from .models import PLATFORM_CA_NAME, Product

CSR_EXTENSIONS = (".csr", ".pem", ".req", ".der")
WRONG_CSR_EXTENSION = (
    'Only .csr, .req, .pem and .der files are accepted for a CSR; "{filename}" is not one of them.'
)
CSR_REQUIRED = "Choose the CSR file to sign."


class ProductForm(forms.Form):
    region = forms.ChoiceField(
        label="Region", choices=Product.Region.choices, initial=Product.Region.GUANGZHOU
    )
    product_type = forms.TypedChoiceField(
        label="Product Type",
        choices=Product.ProductType.choices,
        coerce=int,
        initial=Product.ProductType.GENERAL,
    )
    name = RuleField(
        label="Product Name",
        max_length=validators.PRODUCT_NAME_MAX,
        strip=False,
        validators=[validators.validate_product_name],
        help_text="Up to 40 characters: letters, digits, _, - and @.",
    )
    auth_method = forms.ChoiceField(
        label="Authentication Method",
        choices=Product.AuthMethod.choices,
        initial=Product.AuthMethod.CERTIFICATE,
        widget=forms.RadioSelect,
    )
    ca_certificate = forms.ChoiceField(
        label="CA Certificate",
        required=False,
        help_text="The CA that issues this product's device certificates. "
        "Platform CA: the console issues them itself.",
    )
    device_key_algorithm = forms.ChoiceField(
        label="Device Key Type",
        choices=Product.KeyAlgorithm.choices,
        initial=Product.KeyAlgorithm.EC_P256,
        help_text="The key the Platform CA generates for each device.",
    )
    data_format = forms.ChoiceField(
        label="Data Format",
        choices=Product.DataFormat.choices,
        initial=Product.DataFormat.JSON,
        widget=forms.RadioSelect,
        help_text="JSON: rules can match and extract data. Custom: no data parsing.",
    )
    description = RuleField(
        label="Description",
        required=False,
        max_length=validators.DESCRIPTION_MAX,
        validators=[validators.validate_description],
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, owner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        names = certificate_selectors.ca_certificate_names(owner)
        cast(forms.ChoiceField, self.fields["ca_certificate"]).choices = [
            ("", "Select a CA certificate"),
            *[(name, name) for name in names],
            (PLATFORM_CA_NAME, PLATFORM_CA_NAME),
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # A choice already refused (not one of the account's CAs) needs no second message.
        if (
            cleaned.get("auth_method") == Product.AuthMethod.CERTIFICATE
            and not cleaned.get("ca_certificate")
            and "ca_certificate" not in self.errors
        ):
            self.add_error("ca_certificate", services.CA_REQUIRED)
        return cleaned


class CSRFileField(UploadField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            extensions=CSR_EXTENSIONS,
            wrong_extension=WRONG_CSR_EXTENSION,
            check_size=validators.validate_csr_size,
            **kwargs,
        )


class DeviceForm(forms.Form):
    """Add Device; which credential fields appear depends on the product."""

    GENERATE = "generate"
    CSR = "csr"

    name = RuleField(
        label="Device Name",
        max_length=validators.DEVICE_NAME_MAX,
        strip=False,
        validators=[validators.validate_device_name],
        help_text="Up to 48 characters: letters, digits, _, - and :. Cannot be changed later.",
    )

    def __init__(self, *args, product: Product, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.product = product
        if not product.uses_certificates:
            self.fields["psk"] = RuleField(
                label="PSK",
                required=False,
                strip=True,
                validators=[validators.validate_psk],
                help_text="Leave empty to generate a random key, or give your own in base64.",
            )
        elif product.ca_certificate is not None:
            self.fields["device_certificate"] = CertificateFileField(
                label="Device Certificate",
                help_text=f'Issued by "{product.ca_certificate.name}", with Common Name '
                f"{product.product_id} followed by the device name.",
            )
        else:
            self.fields["certificate_source"] = forms.ChoiceField(
                label="Device Certificate",
                choices=[
                    (
                        self.GENERATE,
                        f"Generate a key and certificate ({product.get_device_key_algorithm_display()})",
                    ),
                    (self.CSR, "Sign my CSR (the private key never leaves the device)"),
                ],
                initial=self.GENERATE,
                widget=forms.RadioSelect,
            )
            self.fields["csr"] = CSRFileField(
                label="Certificate Signing Request (CSR)",
                required=False,
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # A CSR file already refused (wrong extension, too large) needs no second message.
        if (
            cleaned.get("certificate_source") == self.CSR
            and not cleaned.get("csr")
            and "csr" not in self.errors
        ):
            self.add_error("csr", CSR_REQUIRED)
        return cleaned

    def credentials(self) -> services.DeviceCredentials:
        data = self.cleaned_data
        csr = data.get("csr") if data.get("certificate_source") == self.CSR else None
        return services.DeviceCredentials(
            certificate_data=data.get("device_certificate"),
            csr_data=csr,
            psk=data.get("psk") or None,
        )
