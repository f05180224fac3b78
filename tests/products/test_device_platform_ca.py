"""Add Device to a Platform CA product: the console issues the certificate, for its own key or the device's CSR."""

from __future__ import annotations

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.db import connection

from certificates import issuance, x509
from products import forms, platform, selectors, services, validators
from products.models import Device, Product
from tests import pki
from tests.product_console import add_url, assert_field_error, assert_message, make_product, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(user):
    return make_product(user, "thermometers")


def stored_certificate(device: Device) -> cx509.Certificate:
    return cx509.load_pem_x509_certificate(device.certificate_pem.encode())


def raw_column(device: Device, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM products_device WHERE id = %s", [device.pk])
        return cursor.fetchone()[0]


def assert_issued_for(device: Device, product: Product) -> cx509.Certificate:
    """The stored certificate is the device's: its CN, client auth only, from the platform device CA."""
    certificate = stored_certificate(device)
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == f"{product.product_id}{device.name}"
    usage = certificate.extensions.get_extension_for_class(cx509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert certificate.extensions.get_extension_for_class(cx509.BasicConstraints).value.ca is False
    device_ca = platform.device_ca().certificate
    assert certificate.issuer == device_ca.subject
    certificate.verify_directly_issued_by(device_ca)
    assert device.certificate_not_after == certificate.not_valid_after_utc
    return certificate


def test_generates_ec_p256_key_and_certificate_by_default(signed_in_client, product):
    response = signed_in_client.post(
        add_url(product), {"name": "dev_01", "certificate_source": "generate"}, follow=True
    )

    assert response.redirect_chain == [(f"/products/{product.product_id}/device/dev_01/", 302)]
    assert_message(response, 'Device "dev_01" was added.', level="success")
    device = Device.objects.get(product=product)
    assert device.key_origin == Device.KeyOrigin.GENERATED
    certificate = assert_issued_for(device, product)
    key = issuance.load_private_key_pem(device.private_key_pem)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key() == certificate.public_key()
    assert not device.private_key_fetched
    # Encrypted at rest: the column holds no PEM.
    assert "PRIVATE KEY" not in raw_column(device, "private_key_pem")
    assert "Not yet fetched" in response.content.decode()


def test_generates_rsa_2048_for_an_rsa_product(signed_in_client, user):
    product = make_product(user, "rsa-things", device_key_algorithm=Product.KeyAlgorithm.RSA_2048)

    response = signed_in_client.post(add_url(product), {"name": "dev_01", "certificate_source": "generate"})

    assert response.status_code == 302
    device = Device.objects.get(product=product)
    certificate = assert_issued_for(device, product)
    key = issuance.load_private_key_pem(device.private_key_pem)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert key.public_key() == certificate.public_key()
    usage = certificate.extensions.get_extension_for_class(cx509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment
    assert "PRIVATE KEY" not in raw_column(device, "private_key_pem")


def test_platform_ca_chain_is_one_root_and_one_device_ca(product):
    root, device_ca = platform.root_ca(), platform.device_ca()

    device_ca.certificate.verify_directly_issued_by(root.certificate)
    assert platform.device_ca().certificate_pem == device_ca.certificate_pem
    assert selectors.product_device_ca_pem(product) == device_ca.certificate_pem
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key_pem FROM products_platformca")
        assert all("PRIVATE KEY" not in row[0] for row in cursor.fetchall())


def test_signs_an_uploaded_csr_and_keeps_no_private_key(signed_in_client, product):
    device_key = pki.ec_key()
    csr = pki.make_csr("anything the device chose", key=device_key)

    response = signed_in_client.post(
        add_url(product),
        {
            "name": "dev_01",
            "certificate_source": "csr",
            "csr": upload("dev_01.csr", csr.public_bytes(serialization.Encoding.PEM)),
        },
    )

    assert response.status_code == 302
    device = Device.objects.get(product=product)
    assert device.key_origin == Device.KeyOrigin.CSR
    certificate = assert_issued_for(device, product)
    assert certificate.public_key() == device_key.public_key()
    assert device.private_key_pem == "" and raw_column(device, "private_key_pem") == ""
    assert not device.private_key_retrievable


def test_signs_a_der_csr_with_an_rsa_key(signed_in_client, product):
    csr = pki.make_csr(f"{product.product_id}dev_01")

    response = signed_in_client.post(
        add_url(product),
        {
            "name": "dev_01",
            "certificate_source": "csr",
            "csr": upload("dev_01.der", csr.public_bytes(serialization.Encoding.DER)),
        },
    )

    assert response.status_code == 302
    certificate = assert_issued_for(Device.objects.get(product=product), product)
    assert certificate.public_key() == pki.rsa_key(2048, slot=2).public_key()


def test_refuses_a_csr_whose_signature_was_tampered_with(signed_in_client, product):
    der = pki.make_csr(f"{product.product_id}dev_01").public_bytes(serialization.Encoding.DER)

    response = signed_in_client.post(
        add_url(product),
        {
            "name": "dev_01",
            "certificate_source": "csr",
            "csr": upload("dev_01.csr", pki.with_tampered_signature(der)),
        },
    )

    assert_field_error(response, "csr", issuance.CSR_BAD_SIGNATURE)
    assert not Device.objects.exists()


def test_refuses_a_csr_with_a_weak_key(signed_in_client, product):
    csr = pki.make_csr(f"{product.product_id}dev_01", key=pki.rsa_key(1024))

    response = signed_in_client.post(
        add_url(product),
        {
            "name": "dev_01",
            "certificate_source": "csr",
            "csr": upload("dev_01.csr", csr.public_bytes(serialization.Encoding.PEM)),
        },
    )

    assert_field_error(response, "csr", x509.WEAK_RSA_KEY.format(role="CSR", bits=1024))
    assert not Device.objects.exists()


def test_refuses_a_file_that_is_not_a_csr(signed_in_client, product):
    response = signed_in_client.post(
        add_url(product),
        {
            "name": "dev_01",
            "certificate_source": "csr",
            "csr": upload("dev_01.csr", b"not a certificate request"),
        },
    )

    assert_field_error(response, "csr", issuance.NOT_A_CSR)
    assert not Device.objects.exists()


def test_refuses_a_private_key_given_as_csr(signed_in_client, product):
    key_pem = pki.ec_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    response = signed_in_client.post(
        add_url(product),
        {"name": "dev_01", "certificate_source": "csr", "csr": upload("dev_01.pem", key_pem)},
    )

    assert_field_error(response, "csr", issuance.PRIVATE_KEY_REFUSED)
    assert not Device.objects.exists()


def test_refuses_a_csr_file_with_a_wrong_extension(signed_in_client, product):
    csr = pki.make_csr(f"{product.product_id}dev_01")

    response = signed_in_client.post(
        add_url(product),
        {
            "name": "dev_01",
            "certificate_source": "csr",
            "csr": upload("dev_01.txt", csr.public_bytes(serialization.Encoding.PEM)),
        },
    )

    assert_field_error(response, "csr", forms.WRONG_CSR_EXTENSION.format(filename="dev_01.txt"))
    assert not Device.objects.exists()


def test_refuses_a_csr_file_over_64_kib(signed_in_client, product):
    pem = pki.make_csr(f"{product.product_id}dev_01").public_bytes(serialization.Encoding.PEM)

    response = signed_in_client.post(
        add_url(product),
        {"name": "dev_01", "certificate_source": "csr", "csr": upload("dev_01.csr", pem + b"#" * 64 * 1024)},
    )

    assert_field_error(response, "csr", validators.CSR_TOO_LARGE)
    assert not Device.objects.exists()


def test_csr_choice_needs_a_file(signed_in_client, product):
    response = signed_in_client.post(add_url(product), {"name": "dev_01", "certificate_source": "csr"})

    assert_field_error(response, "csr", forms.CSR_REQUIRED)
    assert not Device.objects.exists()


def test_refuses_an_uploaded_certificate_through_the_service(product):
    leaf = pki.make_leaf(f"{product.product_id}dev_01", pki.make_ca(), extended_key_usage=pki.CLIENT_AUTH)

    with pytest.raises(services.ServiceError) as refused:
        services.create_device(
            product=product, name="dev_01", credentials=services.DeviceCredentials(certificate_data=leaf.pem)
        )

    assert refused.value.message == services.CERTIFICATE_ON_PLATFORM_PRODUCT
    assert not Device.objects.exists()
