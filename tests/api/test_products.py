"""The product actions: create (custom CA, Platform CA, Key), describe, list with paging, delete, forbid."""

from __future__ import annotations

import re

import pytest
from django.utils.html import escape

from certificates import selectors as ca_selectors
from products import selectors, services, validators
from products.models import Device, Product
from tests import pki
from tests.api_support import (
    assert_refused,
    build,
    call,
    client_for,
    create_product,
    refusal,
    register_ca,
)
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


@pytest.fixture
def device_ca(user):
    return register_ca(user, pki.make_ca("Device CA"), "device_ca")


def describe(api, product_id: str):
    return api.DescribeProduct(build(models.DescribeProductRequest, ProductId=product_id))


def page(api, offset: int, limit: int):
    return api.DescribeProducts(build(models.DescribeProductsRequest, Offset=offset, Limit=limit))


def make_key_product(owner, name: str) -> Product:
    return services.create_product(
        owner=owner, name=name, auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )


# Creating ---------------------------------------------------------------------------


def test_create_product_bound_to_a_private_ca(api, user, device_ca):
    response = create_product(
        api, "thermometers", EncryptionType="1", PrivateCAName="device_ca", ProductDescription="Room sensors"
    )

    assert re.fullmatch(r"[A-Z0-9]{10}", response.ProductId)
    assert response.ProductName == "thermometers"
    properties = response.ProductProperties
    assert properties.EncryptionType == "1"
    assert properties.PrivateCAName == "device_ca"
    assert properties.ProductDescription == "Room sensors"
    assert (properties.Region, properties.ProductType, properties.Format) == ("gz", 0, "json")
    stored = Product.objects.get(product_id=response.ProductId)
    assert stored.owner == user
    assert stored.name == "thermometers"
    assert stored.auth_method == Product.AuthMethod.CERTIFICATE
    assert stored.ca_certificate == device_ca
    assert stored.description == "Room sensors"


def test_create_certificate_product_without_a_ca_name_uses_the_platform_ca(api):
    response = create_product(api, "thermometers", EncryptionType="1", PrivateCAName="")

    assert response.ProductProperties.EncryptionType == "1"
    assert response.ProductProperties.PrivateCAName == ""
    stored = Product.objects.get(product_id=response.ProductId)
    assert stored.uses_platform_ca
    assert stored.ca_certificate is None


def test_create_product_with_no_properties_is_a_platform_ca_product(api):
    response = create_product(api, "thermometers")

    assert Product.objects.get(product_id=response.ProductId).uses_platform_ca


def test_create_key_product(api, device_ca):
    # A CA name given with Key authentication binds nothing: Key devices have no certificates.
    response = create_product(
        api, "meters", EncryptionType="2", PrivateCAName="device_ca", Format="custom", ProductType=5
    )

    properties = response.ProductProperties
    assert (
        properties.EncryptionType,
        properties.PrivateCAName,
        properties.Format,
        properties.ProductType,
    ) == (
        "2",
        "",
        "custom",
        5,
    )
    stored = Product.objects.get(product_id=response.ProductId)
    assert stored.auth_method == Product.AuthMethod.KEY
    assert stored.ca_certificate is None
    assert stored.data_format == Product.DataFormat.CUSTOM
    assert stored.product_type == Product.ProductType.GATEWAY


def test_create_product_with_an_unknown_ca_is_ca_cert_not_exist(api):
    assert_refused(
        lambda: create_product(api, "thermometers", EncryptionType="1", PrivateCAName="ghost_ca"),
        "ResourceNotFound.CACertNotExist",
        ca_selectors.CA_NOT_FOUND.format(name="ghost_ca"),
    )
    assert not Product.objects.exists()


def test_create_product_with_a_taken_name_is_product_already_exist(api, user):
    make_key_product(user, "thermometers")

    assert_refused(
        lambda: create_product(api, "thermometers"),
        "InvalidParameterValue.ProductAlreadyExist",
        services.PRODUCT_NAME_TAKEN.format(name="thermometers"),
    )
    assert Product.objects.count() == 1


