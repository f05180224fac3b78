"""The reads behind the broker endpoints: a few indexed queries, whatever the fleet's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import Max, Subquery
from django.utils import timezone

from lifecycle.models import RevokedCertificate
from products.models import Device, PlatformCA

from . import decisions
from .models import BrokerCommand


@dataclass(frozen=True)
class DecisionInput:
    """The device a client id names, as a decision needs it, and its row's id."""

    device_pk: int
    record: decisions.DeviceRecord
    # The device is renewing: its old certificate still works until it connects with the new one.
    renewing: bool = False


PLATFORM_CA_NAME = "Platform CA"


# The columns a decision needs: the device, its product, the product's CA and second CA,
# and the certificate it is renewing from.
DEVICE_COLUMNS = (
    "pk",
    "enabled",
    "psk",
    "certificate_fingerprint",
    "product__name",
    "product__forbidden",
    "product__auth_method",
    "product__ca_certificate__name",
    "product__ca_certificate__certificate_pem",
    "product__second_ca__ca_certificate__name",
    "product__second_ca__ca_certificate__certificate_pem",
    "previous_certificate__fingerprint",
    "previous_certificate__accepted_until",
    # The Platform device CA, for products whose devices the console issues (no CA of their own).
    "platform_ca_pem",
)
# Stand-ins for the two parameters while the query is compiled once; a real Product ID or
# device name never contains NUL.
_PRODUCT_ID_SLOT = "\0product_id"
_NAME_SLOT = "\0name"


@dataclass(frozen=True)
class _CompiledQuery:
    sql: str
    params: tuple  # the slots, and the constants (the Platform CA kind)
    columns: tuple[str, ...]  # in the order the SELECT returns them
    # Per column position: the database's and the field's converters (booleans, aware
    # datetimes, the decrypted PSK), exactly those the ORM applies to the same query.
    converters: tuple[tuple[int, tuple, object], ...]


@cache
def _compiled_device_query(alias: str) -> _CompiledQuery:
    """The device lookup as SQL, compiled once per process and database.

    Every CONNECT a broker reports waits for this lookup on the broker's single thread.
    Building and compiling the five-table `values()` query costs the ORM about ten times
    what SQLite takes to run it, and the query never changes but for its two parameters.
    """
    platform_ca = PlatformCA.objects.filter(kind=PlatformCA.Kind.DEVICE).values("certificate_pem")[:1]
    queryset = (
        Device.objects.using(alias)
        .filter(product__product_id=_PRODUCT_ID_SLOT, name=_NAME_SLOT)
        .annotate(platform_ca_pem=Subquery(platform_ca))
    )
    compiler = queryset.values(*DEVICE_COLUMNS)[:1].query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    slots = [value for value in params if value in (_PRODUCT_ID_SLOT, _NAME_SLOT)]
    selected = compiler.select[: compiler.col_count]
    columns = tuple(name for _, _, name in selected)
    if sorted(slots) != sorted([_PRODUCT_ID_SLOT, _NAME_SLOT]) or sorted(columns) != sorted(DEVICE_COLUMNS):
        raise ImproperlyConfigured(f"The device lookup compiled unexpectedly: {sql}")
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(
            [column for column, _, _ in selected]
        ).items()
    )
    return _CompiledQuery(sql=sql, params=tuple(params), columns=columns, converters=converters)


def _device_row(product_id: str, name: str) -> dict | None:
    """The `DEVICE_COLUMNS` of the device, as `values(*DEVICE_COLUMNS).first()` returns them."""
    alias = router.db_for_read(Device)
    query = _compiled_device_query(alias)
    slots = {_PRODUCT_ID_SLOT: product_id, _NAME_SLOT: name}
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [slots.get(value, value) for value in query.params])
        found = cursor.fetchone()
    if found is None:
        return None
    row = list(found)
    for position, functions, expression in query.converters:
        for convert in functions:
            row[position] = convert(row[position], expression, connection)
    return dict(zip(query.columns, row, strict=True))


def device_for_client_id(client_id: str) -> DecisionInput | None:
    """The device, its product and its CA in one query (two for revocations of certificate devices).

    The lookup is the unique (product, name) index reached through the product's
    unique Product ID.
    """
    parts = decisions.split_client_id(client_id)
    if parts is None:
        return None
    product_id, name = parts
    row = _device_row(product_id, name)
    if row is None:
        return None
    uses_certificates = row["product__auth_method"] == "certificate"
    ca_name, ca_pem = (
        row["product__ca_certificate__name"] or "",
        row["product__ca_certificate__certificate_pem"],
    )
    if uses_certificates and ca_pem is None:
        ca_name, ca_pem = PLATFORM_CA_NAME, row["platform_ca_pem"]
    fingerprints = tuple(filter(None, [row["certificate_fingerprint"]]))
    renewing = row["previous_certificate__fingerprint"] is not None
    if renewing and row["previous_certificate__accepted_until"] > timezone.now():
        fingerprints += (row["previous_certificate__fingerprint"],)
    return DecisionInput(
        device_pk=row["pk"],
        renewing=renewing,
        record=decisions.DeviceRecord(
            product_id=product_id,
            product_name=row["product__name"],
            device_name=name,
            enabled=row["enabled"],
            product_forbidden=row["product__forbidden"],
            uses_certificates=uses_certificates,
            ca_name=ca_name,
            ca_pem=ca_pem or "",
            certificate_fingerprints=fingerprints,
            psk=row["psk"] if not uses_certificates else "",
            second_ca_name=row["product__second_ca__ca_certificate__name"] or "",
            second_ca_pem=row["product__second_ca__ca_certificate__certificate_pem"] or "",
            revocations=revocations_of(row["pk"]) if uses_certificates else (),
        ),
    )


