"""DescribeDevices refuses a FirmwareVersion filter: no device reports firmware to the console.

An empty list would claim the product has no device on that firmware; the refusal says
the filter cannot be honoured, in Tencent's JSON.
"""

from __future__ import annotations

import json

import pytest

from api.actions import FIRMWARE_FILTER_UNSUPPORTED
from api.models import APIKey
from products.models import Device, Product
from tests.api_support import api_error, signed_post
from tests.product_console import make_device, make_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_describe_devices_refuses_a_firmware_version_filter(live_server, user):
    key = APIKey.objects.create(owner=user)
    product = make_product(user, auth_method=Product.AuthMethod.KEY)
    make_device(product)
    body = {"ProductId": product.product_id, "Offset": 0, "Limit": 10, "FirmwareVersion": "1.0.0"}

    response = signed_post(live_server, key, "DescribeDevices", json.dumps(body).encode())

    assert api_error(response) == ("UnsupportedOperation", FIRMWARE_FILTER_UNSUPPORTED)
    assert Device.objects.get().name == "dev_01"


def test_describe_devices_without_the_filter_lists_the_devices(live_server, user):
    key = APIKey.objects.create(owner=user)
    product = make_product(user, auth_method=Product.AuthMethod.KEY)
    make_device(product)
    body = {"ProductId": product.product_id, "Offset": 0, "Limit": 10}

    response = signed_post(live_server, key, "DescribeDevices", json.dumps(body).encode())

    listed = response.json()["Response"]
    assert listed["TotalCount"] == 1
    assert [device["DeviceName"] for device in listed["Devices"]] == ["dev_01"]
