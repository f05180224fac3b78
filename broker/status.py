"""Device status from the brokers' reports: online, offline, when, from where, refused why.

A broker sends its events in batches; a batch is applied in one transaction with a
fixed handful of queries (find the products, lock their devices, one bulk update,
one update of the products' online counts), so a thousand connects a second are a
few writes a second, not a thousand.

Reports may arrive late or out of order across brokers, so an event only moves a
device forward: a connect older than the last one changes nothing, and a disconnect
counts only if it is about the connection the console knows (same broker, not older
than that connect).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from django.db import connections, router, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from iothub_console.validators import one_line
from products.models import Device, Product
from products.signals import revoke_access

from . import decisions
from .protocol import CONNECTED, DISCONNECTED, STARTED, LinkEvent

STATUS_FIELDS = (
    "online",
    "connected_broker",
    "activated_at",
    "last_online_at",
    "last_offline_at",
    "client_ip",
)


def record_refusal(device_pk: int, reason: str, at: datetime | None = None) -> None:
    """The device's last refused attempt, shown on its page (one UPDATE).

    A reason may quote what the client sent (a username, a certificate's name):
    control characters are replaced, as PostgreSQL refuses NUL in text.
    """
    Device.objects.filter(pk=device_pk).update(
        last_refused_at=at or timezone.now(), last_refusal_reason=one_line(reason, "?")[:500]
    )


def reset_device_states(*, product: Product, names: list[str]) -> set[str]:
    """Mark these devices offline and close any connection they hold (Tencent's ResetDeviceState).

    For a state that looks stale: a connection that really exists is closed, so the
    device reconnects and reports Online afresh. First online is kept: the device has
    been activated. Answers the names that exist in the product.
    """
    with transaction.atomic():
        devices = list(
            Device.objects.select_for_update()
            .filter(product=product, name__in=names)
            .only("pk", "product_id", "name", *STATUS_FIELDS)
            .order_by("pk")
        )
        now = timezone.now()
        were_online = [device for device in devices if device.online]
        for device in were_online:
            device.online = False
            device.connected_broker = ""
            device.last_offline_at = now
        if were_online:
            _save_statuses(were_online)
            _change_online_counts(Counter({product.pk: -len(were_online)}))
        revoke_access(client_ids=[f"{product.product_id}{device.name}" for device in devices])
    return {device.name for device in devices}


def apply_link_events(events: list[LinkEvent]) -> None:
    """Apply one batch of connect, disconnect and broker-start reports."""
    if not events:
        return
    with transaction.atomic():
        started: dict[str, datetime] = {}
        for event in events:
            if event.kind == STARTED:
                started[event.broker] = max(event.at, started.get(event.broker, event.at))
        online_changes: Counter[int] = Counter()
        for broker, at in started.items():
            online_changes.update(_broker_started(broker, at))
        client_events = [
            event
            for event in events
            if event.kind != STARTED and not (event.broker in started and event.at < started[event.broker])
        ]
        online_changes.update(_apply_client_events(client_events))
        _change_online_counts(online_changes)


def _broker_started(broker: str, at: datetime) -> Counter[int]:
    """A restarted broker holds no connections: its devices connected before `at` are offline."""
    held = Device.objects.filter(connected_broker=broker, online=True, last_online_at__lt=at)
    # Locked first, so the count taken here is exactly what the UPDATE below changes.
    products = Counter(held.select_for_update().values_list("product_id", flat=True))
    if products:
        held.update(online=False, last_offline_at=at)
    return Counter({product: -count for product, count in products.items()})


def _apply_client_events(events: list[LinkEvent]) -> Counter[int]:
    by_client: dict[str, list[LinkEvent]] = defaultdict(list)
    for event in events:
        if decisions.split_client_id(event.client_id) is not None:
            by_client[event.client_id].append(event)
    if not by_client:
        return Counter()
    devices = _locked_devices(by_client)
    changed: list[Device] = []
    online_changes: Counter[int] = Counter()
    for client_id, device in devices.items():
        was_online = device.online
        before = tuple(getattr(device, name) for name in STATUS_FIELDS)
        for event in sorted(by_client[client_id], key=lambda event: event.at):
            _apply(device, event)
        if tuple(getattr(device, name) for name in STATUS_FIELDS) != before:
            changed.append(device)
        if device.online != was_online:
            online_changes[device.product_id] += 1 if device.online else -1
    if changed:
        _save_statuses(changed)
    return online_changes


def _save_statuses(devices: list[Device]) -> None:
    """One UPDATE statement by id, executed for every changed device.

    `bulk_update` would build a CASE expression of every device for every field; for
    a batch of a few dozen devices that cost the console more CPU than all of its
    `authenticate` answers for the same connects, on the process the broker waits on.
    """
    connection = connections[router.db_for_write(Device)]
    quote = connection.ops.quote_name
    fields = [field for field in Device._meta.concrete_fields if field.name in STATUS_FIELDS]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    # Only the model's own quoted names go into the text; every value is a parameter.
    table, pk = quote(Device._meta.db_table), quote(Device._meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    rows = [
        [field.get_db_prep_save(getattr(device, field.attname), connection) for field in fields] + [device.pk]
        for device in devices
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _locked_devices(by_client: dict[str, list[LinkEvent]]) -> dict[str, Device]:
    """The reported devices, locked in id order (two brokers' batches never deadlock)."""
    names_by_product: dict[str, set[str]] = defaultdict(set)
    for client_id in by_client:
        product_id, name = decisions.split_client_id(client_id)  # type: ignore[misc]
        names_by_product[product_id].add(name)
    product_ids = dict(
        Product.objects.filter(product_id__in=list(names_by_product)).values_list("pk", "product_id")
    )
    if not product_ids:
        return {}
    names = set().union(*(names_by_product[product_id] for product_id in product_ids.values()))
    rows = (
        Device.objects.select_for_update()
        .filter(product_id__in=list(product_ids), name__in=list(names))
        .only("pk", "product_id", "name", *STATUS_FIELDS)
        .order_by("pk")
    )
    devices = {}
    for device in rows:
        product_id = product_ids[device.product_id]
        if device.name in names_by_product[product_id]:
            devices[f"{product_id}{device.name}"] = device
    return devices


def _apply(device: Device, event: LinkEvent) -> None:
    latest_connect = device.last_online_at
    if event.kind == CONNECTED:
        if latest_connect is not None and event.at < latest_connect:
            return  # an older connection, reported late
        device.online = True
        device.connected_broker = event.broker
        device.last_online_at = event.at
        device.client_ip = event.peer_ip
        if device.activated_at is None:
            device.activated_at = event.at
    elif event.kind == DISCONNECTED:
        if not device.online or event.broker != device.connected_broker:
            return  # not the connection the console knows of
        if latest_connect is not None and event.at < latest_connect:
            return  # the end of an older connection: the device reconnected since
        device.online = False
        device.last_offline_at = event.at


def _change_online_counts(changes: Counter[int]) -> None:
    """One UPDATE for every product whose number of online devices moved."""
    changes = Counter({product: change for product, change in changes.items() if change})
    if not changes:
        return
    count: IntegerField = IntegerField()
    Product.objects.filter(pk__in=list(changes)).update(
        online_count=Case(
            # Never below zero: a count that drifted must not make every later batch fail.
            *[
                When(
                    pk=product, then=Greatest(F("online_count") + Value(change), Value(0), output_field=count)
                )
                for product, change in changes.items()
            ],
            default=F("online_count"),
            output_field=count,
        )
    )
