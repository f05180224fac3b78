"""Batch renewal: every Platform-CA certificate of a product that expires within N days, in the background.

The batch is one of Batch Add's (`batches`): its page shows the progress, and its
results ZIP holds each device's new certificate and key (the keys once).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from batches import services as batch_services
from batches.models import DeviceBatch
from iothub_console.errors import ServiceError
from iothub_console.validators import INVALID_VALUE_CODE
from products.models import Device, Product

MAX_DAYS = 3650
DAYS_FIELD = "days"
DAYS_OUT_OF_RANGE = f"Give a number of days from 1 to {MAX_DAYS:,}."
NOTHING_EXPIRES = "No device certificate of this product expires within {days} days: nothing to renew."
SOURCE_NAME = "Certificates expiring within {days} days"


def start_renewal_batch(*, owner: User, product: Product, days: int) -> DeviceBatch:
    """Renew, in a background batch, the product's certificates that expire within `days`.

    Devices already in a renewal's overlap are left out: renewing them again would
    revoke at once the certificate they may still use.
    """
    if not 1 <= days <= MAX_DAYS:
        raise ServiceError(INVALID_VALUE_CODE, DAYS_OUT_OF_RANGE, DAYS_FIELD)
    horizon = timezone.now() + timedelta(days=days)
    names = list(
        Device.objects.filter(product=product, certificate_not_after__lte=horizon, previous_certificate=None)
        .order_by("name")
        .values_list("name", flat=True)
    )
    if product.uses_platform_ca and not names:
        raise ServiceError(INVALID_VALUE_CODE, NOTHING_EXPIRES.format(days=days), DAYS_FIELD)
    return batch_services.start_batch(
        owner=owner,
        product=product,
        kind=DeviceBatch.Kind.RENEWAL,
        names=names,
        source_name=SOURCE_NAME.format(days=days),
    )
