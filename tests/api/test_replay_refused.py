"""A signature authorises at most one changing request; reads may repeat one (polling)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from api import limits
from api.models import APIKey, SeenSignature
from api.params import ApiError
from products import services
from products.models import Device, Product
from tests.api_support import api_error, post, signed_headers

pytestmark = pytest.mark.django_db(transaction=True)

SIGNATURE_USED = (
    "AuthFailure.SignatureFailure",
    "This signature was already used: a signature authorises one request that changes data, "
    "and only if no other request carried it. Retry with a freshly signed request.",
)


@pytest.fixture
def key(user) -> APIKey:
    return APIKey.objects.create(owner=user)


@pytest.fixture
def product(user) -> Product:
    product = services.create_product(
        owner=user, name="keyed", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )
    services.create_device(product=product, name="dev_01", credentials=services.DeviceCredentials())
    return product


def answer(response) -> dict:
    payload = response.json()["Response"]
    assert "Error" not in payload, payload
    return payload


def test_a_replayed_change_is_refused_and_does_not_undo_the_owners_change(live_server, key, product):
    body = json.dumps({"ProductId": product.product_id, "DeviceNames": ["dev_01"], "Status": 0}).encode()
    captured = signed_headers(live_server, key, "UpdateDevicesEnableState", body)
    answer(post(live_server, captured, body))
    assert not Device.objects.get(name="dev_01").enabled
    # The owner enables the device again, on the console.
    services.set_devices_enabled(product=product, names=["dev_01"], enabled=True)

    assert api_error(post(live_server, captured, body)) == SIGNATURE_USED
    assert Device.objects.get(name="dev_01").enabled


def test_a_captured_change_cannot_carry_another_action(live_server, key, product):
    body = json.dumps({"ProductId": product.product_id, "DeviceName": "dev_02"}).encode()
    captured = signed_headers(live_server, key, "CreateDevice", body)
    answer(post(live_server, captured, body))

    # The action is not signed: the same signature, sent as DeleteDevice.
    assert api_error(post(live_server, {**captured, "X-TC-Action": "DeleteDevice"}, body)) == SIGNATURE_USED
    assert Device.objects.filter(product=product, name="dev_02").exists()


def test_a_captured_read_cannot_be_replayed_as_a_change(live_server, key, product):
    body = json.dumps({"ProductId": product.product_id, "DeviceName": "dev_01"}).encode()
    captured = signed_headers(live_server, key, "DescribeDevice", body)
    assert answer(post(live_server, captured, body))["DeviceName"] == "dev_01"

    assert api_error(post(live_server, {**captured, "X-TC-Action": "DeleteDevice"}, body)) == SIGNATURE_USED
    assert Device.objects.filter(product=product, name="dev_01").exists()
    assert Product.objects.get(pk=product.pk).device_count == 1


def test_a_captured_read_cannot_take_a_devices_one_time_key(live_server, user, key):
    platform_product = services.create_product(
        owner=user, name="platform", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=None
    )
    device = services.create_device(
        product=platform_product, name="dev_01", credentials=services.DeviceCredentials()
    )
    body = json.dumps({"ProductId": platform_product.product_id, "DeviceName": "dev_01"}).encode()
    captured = signed_headers(live_server, key, "DescribeDevice", body)
    assert answer(post(live_server, captured, body))["CertState"] == 0

    replayed = post(live_server, {**captured, "X-TC-Action": "DescribeDeviceClientKey"}, body)

    assert api_error(replayed) == SIGNATURE_USED
    kept = Device.objects.get(pk=device.pk)
    assert kept.private_key_pem == device.private_key_pem
    assert not kept.private_key_fetched


def test_reads_may_repeat_a_signature(live_server, key, product):
    body = json.dumps({"ProductId": product.product_id}).encode()
    headers = signed_headers(live_server, key, "DescribeProduct", body)

    for _ in range(3):
        assert answer(post(live_server, headers, body))["ProductName"] == "keyed"
    # Another read with the same body and second is legitimate too.
    assert answer(post(live_server, {**headers, "X-TC-Action": "DescribeProductCA"}, body))["CAs"] == []


def test_a_freshly_signed_retry_goes_through(live_server, key, product):
    body = json.dumps({"ProductId": product.product_id, "DeviceName": "dev_01"}).encode()
    now = int(time.time())
    captured = signed_headers(live_server, key, "DeleteDevice", body, timestamp=now)
    post(live_server, captured, body)
    services.create_device(product=product, name="dev_01", credentials=services.DeviceCredentials())
    assert api_error(post(live_server, captured, body)) == SIGNATURE_USED

    retry = signed_headers(live_server, key, "DeleteDevice", body, timestamp=now + 1)

    assert answer(post(live_server, retry, body)) is not None
    assert not Device.objects.filter(product=product, name="dev_01").exists()


def test_two_racing_requests_with_one_signature_let_one_through(live_server, key, product):
    body = json.dumps({"ProductId": product.product_id, "DeviceName": "dev_02"}).encode()
    captured = signed_headers(live_server, key, "CreateDevice", body)
    start = threading.Barrier(2)
    answers: list[dict] = []

    def send() -> None:
        start.wait()
        answers.append(post(live_server, captured, body).json()["Response"])

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    errors = [answer["Error"] for answer in answers if "Error" in answer]
    assert len(answers) == 2
    assert [(error["Code"], error["Message"]) for error in errors] == [SIGNATURE_USED]
    assert Device.objects.filter(product=product, name="dev_02").count() == 1
    assert SeenSignature.objects.count() == 1


def test_of_two_changes_with_one_signature_only_the_first_is_admitted(key):
    # The unique column decides, so two racing requests cannot both pass.
    now = int(time.time())
    limits.admit(key, "DeleteDevice", "a" * 64, now)

    with pytest.raises(ApiError) as refused:
        limits.admit(key, "UpdateDevicePSK", "a" * 64, now)

    assert (refused.value.code, refused.value.message) == SIGNATURE_USED
    assert SeenSignature.objects.filter(signature="a" * 64).count() == 1


def test_a_read_may_repeat_but_no_change_may_follow_it(key):
    now = int(time.time())
    limits.admit(key, "DescribeDevice", "b" * 64, now)
    limits.admit(key, "DescribeDevices", "b" * 64, now)

    with pytest.raises(ApiError) as refused:
        limits.admit(key, "DeleteDevice", "b" * 64, now)

    assert (refused.value.code, refused.value.message) == SIGNATURE_USED


def test_signatures_older_than_the_window_are_pruned(live_server, key, product):
    now = int(time.time())
    SeenSignature.objects.create(signature="c" * 64, timestamp=now - 400)
    SeenSignature.objects.create(signature="d" * 64, timestamp=now - 100)
    body = json.dumps({"ProductId": product.product_id}).encode()

    answer(post(live_server, signed_headers(live_server, key, "DescribeProduct", body), body))

    kept = set(SeenSignature.objects.values_list("signature", flat=True))
    assert "c" * 64 not in kept
    assert "d" * 64 in kept
    assert len(kept) == 2