@pytest.mark.parametrize("name", ["", "has space", "x" * 41, "slash/name"])
def test_create_product_with_an_invalid_name_is_invalid_parameter_value(api, name):
    assert_refused(
        lambda: create_product(api, name), "InvalidParameterValue", validators.INVALID_PRODUCT_NAME
    )
    assert not Product.objects.exists()


def test_create_product_with_a_long_description_is_invalid_parameter_value(api):
    assert_refused(
        lambda: create_product(api, "thermometers", ProductDescription="x" * 501),
        "InvalidParameterValue",
        validators.DESCRIPTION_TOO_LONG,
    )
    assert not Product.objects.exists()


def test_create_product_over_the_account_limit_is_product_exceed_limit(api, user, settings):
    settings.IOTHUB_PRODUCT_LIMIT = 2
    make_key_product(user, "first")
    make_key_product(user, "second")

    assert_refused(
        lambda: create_product(api, "third"),
        "LimitExceeded.ProductExceedLimit",
        services.PRODUCT_LIMIT_REACHED.format(limit=2),
    )
    assert Product.objects.count() == 2


# Describing -------------------------------------------------------------------------


def test_describe_product(api, device_ca):
    created = create_product(api, "thermometers", EncryptionType="1", PrivateCAName="device_ca")
    stored = Product.objects.get(product_id=created.ProductId)

    response = describe(api, created.ProductId)

    assert response.ProductId == created.ProductId
    assert response.ProductName == "thermometers"
    assert response.ProductMetadata.CreationDate == int(stored.created.timestamp())
    assert response.ProductProperties.PrivateCAName == "device_ca"
    assert response.ProductProperties.EncryptionType == "1"
    assert response.ProductProperties.ForbiddenStatus == 0


def test_describe_unknown_product_is_product_not_exist(api):
    assert_refused(
        lambda: describe(api, "NOSUCHPROD"),
        "ResourceNotFound.ProductNotExist",
        selectors.PRODUCT_NOT_FOUND.format(product_id="NOSUCHPROD"),
    )


def test_describe_products_pages_oldest_first_with_the_total(api, user):
    products = [make_key_product(user, f"product_{index:02}") for index in range(12)]
    ids = [product.product_id for product in products]

    first = page(api, 0, 10)
    second = page(api, 10, 10)

    assert (first.TotalCount, second.TotalCount) == (12, 12)
    assert [p.ProductId for p in first.Products] == ids[:10]
    assert [p.ProductId for p in second.Products] == ids[10:]
    assert second.Products[0].ProductName == "product_10"
    assert second.Products[0].ProductProperties.EncryptionType == "2"
    assert [p.ProductId for p in page(api, 5, 250).Products] == ids[5:]
    assert page(api, 12, 10).Products == []


@pytest.mark.parametrize("limit", [10, 250])
def test_describe_products_accepts_limits_from_10_to_250(api, limit):
    assert page(api, 0, limit).TotalCount == 0


@pytest.mark.parametrize("limit", [9, 251, 0])
def test_describe_products_refuses_limits_outside_10_to_250(api, limit):
    assert_refused(
        lambda: page(api, 0, limit),
        "InvalidParameterValue",
        f"The parameter Limit must be between 10 and 250, not {limit}.",
    )


def test_describe_products_needs_offset_and_limit(api):
    error = refusal(lambda: call(api, "DescribeProducts", {"Limit": 10}))

    assert (error.code, error.message) == ("MissingParameter", "The parameter Offset is required.")


# Deleting ---------------------------------------------------------------------------


def test_delete_product(api, user):
    product = make_key_product(user, "thermometers")

    api.DeleteProduct(build(models.DeleteProductRequest, ProductId=product.product_id))

    assert not Product.objects.filter(pk=product.pk).exists()
    assert page(api, 0, 10).TotalCount == 0


