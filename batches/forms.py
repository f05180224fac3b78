from __future__ import annotations

from typing import Any, cast

from django import forms

from products.models import Product

from . import inputs
from .models import DeviceBatch

AUTO = "auto"
UPLOAD = "upload"
CSV_TOO_LARGE = "The CSV file may be at most 1 MiB."
ZIP_TOO_LARGE = "The ZIP file may be at most 64 MiB."
CSV_REQUIRED = "Choose the CSV file of device names."
ZIP_REQUIRED = "Choose the ZIP file of device certificates."
QUANTITY_REQUIRED = "Enter how many devices to create."
# Anchored: RegexField searches, and an unanchored {0,40} matches every string.
PREFIX_PATTERN = r"\A[A-Za-z0-9_\-:]{0,40}\Z"
INVALID_PREFIX = "A prefix may hold letters, digits, _, - and : only (up to 40 characters)."


class BatchForm(forms.Form):
    """Batch Add: generate names, upload a CSV of names, or (custom-CA products) a ZIP of certificates."""

    method = forms.ChoiceField(label="Method", widget=forms.RadioSelect)
    quantity = forms.IntegerField(
        label="Quantity",
        required=False,
        min_value=1,
        max_value=inputs.MAX_DEVICES,
        error_messages={
            "min_value": inputs.QUANTITY_OUT_OF_RANGE.format(limit=inputs.MAX_DEVICES),
            "max_value": inputs.QUANTITY_OUT_OF_RANGE.format(limit=inputs.MAX_DEVICES),
        },
    )
    # Named like BaseForm.prefix, which the form metaclass leaves alone: declared fields leave the class.
    prefix = forms.RegexField(  # type: ignore[assignment]
        label="Name prefix",
        regex=PREFIX_PATTERN,
        required=False,
        strip=True,
        help_text="Optional: names become the prefix plus a counter (sensor_0001 …). "
        "Without one, each name is 18 random letters and digits.",
        error_messages={"invalid": INVALID_PREFIX},
    )
    names_file = forms.FileField(
        label="CSV file",
        required=False,
        help_text="One device name per line (first column); a DeviceName header line is optional.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt"}),
    )
    certificates_file = forms.FileField(
        label="Device certificates (ZIP)",
        required=False,
        help_text="One certificate file (.crt, .pem or .cer) per device; each certificate's Common Name is "
        "the Product ID followed by the device name.",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip"}),
    )

    def __init__(self, *args, product: Product, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.product = product
        if product.ca_certificate_id:
            cast(forms.ChoiceField, self.fields["method"]).choices = [(UPLOAD, "Batch upload")]
            self.fields["method"].initial = UPLOAD
            for name in ("quantity", "prefix", "names_file"):
                del self.fields[name]
        else:
            cast(forms.ChoiceField, self.fields["method"]).choices = [
                (AUTO, "Auto-generate"),
                (UPLOAD, "Batch upload"),
            ]
            self.fields["method"].initial = AUTO
            del self.fields["certificates_file"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        method = cleaned.get("method", "")
        try:
            if self.product.ca_certificate_id:
                cleaned["certificates"] = self._certificates(cleaned.get("certificates_file"))
            elif method == AUTO:
                cleaned["names"] = self._generated(cleaned.get("quantity"), cleaned.get("prefix") or "")
            elif method == UPLOAD:
                cleaned["names"] = self._uploaded(cleaned.get("names_file"))
        except inputs.InputError as error:
            field = {AUTO: "quantity", UPLOAD: "names_file"}.get(method, "certificates_file")
            if self.product.ca_certificate_id:
                field = "certificates_file"
            if field in self.fields and field not in self.errors:
                self.add_error(field, error.message)
        return cleaned

    def _generated(self, quantity: int | None, prefix: str) -> list[str]:
        if quantity is None:
            if "quantity" not in self.errors:
                self.add_error("quantity", QUANTITY_REQUIRED)
            return []
        return inputs.generated_names(quantity, prefix)

    def _uploaded(self, upload) -> list[str]:
        if upload is None:
            if "names_file" not in self.errors:
                self.add_error("names_file", CSV_REQUIRED)
            return []
        if upload.size > 1024 * 1024:
            raise inputs.InputError(CSV_TOO_LARGE)
        return inputs.read_device_names(upload.read())

    def _certificates(self, upload) -> list[tuple[str, bytes]]:
        if upload is None:
            if "certificates_file" not in self.errors:
                self.add_error("certificates_file", ZIP_REQUIRED)
            return []
        if upload.size > 64 * 1024 * 1024:
            raise inputs.InputError(ZIP_TOO_LARGE)
        return [(entry.name, entry.data) for entry in inputs.read_certificate_zip(upload.read())]

    @property
    def kind(self) -> str:
        if self.product.ca_certificate_id:
            return DeviceBatch.Kind.CERTIFICATES
        return DeviceBatch.Kind.AUTO if self.cleaned_data.get("method") == AUTO else DeviceBatch.Kind.NAMES

    @property
    def source_name(self) -> str:
        upload = self.cleaned_data.get("names_file") or self.cleaned_data.get("certificates_file")
        return upload.name if upload else ""
