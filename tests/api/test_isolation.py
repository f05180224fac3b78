"""One account's API key can neither see nor change another account's CAs, products or devices.

Another account's object answers exactly as a missing one does (ResourceNotFound.*),
never confirming that it exists, and the refusal changes nothing in the database.
"""

from __future__ import annotations

import pytest

from certificates import selectors as ca_selectors
from certificates import services as ca_services
from certificates.models import AuthenticationCode, CACertificate
from products import selectors
from products.models import Device, Product
from tests import pki
from tests.api_support import (
    assert_refused,
    authentication_code,
    build,
    client_for,
    create_private_ca,
    create_product,
    refusal,
)
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(live_server, user):
    return client_for(live_server, user)


@pytest.fixture
def mallory(live_server, other_user):
    return client_for(live_server, other_user)


@pytest.fixture
def alices_things(alice):
    """Alice's CA, a product bound to it, a Key product with a device, as the API made them."""
    alices_ca = pki.make_ca("Alice CA")
    create_private_ca(alice, "alice_ca", alices_ca)
    bound = create_product(alice, "bound", EncryptionType="1", PrivateCAName="alice_ca").ProductId
    keyed = create_product(alice, "keyed", EncryptionType="2").ProductId
    alice.CreateDevice(build(models.CreateDeviceRequest, ProductId=keyed, DeviceName="dev_01"))
    return {"ca": alices_ca, "bound": bound, "keyed": keyed}


def snapshot() -> tuple:
    """Everything an action could change, to compare before and after a refusal."""
    return (
        list(
            CACertificate.objects.order_by("pk").values_list(
                "owner", "name", "fingerprint_sha256", "last_updated"
            )
        ),
        list(
            Product.objects.order_by("pk").values_list(
                "owner", "product_id", "name", "forbidden", "last_updated"
            )
        ),
        list(Device.objects.order_by("pk").values_list("product", "name", "enabled", "psk", "last_updated")),
    )


def product_not_found(product_id: str) -> tuple[str, str]:
    return ("ResourceNotFound.ProductNotExist", selectors.PRODUCT_NOT_FOUND.format(product_id=product_id))


def ca_not_found(name: str) -> tuple[str, str]:
    return ("ResourceNotFound.CACertNotExist", ca_selectors.CA_NOT_FOUND.format(name=name))


def test_lists_show_only_the_callers_own_objects(alice, mallory, alices_things):
    create_private_ca(mallory, "mallory_ca", pki.make_ca("Mallory CA"))
    create_product(mallory, "mallorys")

    assert [ca.CertName for ca in mallory.DescribePrivateCAs(models.DescribePrivateCAsRequest()).CAs] == [
        "mallory_ca"
    ]
    products = mallory.DescribeProducts(build(models.DescribeProductsRequest, Offset=0, Limit=10))
    assert products.TotalCount == 1
    assert [p.ProductName for p in products.Products] == ["mallorys"]
    assert [ca.CertName for ca in alice.DescribePrivateCAs(models.DescribePrivateCAsRequest()).CAs] == [
        "alice_ca"
    ]
    assert alice.DescribeProducts(build(models.DescribeProductsRequest, Offset=0, Limit=10)).TotalCount == 2


def test_another_accounts_ca_is_not_found(mallory, alices_things):
    before = snapshot()
    ca = alices_things["ca"]
    verification = pki.make_verification(authentication_code(mallory), ca)
    # Changes before reads: DeletePrivateCA has DescribePrivateCA's body, and a change may
    # not carry a signature a read already used.
    requests = [
        lambda: mallory.DeletePrivateCA(build(models.DeletePrivateCARequest, CertName="alice_ca")),
        lambda: mallory.UpdatePrivateCA(
            build(
                models.UpdatePrivateCARequest,
                CertName="alice_ca",
                CertText=ca.pem.decode(),
                VerifyCertText=verification.pem.decode(),
            )
        ),
        lambda: mallory.DescribePrivateCA(build(models.DescribePrivateCARequest, CertName="alice_ca")),
        lambda: mallory.DescribePrivateCABindedProducts(
            build(models.DescribePrivateCABindedProductsRequest, CertName="alice_ca", Offset=0, Limit=10)
        ),
    ]

    for request in requests:
        error = refusal(request)
        assert (error.code, error.message) == ca_not_found("alice_ca")
    assert snapshot() == before