def test_delete_product_with_devices_is_devices_exist_under_product(api, signed_in_client, user):
    product = make_key_product(user, "thermometers")
    services.create_device(product=product, name="dev_01", credentials=services.DeviceCredentials())
    expected = services.PRODUCT_HAS_DEVICES.format(name="thermometers", count=1)

    error = refusal(
        lambda: api.DeleteProduct(build(models.DeleteProductRequest, ProductId=product.product_id))
    )
    console = signed_in_client.post(f"/products/{product.product_id}/delete/", follow=True)

    assert (error.code, error.message) == ("UnauthorizedOperation.DevicesExistUnderProduct", expected)
    assert [str(message) for message in console.context["messages"]] == [expected]
    assert Product.objects.filter(pk=product.pk).exists()
    assert Device.objects.filter(product=product).count() == 1


def test_delete_unknown_product_is_product_not_exist(api):
    assert_refused(
        lambda: api.DeleteProduct(build(models.DeleteProductRequest, ProductId="NOSUCHPROD")),
        "ResourceNotFound.ProductNotExist",
        selectors.PRODUCT_NOT_FOUND.format(product_id="NOSUCHPROD"),
    )


# Forbidding -------------------------------------------------------------------------


def forbid(api, product_ids: list[str], status: int) -> None:
    api.SetProductsForbiddenStatus(
        build(models.SetProductsForbiddenStatusRequest, ProductId=product_ids, Status=status)
    )


def create_device(api, product_id: str, name: str):
    return api.CreateDevice(build(models.CreateDeviceRequest, ProductId=product_id, DeviceName=name))


def test_set_products_forbidden_status_forbids_every_product_listed(api, user):
    first, second, untouched = (make_key_product(user, name) for name in ("first", "second", "third"))

    forbid(api, [first.product_id, second.product_id], 1)

    assert dict(Product.objects.values_list("name", "forbidden")) == {
        "first": True,
        "second": True,
        "third": False,
    }
    assert describe(api, first.product_id).ProductProperties.ForbiddenStatus == 1
    assert describe(api, untouched.product_id).ProductProperties.ForbiddenStatus == 0


def test_a_forbidden_product_refuses_devices_through_the_api_and_the_console(api, signed_in_client, user):
    product = make_key_product(user, "thermometers")
    forbid(api, [product.product_id], 1)
    expected = services.PRODUCT_IS_FORBIDDEN.format(name="thermometers")

    error = refusal(lambda: create_device(api, product.product_id, "dev_01"))
    console = signed_in_client.post(f"/products/{product.product_id}/devices/add/", {"name": "dev_02"})

    assert (error.code, error.message) == ("UnauthorizedOperation.ProductIsForbidden", expected)
    assert console.status_code == 200
    assert console.context["form"].non_field_errors() == [expected]
    assert escape(expected) in console.content.decode()
    assert not Device.objects.exists()


def test_enabled_again_a_product_takes_devices(api, user):
    product = make_key_product(user, "thermometers")
    forbid(api, [product.product_id], 1)

    forbid(api, [product.product_id], 0)
    created = create_device(api, product.product_id, "dev_01")

    assert Product.objects.get(pk=product.pk).forbidden is False
    assert created.DeviceName == "dev_01"
    assert Device.objects.filter(product=product, name="dev_01").exists()


def test_forbidding_with_one_unknown_product_changes_none(api, user):
    product = make_key_product(user, "thermometers")

    assert_refused(
        lambda: forbid(api, [product.product_id, "NOSUCHPROD"], 1),
        "ResourceNotFound.ProductNotExist",
        selectors.PRODUCT_NOT_FOUND.format(product_id="NOSUCHPROD"),
    )
    assert Product.objects.get(pk=product.pk).forbidden is False


def test_forbidden_status_must_be_0_or_1(api, user):
    product = make_key_product(user, "thermometers")

    assert_refused(
        lambda: forbid(api, [product.product_id], 2),
        "InvalidParameterValue",
        "The parameter Status must be one of 0, 1, not 2.",
    )
    assert Product.objects.get(pk=product.pk).forbidden is False
