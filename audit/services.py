"""Writing the Audit Log.

`record()` is called by the services inside the transaction of the change it
describes, so a change that rolls back leaves no entry and one that commits always
has one. Callers pass names and short facts, never a secret: no private key, PSK,
SecretKey or password is ever an argument here.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from iothub_console.validators import one_line
from products.models import Device

from .context import current_actor
from .models import AuditEntry

if TYPE_CHECKING:
    from api.models import APIKey
    from batches.models import DeviceBatch
    from certificates.models import CACertificate
    from products.models import Product

# One summarised entry per device, per refusal reason, per this window: a device
# retrying every second must not write 600 rows a minute.
REFUSAL_SUMMARY_WINDOW = timedelta(minutes=10)

BUNDLE_WITH_KEY = "With the private key, which the console then erased."
BUNDLE_WITH_PSK = "Holds the device's PSK."
BUNDLE_WITHOUT_KEY = "Without a private key."


Action = AuditEntry.Action
ObjectType = AuditEntry.ObjectType
Source = AuditEntry.Source


def _clean(value: object, length: int) -> str:
    # Control characters cannot be stored by PostgreSQL (NUL) and garble a CSV export.
    text = one_line(str(value), " ")
    return text if len(text) <= length else text[: length - 1] + "…"


def record(
    *,
    account_id: int | None,
    action: str,
    object_type: str,
    object_id: object = "",
    object_label: object = "",
    detail: str = "",
    actor: str | None = None,
    source: str | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one entry, by the current actor (see `audit.context`) unless told otherwise."""
    current = current_actor()
    return AuditEntry.objects.create(
        account_id=account_id,
        actor=_clean(actor if actor is not None else current.name, 150),
        source=source or current.source,
        ip=ip if ip is not None else current.ip,
        object_type=object_type,
        object_id=_clean(object_id, 64),
        object_label=_clean(object_label, 150),
        action=action,
        detail=_clean(detail, 255),
    )


def record_ca(action: str, ca: CACertificate, detail: str = "") -> AuditEntry:
    return record(
        account_id=ca.owner_id,
        action=action,
        object_type=ObjectType.CA_CERTIFICATE,
        object_id=ca.pk,
        object_label=ca.name,
        detail=detail,
    )


def record_product(action: str, product: Product, detail: str = "") -> AuditEntry:
    return record(
        account_id=product.owner_id,
        action=action,
        object_type=ObjectType.PRODUCT,
        object_id=product.product_id,
        object_label=product.name,
        detail=detail,
    )


def device_key(product_id: str, name: str) -> str:
    """A device's object id in the log: what a user knows it by, and what its page's URL holds."""
    return f"{product_id}/{name}"


def record_devices(action: str, product: Product, names: list[str], detail: str = "") -> None:
    """One entry per named device of `product` (several when a list or the API acts on many)."""
    actor = current_actor()
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                account_id=product.owner_id,
                actor=_clean(actor.name, 150),
                source=actor.source,
                ip=actor.ip,
                object_type=ObjectType.DEVICE,
                object_id=_clean(device_key(product.product_id, name), 64),
                object_label=_clean(name, 150),
                action=action,
                detail=_clean(detail, 255),
            )
            for name in names
        ]
    )


def record_batch(batch: DeviceBatch, product: Product) -> AuditEntry:
    """One entry per batch, not one per device: a batch of 100,000 is one action."""
    return record(
        account_id=batch.owner_id,
        action=Action.BATCH_STARTED,
        object_type=ObjectType.BATCH,
        object_id=batch.pk,
        object_label=product.name,
        detail=f"{batch.total:,} device(s) for product {product.product_id}: {batch.get_kind_display()}",
    )


def record_api_key(action: str, key: APIKey) -> AuditEntry:
    return record(
        account_id=key.owner_id, action=action, object_type=ObjectType.API_KEY, object_id=key.secret_id
    )


def peer_address(value: object) -> str | None:
    """The client address a broker reported (`peerhost`), if it is one."""
    try:
        return str(ipaddress.ip_address(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def record_connection_refused(
    *, device_pk: int, product_id: str, device_name: str, code: str, reason: str, ip: str | None
) -> bool:
    """Note that a broker refused a device, at most once per refusal code per window.

    Called by the broker's authenticate endpoint for a client id that names a real
    device (an unknown name has no account to show it to). Returns whether an entry
    was written. Two brokers refusing the same device in the same instant may both
    write one; that is a summary still, not a row per retry.
    """
    since = timezone.now() - REFUSAL_SUMMARY_WINDOW
    object_id = device_key(product_id, device_name)
    prefix = f"{_clean(code, 40)}: "
    already = AuditEntry.objects.filter(
        object_type=ObjectType.DEVICE,
        object_id=object_id,
        action=Action.CONNECTION_REFUSED,
        detail__startswith=prefix,
        time__gte=since,
    ).exists()
    if already:
        return False
    owner_id = Device.objects.filter(pk=device_pk).values_list("product__owner_id", flat=True).first()
    if owner_id is None:
        return False  # deleted since the broker asked
    record(
        account_id=owner_id,
        action=Action.CONNECTION_REFUSED,
        object_type=ObjectType.DEVICE,
        object_id=object_id,
        object_label=device_name,
        detail=f"{prefix}{reason} (repeats within {REFUSAL_SUMMARY_WINDOW.seconds // 60} minutes are not listed)",
        actor=f"{product_id}{device_name}",
        source=Source.BROKER,
        ip=ip,
    )
    return True
