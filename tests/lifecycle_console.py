"""Shared steps for the certificate lifecycle tests: revoke, renew, connect as the broker asks."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from broker.models import BrokerCommand
from products.models import Device

from .broker.link_service import authenticate


def lifecycle_url(device: Device, action: str) -> str:
    return reverse(f"lifecycle:device_{action}", args=[device.product.product_id, device.name])


def connect(client: Client, device: Device, pem: str | bytes) -> dict:
    """The broker's question for a certificate client presenting `pem` as `device`."""
    return authenticate(
        client,
        clientid=device.client_id,
        listener="certificate",
        cert_pem=pem.decode() if isinstance(pem, bytes) else pem,
    )


def kicked_client_ids() -> list[str]:
    return list(
        BrokerCommand.objects.filter(kind=BrokerCommand.Kind.KICK)
        .order_by("id")
        .values_list("target", flat=True)
    )


def kicked_products() -> list[str]:
    return list(
        BrokerCommand.objects.filter(kind=BrokerCommand.Kind.KICK_PREFIX)
        .order_by("id")
        .values_list("target", flat=True)
    )
