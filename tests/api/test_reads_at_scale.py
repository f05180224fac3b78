"""DescribeDevices, DescribeProducts and the CA reads cost the same queries whatever the numbers."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.models import APIKey
from certificates.models import CACertificate
from products import services
from products.models import Product
from tests import pki
from tests.api_support import JSON_CONTENT_TYPE, VERSION, register_ca, tc3_authorization

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(user) -> APIKey:
    return APIKey.objects.create(owner=user)


def call(client, key: APIKey, action: str, params: dict) -> dict:
    """A signed API request through Django's test client (so its queries can be counted)."""
    body = json.dumps(params).encode()
    timestamp = int(time.time())
    response = client.post(
        "/",
        data=body,
        content_type=JSON_CONTENT_TYPE,
        HTTP_HOST="testserver",
        HTTP_X_TC_ACTION=action,
        HTTP_X_TC_VERSION=VERSION,
        HTTP_X_TC_TIMESTAMP=str(timestamp),
        HTTP_AUTHORIZATION=tc3_authorization(
            secret_id=key.secret_id,
            secret_key=key.secret_key,
            host="testserver",
            body=body,
            timestamp=timestamp,
        ),
    )
    payload = response.json()["Response"]
    assert "Error" not in payload, payload
    return payload


def add_key_devices(product: Product, count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        services.create_device(
            product=product, name=f"dev_{number:03d}", credentials=services.DeviceCredentials()
        )


def counted(client, key: APIKey, action: str, params: dict) -> tuple[dict, list[str]]:
    """The answer, and the queries the action itself made.

    Left out: the key, rate and signature checks every request makes, and the Audit Log's
    entry (one per call that shows PSKs, however many).
    """
    with CaptureQueriesContext(connection) as captured:
        payload = call(client, key, action, params)
    statements = [query["sql"] for query in captured.captured_queries]
    own = [
        sql
        for sql in statements
        if '"api_' not in sql and '"audit_' not in sql and not sql.startswith(("SAVEPOINT", "RELEASE"))
    ]
    return payload, own


def test_describe_devices_costs_the_same_queries_at_3_and_30_devices(
    client, user, key, django_assert_num_queries
):
    product = services.create_product(
        owner=user, name="keyed", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )
    params = {"ProductId": product.product_id, "Offset": 0, "Limit": 100}
    add_key_devices(product, 3)
    call(client, key, "DescribeDevices", params)  # the key's rate counter for this action now exists
    with CaptureQueriesContext(connection) as at_three:
        few, own = counted(client, key, "DescribeDevices", params)
    assert len(own) == 2  # the product, then one page of its devices

    add_key_devices(product, 27, start=3)
    with django_assert_num_queries(len(at_three)):
        many, own = counted(client, key, "DescribeDevices", params)

    assert (few["TotalCount"], len(few["Devices"])) == (3, 3)
    assert (many["TotalCount"], len(many["Devices"])) == (30, 30)
    assert [device["DeviceName"] for device in many["Devices"]] == [f"dev_{n:03d}" for n in range(30)]
    # The total is the product's stored count: no row is counted, no private key read.
    assert "COUNT(" not in " ".join(own).upper()
    assert "private_key_pem" not in " ".join(own)


def test_describe_products_costs_the_same_queries_at_3_and_30_products(
    client, user, key, django_assert_num_queries
):
    ca = register_ca(user, pki.make_ca("Device CA"), "device_ca")

    def add_products(numbers: range) -> None:
        for number in numbers:
            services.create_product(
                owner=user,
                name=f"product_{number:02d}",
                auth_method=Product.AuthMethod.CERTIFICATE,
                ca_certificate=ca if number % 2 else None,
            )

    add_products(range(3))
    call(client, key, "DescribeProducts", {"Offset": 0, "Limit": 100})  # the rate counter now exists
    with CaptureQueriesContext(connection) as at_three:
        few, own = counted(client, key, "DescribeProducts", {"Offset": 0, "Limit": 100})
    assert len(own) == 2  # the count of at most 2,000 products, one page with their CAs joined

    add_products(range(3, 30))
    with django_assert_num_queries(len(at_three)):
        many, _ = counted(client, key, "DescribeProducts", {"Offset": 0, "Limit": 100})

    assert (few["TotalCount"], many["TotalCount"]) == (3, 30)
    assert [p["ProductProperties"]["PrivateCAName"] for p in many["Products"][:3]] == ["", "device_ca", ""]


def test_ca_info_comes_from_stored_columns_not_from_the_pem(client, user, key):
    ca = register_ca(user, pki.make_ca("Device CA"), "device_ca")
    stored = CACertificate.objects.get(pk=ca.pk)
    # What the list shows is what was stored at registration: the PEM is not parsed again.
    CACertificate.objects.filter(pk=ca.pk).update(subject="CN=Stored Subject", serial_hex="ABCDEF")

    described = call(client, key, "DescribePrivateCAs", {})["CAs"]

    assert described == [
        {
            "CertName": "device_ca",
            "CertSN": "ABCDEF",
            "IssuerName": stored.issuer,
            "Subject": "CN=Stored Subject",
            "CreateTime": int(stored.created.timestamp()),
            "EffectiveTime": int(stored.not_before.timestamp()),
            "ExpireTime": int(stored.not_after.timestamp()),
            "CertText": stored.certificate_pem,
        }
    ]


def test_describe_private_cas_reads_every_ca_in_one_query(client, user, key):
    for number in range(3):
        register_ca(user, pki.make_ca(f"CA {number}"), f"ca_{number}")

    described, own = counted(client, key, "DescribePrivateCAs", {})

    assert len(own) == 1
    assert [ca["CertName"] for ca in described["CAs"]] == ["ca_0", "ca_1", "ca_2"]
