"""A HEAD or a prefetch of a batch's results leaves the private keys for the real download."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from batches import services
from batches.models import DeviceBatch
from products.models import Device
from tests.product_console import make_product

pytestmark = pytest.mark.django_db

NAMES = ["dev_01", "dev_02"]
KEYS = ["dev_01/dev_01_private.key", "dev_02/dev_02_private.key"]


@pytest.fixture
def batch(user) -> DeviceBatch:
    product = make_product(user, "thermometers")
    batch = services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=NAMES)
    services.run_batch(batch.pk)
    return batch


def results_url(batch: DeviceBatch) -> str:
    return reverse("batches:batch_results", args=[batch.pk])


def assert_keys_untouched() -> None:
    for device in Device.objects.all():
        assert not device.private_key_fetched and "PRIVATE KEY" in device.private_key_pem


def assert_real_get_gets_the_keys(client, batch: DeviceBatch) -> None:
    response = client.get(results_url(batch))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.getvalue())) as archive:
        assert sorted(name for name in archive.namelist() if name.endswith(".key")) == KEYS
    assert all(device.private_key_fetched for device in Device.objects.all())


def test_head_leaves_the_keys(signed_in_client, batch):
    response = signed_in_client.head(results_url(batch))

    assert response.status_code == 200
    assert response.content == b"" and response["Cache-Control"] == "no-store"
    assert_keys_untouched()
    assert_real_get_gets_the_keys(signed_in_client, batch)


@pytest.mark.parametrize(
    "headers", [{"Sec-Purpose": "prefetch"}, {"Sec-Purpose": "prefetch;prerender"}, {"Purpose": "prefetch"}]
)
def test_a_prefetch_is_turned_away_and_leaves_the_keys(signed_in_client, batch, headers):
    response = signed_in_client.get(results_url(batch), headers=headers)

    assert response.status_code == 503  # a browser drops a failed prefetch and asks again on the click
    assert response.content == b"" and response["Cache-Control"] == "no-store"
    assert_keys_untouched()
    assert_real_get_gets_the_keys(signed_in_client, batch)


def test_post_is_not_allowed_and_leaves_the_keys(signed_in_client, batch):
    response = signed_in_client.post(results_url(batch))

    assert response.status_code == 405
    assert_keys_untouched()