def revocations_of(device_pk: int) -> tuple[decisions.Revocation, ...]:
    """The device's revoked certificates (one indexed query; usually none)."""
    labels = dict(RevokedCertificate.Reason.choices)
    return tuple(
        decisions.Revocation(
            fingerprint=fingerprint, serial=serial, reason=labels.get(reason, reason), revoked_at=at
        )
        for fingerprint, serial, reason, at in RevokedCertificate.objects.filter(
            device_id=device_pk
        ).values_list("fingerprint", "serial_hex", "reason", "revoked_at")
    )


COMMANDS_PER_POLL = 1000
# A page stops growing once its publish payloads reach this many bytes (the plugin
# refuses answers over 4 MiB), so a burst of large publishes cannot wedge the cursor.
PAGE_PAYLOAD_BYTES = 1024 * 1024
# PostgreSQL hands out ids at insert time, so a long transaction can commit a row with
# an id below a cursor the broker already passed: rows this recent are sent again,
# with their ids, and the plugin applies each id once. A transaction that writes a
# command and commits within this window is never missed (deleting thousands of devices
# in one request takes seconds). The plugin remembers applied ids for 30 s
# (REMEMBER_APPLIED_MS), so the window stays below that by more than a poll.
TRAILING_WINDOW = timedelta(seconds=25)

_LIST_OF_KIND = {
    BrokerCommand.Kind.KICK: "kick",
    BrokerCommand.Kind.KICK_PREFIX: "kick_prefixes",
    BrokerCommand.Kind.PUBLISH: "publish",
}


def pending_commands(broker: str, after: int | None, limit: int = COMMANDS_PER_POLL) -> dict:
    """What `broker` must do since command `after`, in the shape the plugin reads.

    Without `after` (a broker starting) only the cursor: what came before concerned
    connections the broker does not have. The cursor is the newest row seen, also
    rows addressed to other brokers, so they are not read again. "kick",
    "kick_prefixes" and "publish" list the rows past the cursor; "commands" lists
    those and the trailing window's rows at or below it, each with its id.
    """
    answer: dict = {"cursor": after or 0, "kick": [], "kick_prefixes": [], "publish": [], "commands": []}
    if after is None:
        answer["cursor"] = _newest_command_id()
        return answer
    limit = max(1, min(limit, COMMANDS_PER_POLL))
    columns = ("id", "kind", "target", "broker_id", "payload")
    late = list(
        BrokerCommand.objects.filter(id__lte=after, created__gte=timezone.now() - TRAILING_WINDOW)
        .order_by("id")
        .values_list(*columns)[:limit]
    )
    rows = list(BrokerCommand.objects.filter(id__gt=after).order_by("id").values_list(*columns)[:limit])
    if not rows:
        # A cursor beyond the newest row means the table was emptied (a new database):
        # start again from its newest row rather than wait for ids to catch up.
        answer["cursor"] = min(after, _newest_command_id())
    budget = PAGE_PAYLOAD_BYTES
    for pk, kind, target, broker_id, payload in late:
        budget -= _payload_bytes(payload)
        if budget < 0:
            break
        if broker_id is None or broker_id == broker:
            answer["commands"].append(_command(pk, kind, target, payload))
    for index, (pk, kind, target, broker_id, payload) in enumerate(rows):
        budget -= _payload_bytes(payload)
        # The first new row always goes, so the cursor moves even behind a full window.
        if index > 0 and budget < 0:
            break
        answer["cursor"] = pk
        if broker_id is not None and broker_id != broker:
            continue
        answer[_LIST_OF_KIND[kind]].append(payload if kind == BrokerCommand.Kind.PUBLISH else target)
        answer["commands"].append(_command(pk, kind, target, payload))
    return answer


def _payload_bytes(payload: dict) -> int:
    return len(payload.get("payload_base64", "")) + len(payload.get("topic", ""))


def _command(pk: int, kind: str, target: str, payload: dict) -> dict:
    if kind == BrokerCommand.Kind.PUBLISH:
        return {"id": pk, "kind": kind, **payload}
    return {"id": pk, "kind": kind, "target": target}


def _newest_command_id() -> int:
    return BrokerCommand.objects.aggregate(newest=Max("id"))["newest"] or 0
