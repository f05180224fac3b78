"""UpdateProductPrivateCA and DeleteProductPrivateCA: the CA rollover through Tencent's API."""

from __future__ import annotations

import pytest

from lifecycle import services
from lifecycle.models import SecondCA
from tests import pki
from tests.api_support import assert_refused, build, call, client_for, in_a_new_second
from tests.broker.link_service import custom_ca_device, platform_device
from tests.product_console import register_ca
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


def test_update_and_delete_product_private_ca(api, user):
    device, _ = custom_ca_device(user)
    product = device.product
    second = register_ca(user, pki.make_ca("New Root CA", key=pki.rsa_key(2048, slot=6)), "new_root")

    api.UpdateProductPrivateCA(
        build(models.UpdateProductPrivateCARequest, ProductId=product.product_id, CertName="new_root")
    )

    assert SecondCA.objects.get(product=product).ca_certificate == second
    described = call(api, "DescribeProductCA", {"ProductId": product.product_id})
    assert [ca["CertName"] for ca in described["CAs"]] == ["device_root_ca", "new_root"]
    in_a_new_second()  # DescribeProductCA's body was the same, and so its signature

    api.DeleteProductPrivateCA(build(models.DeleteProductPrivateCARequest, ProductId=product.product_id))

    assert not SecondCA.objects.exists()


def test_the_api_gives_the_consoles_refusals(api, user):
    device = platform_device(user)
    register_ca(user, pki.make_ca("New Root CA", key=pki.rsa_key(2048, slot=6)), "new_root")

    assert_refused(
        lambda: api.UpdateProductPrivateCA(
            build(
                models.UpdateProductPrivateCARequest, ProductId=device.product.product_id, CertName="new_root"
            )
        ),
        services.SECOND_CA_CODE,
        services.NOT_A_CUSTOM_CA_PRODUCT.format(ca="Platform CA"),
    )
    assert_refused(
        lambda: api.DeleteProductPrivateCA(
            build(models.DeleteProductPrivateCARequest, ProductId=device.product.product_id)
        ),
        services.SECOND_CA_CODE,
        services.NO_SECOND_CA,
    )
    assert not SecondCA.objects.exists()


def test_another_accounts_product_or_ca_is_not_found(api, user, other_user):
    mine, _ = custom_ca_device(user)
    theirs, _ = custom_ca_device(other_user, product_name="their_sensors")
    register_ca(other_user, pki.make_ca("New Root CA", key=pki.rsa_key(2048, slot=6)), "their_root")

    assert_refused(
        lambda: api.UpdateProductPrivateCA(
            build(
                models.UpdateProductPrivateCARequest, ProductId=mine.product.product_id, CertName="their_root"
            )
        ),
        "ResourceNotFound.CACertNotExist",
        'There is no CA certificate named "their_root".',
    )
    assert_refused(
        lambda: api.DeleteProductPrivateCA(
            build(models.DeleteProductPrivateCARequest, ProductId=theirs.product.product_id)
        ),
        "ResourceNotFound.ProductNotExist",
        f'There is no product with the ID "{theirs.product.product_id}".',
    )
    assert not SecondCA.objects.exists()
