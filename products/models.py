from __future__ import annotations

import secrets
import string

from django.conf import settings
from django.db import models
from django.urls import reverse

PRODUCT_ID_ALPHABET = string.ascii_uppercase + string.digits
PRODUCT_ID_LENGTH = 10


def new_product_id() -> str:
    return "".join(secrets.choice(PRODUCT_ID_ALPHABET) for _ in range(PRODUCT_ID_LENGTH))


class Product(models.Model):
    """A kind of device; its devices authenticate by certificate (from a CA) or by key."""

    class AuthMethod(models.TextChoices):
        CERTIFICATE = "certificate", "Certificate"
        KEY = "key", "Key"

    class ProductType(models.IntegerChoices):
        GENERAL = 0, "General"
        GATEWAY = 5, "Gateway"

    class DataFormat(models.TextChoices):
        JSON = "json", "JSON"
        CUSTOM = "custom", "Custom"

    class Region(models.TextChoices):
        GUANGZHOU = "gz", "Guangzhou"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="products"
    )
    product_id = models.CharField("Product ID", max_length=10, unique=True, default=new_product_id)
    name = models.CharField("Product Name", max_length=40)
    region = models.CharField(max_length=8, choices=Region.choices, default=Region.GUANGZHOU)
    product_type = models.PositiveSmallIntegerField(
        choices=ProductType.choices, default=ProductType.GENERAL
    )
    auth_method = models.CharField(
        max_length=16, choices=AuthMethod.choices, default=AuthMethod.CERTIFICATE
    )
    # Null for Certificate products means the console's own Platform CA issues the
    # device certificates. PROTECT: a CA in use cannot disappear under its devices.
    ca_certificate = models.ForeignKey(
        "certificates.CACertificate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
    )
    data_format = models.CharField(max_length=8, choices=DataFormat.choices, default=DataFormat.JSON)
    description = models.CharField(max_length=500, blank=True)
    forbidden = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_product_name_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("products:product_detail", args=[self.product_id])
