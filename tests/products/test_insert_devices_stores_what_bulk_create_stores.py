"""Batches insert their devices with products.services.insert_devices, not bulk_create: the rows
must be the same, column for column (timestamps, tags as JSON, the key encrypted at rest)."""

from __future__ import annotations

import pytest
from django.db import connection

from products import platform, services
from products.models import Device
from tests.product_console import make_product

pytestmark = pytest.mark.django_db

# What differs between two devices made alike: their ids, names, certificates and keys.
OWN_COLUMNS = {
    "id",
    "name",
    "certificate_pem",
    "certificate_fingerprint",
    "certificate_serial_hex",
    "private_key_pem",
    "created",
    "last_updated",
}


def prepared(product, name: str) -> Device:
    return services.prepare_device(
        product=product,
        name=name,
        credentials=services.DeviceCredentials(),
        tags=[{"Tag": "site", "Type": 2, "Value": "north"}],
        authority=platform.device_ca(),
    )


def stored_row(device: Device) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Device._meta.db_table} WHERE id = %s", [device.pk])
        columns = [column[0] for column in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def test_insert_devices_stores_the_columns_bulk_create_stores_and_gives_each_its_id(user):
    product = make_product(user)
    by_bulk_create, by_insert = prepared(product, "dev_a"), prepared(product, "dev_b")
    Device.objects.bulk_create([by_bulk_create])

    services.insert_devices(product, [by_insert])

    assert by_insert.pk is not None and not by_insert._state.adding
    reference, inserted = stored_row(by_bulk_create), stored_row(by_insert)
    assert {k: v for k, v in inserted.items() if k not in OWN_COLUMNS} == {
        k: v for k, v in reference.items() if k not in OWN_COLUMNS
    }
    assert inserted["private_key_pem"] and "PRIVATE KEY" not in inserted["private_key_pem"]  # encrypted
    stored = Device.objects.get(pk=by_insert.pk)
    assert stored.name == "dev_b"
    assert stored.private_key_pem == by_insert.private_key_pem  # decrypts to the key it was given
    assert stored.tags == [{"Tag": "site", "Type": 2, "Value": "north"}]
    assert stored.created is not None and stored.last_updated is not None


def test_insert_devices_gives_every_device_of_a_chunk_its_own_id(user):
    product = make_product(user)
    devices = [prepared(product, f"dev_{number:03d}") for number in range(60)]

    services.insert_devices(product, devices)

    assert sorted(device.pk for device in devices) == sorted(
        Device.objects.filter(product=product).values_list("pk", flat=True)
    )
    assert all(Device.objects.get(pk=device.pk).name == device.name for device in devices)
