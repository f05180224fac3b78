"""Revocations announced by the products and certificates services become broker commands."""

from __future__ import annotations

from datetime import timedelta

from django.dispatch import receiver
from django.utils import timezone

from products.signals import device_access_revoked

from .models import BrokerCommand

# Every running broker polls several times a second; after this, a row has been seen.
COMMAND_LIFETIME = timedelta(minutes=10)


@receiver(device_access_revoked)
def kick_revoked_clients(sender, *, client_ids: list[str], product_ids: list[str], **kwargs) -> None:
    """Every broker disconnects these clients (in the caller's transaction)."""
    now = timezone.now()
    commands = [
        BrokerCommand(created=now, kind=BrokerCommand.Kind.KICK, target=client_id) for client_id in client_ids
    ]
    commands += [
        BrokerCommand(created=now, kind=BrokerCommand.Kind.KICK_PREFIX, target=product_id)
        for product_id in product_ids
    ]
    BrokerCommand.objects.bulk_create(commands)
    prune_commands(now)


def prune_commands(now=None) -> None:
    """Drop commands every broker has had time to see: one range delete on the `created` index."""
    BrokerCommand.objects.filter(created__lt=(now or timezone.now()) - COMMAND_LIFETIME).delete()