def test_a_product_cannot_be_bound_to_another_accounts_ca(mallory, alices_things):
    before = snapshot()

    assert_refused(
        lambda: create_product(mallory, "stolen", EncryptionType="1", PrivateCAName="alice_ca"),
        "ResourceNotFound.CACertNotExist",
        ca_selectors.CA_NOT_FOUND.format(name="alice_ca"),
    )
    assert snapshot() == before


def test_another_accounts_products_and_devices_are_not_found(mallory, alices_things):
    before = snapshot()
    keyed, bound = alices_things["keyed"], alices_things["bound"]
    # Changes before reads: DeleteProduct and DeleteDevice have the bodies of DescribeProduct
    # and DescribeDevice, and a change may not carry a signature a read already used.
    requests = [
        (keyed, lambda: mallory.DeleteProduct(build(models.DeleteProductRequest, ProductId=keyed))),
        (
            keyed,
            lambda: mallory.SetProductsForbiddenStatus(
                build(models.SetProductsForbiddenStatusRequest, ProductId=[keyed], Status=1)
            ),
        ),
        (
            keyed,
            lambda: mallory.CreateDevice(
                build(models.CreateDeviceRequest, ProductId=keyed, DeviceName="dev_02")
            ),
        ),
        (
            keyed,
            lambda: mallory.DeleteDevice(
                build(models.DeleteDeviceRequest, ProductId=keyed, DeviceName="dev_01")
            ),
        ),
        (
            keyed,
            lambda: mallory.UpdateDevicesEnableState(
                build(
                    models.UpdateDevicesEnableStateRequest, ProductId=keyed, DeviceNames=["dev_01"], Status=0
                )
            ),
        ),
        (keyed, lambda: mallory.DescribeProduct(build(models.DescribeProductRequest, ProductId=keyed))),
        (bound, lambda: mallory.DescribeProductCA(build(models.DescribeProductCARequest, ProductId=bound))),
        (
            keyed,
            lambda: mallory.DescribeDevice(
                build(models.DescribeDeviceRequest, ProductId=keyed, DeviceName="dev_01")
            ),
        ),
        (
            keyed,
            lambda: mallory.DescribeDevices(
                build(models.DescribeDevicesRequest, ProductId=keyed, Offset=0, Limit=10)
            ),
        ),
    ]

    for product_id, request in requests:
        error = refusal(request)
        assert (error.code, error.message) == product_not_found(product_id)
    assert snapshot() == before


def test_forbidding_own_and_another_accounts_product_together_changes_neither(mallory, alices_things):
    own = create_product(mallory, "mallorys").ProductId
    before = snapshot()

    assert_refused(
        lambda: mallory.SetProductsForbiddenStatus(
            build(models.SetProductsForbiddenStatusRequest, ProductId=[own, alices_things["keyed"]], Status=1)
        ),
        *product_not_found(alices_things["keyed"]),
    )
    assert snapshot() == before
    assert not Product.objects.filter(forbidden=True).exists()


def test_another_accounts_authentication_code_proves_nothing(mallory, user, alices_things):
    # A verification certificate made for Alice's code does not register a CA for Mallory.
    alices_code = ca_services.current_authentication_code(owner=user).code
    ca = pki.make_ca("Mallory CA")
    verification = pki.make_verification(alices_code, ca)
    before = snapshot()

    error = refusal(
        lambda: mallory.CreatePrivateCA(
            build(
                models.CreatePrivateCARequest,
                CertName="mallory_ca",
                CertText=ca.pem.decode(),
                VerifyCertText=verification.pem.decode(),
            )
        )
    )

    assert error.code == "InvalidParameterValue.CACertNotMatch"
    assert snapshot() == before
    assert AuthenticationCode.objects.get(code=alices_code).used_at is None


def test_names_are_per_account(mallory, other_user, alices_things):
    # The same CA, CA name and product name are free in another account.
    create_private_ca(mallory, "alice_ca", alices_things["ca"])
    created = create_product(mallory, "keyed", EncryptionType="1", PrivateCAName="alice_ca")

    mallorys = Product.objects.get(product_id=created.ProductId)
    assert mallorys.owner == other_user
    assert mallorys.ca_certificate.owner == other_user
    assert Product.objects.filter(name="keyed").count() == 2
    assert CACertificate.objects.filter(name="alice_ca").count() == 2
