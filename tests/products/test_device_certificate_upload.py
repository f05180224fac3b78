"""Add Device to a custom-CA product: the uploaded certificate must be the device's, from the product's CA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes

from certificates import forms as ca_forms
from certificates import x509
from products import services
from products.models import Device
from tests import pki
from tests.product_console import (
    CUSTOM_CA_NAME,
    add_url,
    assert_field_error,
    assert_message,
    custom_ca,
    device_leaf,
    make_product,
    register_ca,
    upload,
)

pytestmark = pytest.mark.django_db

ROLE = "device certificate"
FIELD = "device_certificate"


@pytest.fixture
def ca() -> pki.Issued:
    return custom_ca()


@pytest.fixture
def product(user, ca):
    return make_product(user, "door-locks", ca_certificate=register_ca(user, ca, "device_root_ca"))


def post_device(client, product, name: str, filename: str, data: bytes, *, follow: bool = False):
    return client.post(add_url(product), {"name": name, FIELD: upload(filename, data)}, follow=follow)


def assert_refused(response, message: str, field: str | None = FIELD) -> None:
    assert_field_error(response, field, message)
    assert not Device.objects.exists()


def test_accepts_certificate_issued_by_the_products_ca(signed_in_client, product, ca):
    leaf = device_leaf(product, "dev_01", ca)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem, follow=True)

    assert response.redirect_chain == [(f"/products/{product.product_id}/device/dev_01/", 302)]
    assert_message(response, 'Device "dev_01" was added.', level="success")
    device = Device.objects.get(product=product)
    info = x509.describe_certificate(leaf.certificate)
    assert device.name == "dev_01"
    assert device.key_origin == Device.KeyOrigin.UPLOADED_CERTIFICATE
    assert device.certificate_pem == info.pem
    assert device.certificate_fingerprint == info.fingerprint_sha256
    assert device.certificate_serial_hex == info.serial_hex
    assert device.certificate_not_after == info.not_after
    assert device.private_key_pem == "" and device.psk == ""
    assert device.enabled and device.status == "Not activated"


def test_accepts_der_in_a_cer_file_and_an_ec_key(signed_in_client, product, ca):
    leaf = device_leaf(product, "dev_01", ca, key=pki.ec_key())

    response = post_device(signed_in_client, product, "dev_01", "dev_01.CER", leaf.der)

    assert response.status_code == 302
    assert Device.objects.get(product=product).certificate_pem == leaf.pem.decode()


def test_accepts_certificate_without_extended_key_usage(signed_in_client, product, ca):
    leaf = pki.make_leaf(f"{product.product_id}dev_01", ca)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.pem", leaf.pem)

    assert response.status_code == 302
    assert Device.objects.filter(product=product, name="dev_01").exists()


def test_page_shows_the_openssl_recipe_for_this_product(signed_in_client, product):
    response = signed_in_client.get(add_url(product))

    assert response.status_code == 200
    content = response.content.decode()
    assert f'-subj "/CN={product.product_id}dev_01"' in content
    assert "-CA ca.crt -CAkey ca.key -CAcreateserial" in content
    assert "<strong>device_root_ca</strong>" in content


@pytest.mark.parametrize(
    "common_name",
    ["ABCDEFGHIJdev_01", "{product_id}dev_02", "{product_id}DEV_01", "dev_01", "{product_id}dev_01 "],
    ids=["other-product-id", "other-device-name", "different-case", "no-product-id", "trailing-space"],
)
def test_refuses_common_name_other_than_product_id_and_device_name(
    signed_in_client, product, ca, common_name
):
    common_name = common_name.format(product_id=product.product_id)
    leaf = pki.make_leaf(common_name, ca, extended_key_usage=pki.CLIENT_AUTH)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    expected = f"{product.product_id}dev_01"
    assert_refused(response, services.WRONG_COMMON_NAME.format(expected=expected, actual=common_name))


def test_refuses_certificate_signed_by_another_ca(signed_in_client, product):
    other = pki.make_ca("Someone Else's CA", key=pki.ec_key())
    leaf = device_leaf(product, "dev_01", other)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_refused(
        response,
        x509.ISSUER_NAME_MISMATCH.format(
            role=ROLE,
            issuer=other.certificate.subject.rfc4514_string(),
            subject=pki.name(CUSTOM_CA_NAME).rfc4514_string(),
        ),
    )


def test_refuses_certificate_from_a_ca_with_the_same_name_but_another_key(signed_in_client, product):
    impostor = pki.make_ca(CUSTOM_CA_NAME, key=pki.ec_key())
    leaf = device_leaf(product, "dev_01", impostor)
    assert leaf.certificate.issuer == pki.name(CUSTOM_CA_NAME)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_refused(response, x509.SIGNATURE_MISMATCH.format(role=ROLE))


def test_refuses_expired_certificate(signed_in_client, product, ca):
    not_after = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    leaf = device_leaf(product, "dev_01", ca, not_before=not_after - timedelta(days=30), not_after=not_after)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_refused(response, x509.EXPIRED.format(role=ROLE, date=not_after.strftime("%Y-%m-%d %H:%M UTC")))


def test_refuses_certificate_not_yet_valid(signed_in_client, product, ca):
    not_before = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    leaf = device_leaf(
        product, "dev_01", ca, not_before=not_before, not_after=not_before + timedelta(days=30)
    )

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_refused(
        response, x509.NOT_YET_VALID.format(role=ROLE, date=not_before.strftime("%Y-%m-%d %H:%M UTC"))
    )


def test_refuses_certificate_for_servers_only(signed_in_client, product, ca):
    leaf = device_leaf(product, "dev_01", ca, extended_key_usage=pki.SERVER_AUTH_ONLY)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_refused(response, x509.NO_CLIENT_AUTH.format(role=ROLE))


def test_refuses_rsa_1024_key(signed_in_client, product, ca):
    leaf = device_leaf(product, "dev_01", ca, key=pki.rsa_key(1024))

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_refused(response, x509.WEAK_RSA_KEY.format(role=ROLE, bits=1024))


def test_refuses_certificate_on_an_unsupported_curve(signed_in_client, product, ca):
    from cryptography.hazmat.primitives.asymmetric import ec

    leaf = device_leaf(product, "dev_01", ca, key=pki.ec_key(ec.SECP256K1()))

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_refused(response, x509.UNSUPPORTED_CURVE.format(role=ROLE, curve="secp256k1"))


def test_refuses_certificate_signed_with_sha1(signed_in_client, product, ca):
    leaf = pki.make_sha1_leaf(f"{product.product_id}dev_01", ca, extended_key_usage=pki.CLIENT_AUTH)
    assert leaf.certificate.signature_hash_algorithm.name == "sha1"

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_refused(response, x509.WEAK_SIGNATURE.format(role=ROLE, algorithm="SHA1"))


def test_accepts_certificate_signed_with_sha512_as_the_page_recipe_does(signed_in_client, product, ca):
    leaf = device_leaf(product, "dev_01", ca, hash_algorithm=hashes.SHA512())

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert response.status_code == 302
    assert Device.objects.filter(product=product, name="dev_01").exists()


def test_refuses_certificate_already_used_by_another_device(signed_in_client, user, product, ca):
    leaf = device_leaf(product, "dev_01", ca)
    other_product = make_product(user, "elsewhere", ca_certificate=product.ca_certificate)
    Device.objects.create(
        product=other_product,
        name="old_device",
        key_origin=Device.KeyOrigin.UPLOADED_CERTIFICATE,
        certificate_pem=leaf.pem.decode(),
        certificate_fingerprint=x509.describe_certificate(leaf.certificate).fingerprint_sha256,
    )

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", leaf.pem)

    assert_field_error(response, FIELD, services.CERTIFICATE_IN_USE)
    assert list(Device.objects.values_list("name", flat=True)) == ["old_device"]


def test_refuses_a_device_name_already_in_the_product(signed_in_client, product, ca):
    first = device_leaf(product, "dev_01", ca)
    assert post_device(signed_in_client, product, "dev_01", "dev_01.crt", first.pem).status_code == 302
    second = device_leaf(product, "dev_01", ca)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", second.pem)

    assert_field_error(response, "name", services.DEVICE_NAME_TAKEN.format(name="dev_01"))
    stored = Device.objects.get(product=product)
    assert stored.certificate_pem == first.pem.decode()


def test_refuses_the_same_certificate_twice_through_the_service(user, product, ca):
    leaf = device_leaf(product, "dev_01", ca)
    services.create_device(
        product=product, name="dev_01", credentials=services.DeviceCredentials(certificate_data=leaf.pem)
    )

    with pytest.raises(services.ServiceError) as refused:
        services.create_device(
            product=product, name="dev_01", credentials=services.DeviceCredentials(certificate_data=leaf.pem)
        )

    assert refused.value.message == services.DEVICE_NAME_TAKEN.format(name="dev_01")
    assert Device.objects.count() == 1


def test_refuses_a_private_key(signed_in_client, product, ca):
    leaf = device_leaf(product, "dev_01", ca)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.pem", leaf.key_pem)

    assert_refused(response, x509.PRIVATE_KEY_REFUSED)


def test_refuses_certificate_and_key_in_one_file(signed_in_client, product, ca):
    leaf = device_leaf(product, "dev_01", ca)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.pem", leaf.pem + leaf.key_pem)

    assert_refused(response, x509.PRIVATE_KEY_REFUSED)


def test_refuses_a_txt_file(signed_in_client, product, ca):
    leaf = device_leaf(product, "dev_01", ca)

    response = post_device(signed_in_client, product, "dev_01", "dev_01.txt", leaf.pem)

    assert_refused(response, ca_forms.WRONG_EXTENSION.format(filename="dev_01.txt"))


def test_refuses_a_file_that_is_not_a_certificate(signed_in_client, product):
    response = post_device(
        signed_in_client, product, "dev_01", "dev_01.crt", b"hello, this is not a certificate"
    )

    assert_refused(response, x509.NOT_A_CERTIFICATE)


def test_refuses_no_file(signed_in_client, product):
    response = signed_in_client.post(add_url(product), {"name": "dev_01"})

    assert_refused(response, "This field is required.")


def test_refuses_a_csr_on_a_custom_ca_product_through_the_service(product):
    csr = pki.make_csr(f"{product.product_id}dev_01")
    from cryptography.hazmat.primitives import serialization

    with pytest.raises(services.ServiceError) as refused:
        services.create_device(
            product=product,
            name="dev_01",
            credentials=services.DeviceCredentials(csr_data=csr.public_bytes(serialization.Encoding.PEM)),
        )

    assert refused.value.message == services.CSR_ON_CUSTOM_CA_PRODUCT.format(ca="device_root_ca")
    assert not Device.objects.exists()


def test_refuses_a_ca_certificate_as_a_device_certificate(signed_in_client, product, ca):
    # A sub-CA named like a device: right CN, right issuer, but not an end-entity certificate.
    sub_ca = pki.make_ca(f"{product.product_id}dev_01", issuer=ca, key=pki.ec_key())

    response = post_device(signed_in_client, product, "dev_01", "dev_01.crt", sub_ca.pem)

    assert_refused(response, services.DEVICE_CERTIFICATE_IS_CA)
    assert not Device.objects.filter(product=product).exists()
