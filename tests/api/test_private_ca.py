"""The private CA actions: register with proof of possession, describe, update, delete, bindings.

The happy path uses a CA made by the console page's own OpenSSL recipe; the refusals
use in-memory CAs from tests/pki.py and expect the console's codes and messages.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.hashes import SHA256
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from certificates import selectors as ca_selectors
from certificates import services as ca_services
from certificates import validators as ca_validators
from certificates import x509
from certificates.models import AuthenticationCode, CACertificate
from products import platform
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
    register_ca,
)
from tests.openssl_recipes import make_ca, make_device_certificate, make_verification_certificate, openssl
from tests.programs import require_program
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)

CA_FILES = ("ca.conf", "openssl.cnf", "ca.key", "ca.csr", "ca.crt")
OPENSSL_SUBJECT = "CN=Tencent CA Test,O=Tencent IoT,L=Shenzhen,ST=Tencent,C=CN"


@pytest.fixture(scope="module")
def openssl_ca_dir(tmp_path_factory) -> Path:
    """ca.key and ca.crt made once by the page's "Generating testing CA certificate" steps."""
    require_program("openssl", "the API is driven with a CA made by the console page's recipe")
    directory = tmp_path_factory.mktemp("openssl-ca")
    make_ca(directory)
    return directory


@pytest.fixture
def workdir(openssl_ca_dir, tmp_path) -> Path:
    for name in CA_FILES:
        shutil.copy(openssl_ca_dir / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


def create_request(name: str, ca_pem: str, verification_pem: str):
    return build(
        models.CreatePrivateCARequest, CertName=name, CertText=ca_pem, VerifyCertText=verification_pem
    )


def update_request(name: str, ca_pem: str, verification_pem: str):
    return build(
        models.UpdatePrivateCARequest, CertName=name, CertText=ca_pem, VerifyCertText=verification_pem
    )


def openssl_date(workdir: Path, which: str) -> int:
    output = openssl("x509", "-in", "ca.crt", "-noout", f"-{which}", cwd=workdir).strip()
    moment = datetime.strptime(output.split("=", 1)[1] + " +0000", "%b %d %H:%M:%S %Y GMT %z")
    return int(moment.timestamp())


def openssl_field(workdir: Path, *args: str) -> str:
    return openssl("x509", "-in", "ca.crt", "-noout", *args, cwd=workdir).strip().split("=", 1)[1]


def stored_names(owner) -> list[str]:
    return sorted(CACertificate.objects.filter(owner=owner).values_list("name", flat=True))


# The OpenSSL recipe's CA, end to end --------------------------------------------


@pytest.mark.interop
def test_create_private_ca_with_the_page_recipe_ca(api, user, workdir):
    code = authentication_code(api)
    verification = make_verification_certificate(workdir, code)
    ca_pem = (workdir / "ca.crt").read_text()

    response = api.CreatePrivateCA(create_request("Tencent_CA_Test", ca_pem, verification.read_text()))

    assert response.RequestId
    stored = CACertificate.objects.get(owner=user)
    assert stored.name == "Tencent_CA_Test"
    assert stored.subject == OPENSSL_SUBJECT
    assert stored.key_description == "RSA 4096"
    assert AuthenticationCode.objects.get(owner=user, code=code).used_at is not None
    # The code is single use: the next one the API hands out is a new one.
    assert authentication_code(api) != code


@pytest.mark.interop
def test_describe_private_ca_gives_the_cert_info_openssl_reads(api, user, workdir):
    code = authentication_code(api)
    verification = make_verification_certificate(workdir, code)
    ca_pem = (workdir / "ca.crt").read_text()
    api.CreatePrivateCA(create_request("Tencent_CA_Test", ca_pem, verification.read_text()))
    stored = CACertificate.objects.get(owner=user)

    info = api.DescribePrivateCA(build(models.DescribePrivateCARequest, CertName="Tencent_CA_Test")).CA

    assert info.CertName == "Tencent_CA_Test"
    assert int(info.CertSN, 16) == int(openssl_field(workdir, "-serial"), 16)
    assert info.CertSN == info.CertSN.upper() == stored.serial_hex
    assert info.Subject == OPENSSL_SUBJECT == openssl_field(workdir, "-subject", "-nameopt", "RFC2253")
    assert info.IssuerName == OPENSSL_SUBJECT  # self-signed by the recipe
    assert info.EffectiveTime == openssl_date(workdir, "startdate")
    assert info.ExpireTime == openssl_date(workdir, "enddate")
    assert info.CreateTime == int(stored.created.timestamp())
    assert all(isinstance(value, int) for value in (info.CreateTime, info.EffectiveTime, info.ExpireTime))
    assert info.CertText.strip() == ca_pem.strip()


@pytest.mark.interop
def test_page_recipe_ca_then_product_then_device_with_the_recipe_device_certificate(api, workdir):
    verification = make_verification_certificate(workdir, authentication_code(api))
    api.CreatePrivateCA(
        create_request("Tencent_CA_Test", (workdir / "ca.crt").read_text(), verification.read_text())
    )
    product = create_product(api, "recipe_product", EncryptionType="1", PrivateCAName="Tencent_CA_Test")
    certificate, _ = make_device_certificate(workdir, f"{product.ProductId}dev_01")

    created = api.CreateDevice(
        build(
            models.CreateDeviceRequest,
            ProductId=product.ProductId,
            DeviceName="dev_01",
            TlsCrt=certificate.read_text(),
        )
    )

    assert created.DeviceName == "dev_01"
    assert created.DeviceCert.strip() == certificate.read_text().strip()
    assert created.DevicePrivateKey == ""
    device = Device.objects.get(product__product_id=product.ProductId, name="dev_01")
    assert device.key_origin == Device.KeyOrigin.UPLOADED_CERTIFICATE
    assert device.product.ca_certificate.name == "Tencent_CA_Test"


# Describing -------------------------------------------------------------------------


def test_describe_private_cas_lists_every_ca_of_the_account_oldest_first(api, user):
    first, second = pki.make_ca("First CA"), pki.make_ca("Second CA", key=pki.ec_key())
    create_private_ca(api, "first", first)
    create_private_ca(api, "second", second)

    cas = api.DescribePrivateCAs(models.DescribePrivateCAsRequest()).CAs

    assert [ca.CertName for ca in cas] == ["first", "second"]
    assert [ca.Subject for ca in cas] == [
        "CN=First CA,O=IoT Hub Console Tests,C=CN",
        "CN=Second CA,O=IoT Hub Console Tests,C=CN",
    ]
    assert cas[1].CertText == second.pem.decode()
    assert cas[1].CertSN == x509.serial_hex(second.certificate.serial_number)
    assert cas[1].ExpireTime == int(second.certificate.not_valid_after_utc.timestamp())
    assert stored_names(user) == ["first", "second"]


def test_describe_private_cas_with_none_is_an_empty_list(api):
    assert api.DescribePrivateCAs(models.DescribePrivateCAsRequest()).CAs == []


def test_describe_unknown_private_ca_is_ca_cert_not_exist(api):
    assert_refused(
        lambda: api.DescribePrivateCA(build(models.DescribePrivateCARequest, CertName="nope")),
        "ResourceNotFound.CACertNotExist",
        ca_selectors.CA_NOT_FOUND.format(name="nope"),
    )


def test_describe_private_ca_binded_products_pages_through_them_by_name(api, user):
    create_private_ca(api, "device_ca", pki.make_ca("Device CA"))
    for name in ("gamma", "alpha", "beta"):
        create_product(api, name, EncryptionType="1", PrivateCAName="device_ca")
    create_product(api, "platform_product")
    ids = dict(Product.objects.filter(owner=user).values_list("name", "product_id"))

    def page(offset: int, limit: int) -> list[tuple[str, str]]:
        request = build(
            models.DescribePrivateCABindedProductsRequest, CertName="device_ca", Offset=offset, Limit=limit
        )
        return [(p.ProductName, p.ProductId) for p in api.DescribePrivateCABindedProducts(request).Products]

    assert page(0, 10) == [(name, ids[name]) for name in ("alpha", "beta", "gamma")]
    assert page(1, 1) == [("beta", ids["beta"])]
    assert page(3, 10) == []


def test_describe_private_ca_binded_products_of_an_unknown_ca_is_ca_cert_not_exist(api):
    request = build(models.DescribePrivateCABindedProductsRequest, CertName="ghost", Offset=0, Limit=10)

    assert_refused(
        lambda: api.DescribePrivateCABindedProducts(request),
        "ResourceNotFound.CACertNotExist",
        ca_selectors.CA_NOT_FOUND.format(name="ghost"),
    )


def test_describe_product_ca_of_a_custom_ca_product_is_that_ca(api):
    ca = pki.make_ca("Device CA")
    create_private_ca(api, "device_ca", ca)
    product = create_product(api, "sensors", EncryptionType="1", PrivateCAName="device_ca")

    cas = api.DescribeProductCA(build(models.DescribeProductCARequest, ProductId=product.ProductId)).CAs

    assert [(c.CertName, c.CertText, c.Subject) for c in cas] == [
        ("device_ca", ca.pem.decode(), "CN=Device CA,O=IoT Hub Console Tests,C=CN")
    ]


def test_describe_product_ca_of_a_platform_ca_product_is_the_platform_device_ca(api):
    product = create_product(api, "sensors", EncryptionType="1", PrivateCAName="")

    cas = api.DescribeProductCA(build(models.DescribeProductCARequest, ProductId=product.ProductId)).CAs

    assert len(cas) == 1
    assert cas[0].CertName == "Platform CA"
    assert cas[0].CertText == platform.device_ca().certificate_pem
    assert cas[0].CreateTime == 0


def test_describe_product_ca_of_a_key_product_is_empty(api):
    product = create_product(api, "sensors", EncryptionType="2")

    assert (
        api.DescribeProductCA(build(models.DescribeProductCARequest, ProductId=product.ProductId)).CAs == []
    )


def test_describe_product_ca_of_an_unknown_product_is_product_not_exist(api):
    assert_refused(
        lambda: api.DescribeProductCA(build(models.DescribeProductCARequest, ProductId="NOSUCHPROD")),
        "ResourceNotFound.ProductNotExist",
        'There is no product with the ID "NOSUCHPROD".',
    )


# Registration refusals: the console's rules and messages -------------------------------


def test_wrong_common_name_is_ca_cert_not_match_with_the_console_message(api, signed_in_client, user):
    ca = pki.make_ca("Device CA")
    code = authentication_code(api)
    wrong = pki.make_verification("not-the-authentication-code", ca)
    expected = x509.COMMON_NAME_MISMATCH.format(
        role="verification certificate", name="not-the-authentication-code"
    )

    error = refusal(
        lambda: api.CreatePrivateCA(create_request("device_ca", ca.pem.decode(), wrong.pem.decode()))
    )
    console = signed_in_client.post(
        "/certificates/add/",
        {
            "name": "device_ca",
            "ca_certificate": SimpleUploadedFile("ca.crt", ca.pem),
            "verification_certificate": SimpleUploadedFile("verificationCert.crt", wrong.pem),
        },
    )

    assert (error.code, error.message) == ("InvalidParameterValue.CACertNotMatch", expected)
    assert console.status_code == 200
    assert console.context["form"].errors["verification_certificate"] == [error.message]
    assert escape(error.message) in console.content.decode()
    assert not CACertificate.objects.exists()
    assert AuthenticationCode.objects.get(owner=user, code=code).used_at is None


def test_verification_signed_by_another_key_is_ca_cert_not_match(api):
    ca = pki.make_ca("Device CA")
    impostor = pki.make_ca("Device CA", key=pki.ec_key())
    verification = pki.make_verification(authentication_code(api), impostor)

    assert_refused(
        lambda: api.CreatePrivateCA(create_request("device_ca", ca.pem.decode(), verification.pem.decode())),
        "InvalidParameterValue.CACertNotMatch",
        x509.SIGNATURE_MISMATCH.format(role="verification certificate"),
    )
    assert not CACertificate.objects.exists()


def test_a_used_code_is_ca_cert_not_match(api, user):
    first = pki.make_ca("First CA")
    code = authentication_code(api)
    api.CreatePrivateCA(
        create_request("first", first.pem.decode(), pki.make_verification(code, first).pem.decode())
    )
    second = pki.make_ca("Second CA")

    assert_refused(
        lambda: api.CreatePrivateCA(
            create_request("second", second.pem.decode(), pki.make_verification(code, second).pem.decode())
        ),
        "InvalidParameterValue.CACertNotMatch",
        ca_services.CODE_ALREADY_USED,
    )
    assert stored_names(user) == ["first"]


def test_not_a_ca_is_ca_cert_invalid(api):
    issuer = pki.make_ca("Issuer CA")
    leaf = pki.make_leaf("just a leaf", issuer)
    verification = pki.make_verification(authentication_code(api), issuer)

    assert_refused(
        lambda: api.CreatePrivateCA(create_request("leaf", leaf.pem.decode(), verification.pem.decode())),
        "InvalidParameterValue.CACertInvalid",
        x509.NOT_A_CA,
    )
    assert not CACertificate.objects.exists()


def test_garbage_cert_text_is_ca_cert_invalid(api):
    assert_refused(
        lambda: api.CreatePrivateCA(create_request("junk", "hello", "world")),
        "InvalidParameterValue.CACertInvalid",
        x509.NOT_A_CERTIFICATE,
    )
    assert not CACertificate.objects.exists()


def test_invalid_name_is_invalid_parameter_value(api):
    ca = pki.make_ca("Device CA")
    verification = pki.make_verification(authentication_code(api), ca)

    assert_refused(
        lambda: api.CreatePrivateCA(create_request("bad name!", ca.pem.decode(), verification.pem.decode())),
        "InvalidParameterValue",
        ca_validators.INVALID_CA_NAME,
    )
    assert not CACertificate.objects.exists()


def test_the_eleventh_ca_is_ca_cert_limit(api, user):
    for index in range(10):
        register_ca(user, pki.make_ca(f"CA {index}"), f"ca_{index}")
    eleventh = pki.make_ca("CA 10")
    code = authentication_code(api)

    assert_refused(
        lambda: api.CreatePrivateCA(
            create_request("ca_10", eleventh.pem.decode(), pki.make_verification(code, eleventh).pem.decode())
        ),
        "LimitExceeded.CACertLimit",
        ca_services.CA_LIMIT_REACHED.format(limit=10),
    )
    assert CACertificate.objects.filter(owner=user).count() == 10
    assert AuthenticationCode.objects.get(owner=user, code=code).used_at is None


def test_the_same_ca_twice_is_ca_repeat(api, user):
    ca = pki.make_ca("Device CA")
    create_private_ca(api, "first_name", ca)
    verification = pki.make_verification(authentication_code(api), ca)

    assert_refused(
        lambda: api.CreatePrivateCA(
            create_request("second_name", ca.pem.decode(), verification.pem.decode())
        ),
        "LimitExceeded.CARepeat",
        ca_services.ALREADY_REGISTERED.format(name="first_name"),
    )
    assert stored_names(user) == ["first_name"]


def test_a_taken_name_is_ca_cert_name_repeat(api, user):
    first = pki.make_ca("First CA")
    create_private_ca(api, "device_ca", first)
    second = pki.make_ca("Second CA")
    verification = pki.make_verification(authentication_code(api), second)

    assert_refused(
        lambda: api.CreatePrivateCA(
            create_request("device_ca", second.pem.decode(), verification.pem.decode())
        ),
        "LimitExceeded.CACertNameRepeat",
        ca_services.NAME_TAKEN.format(name="device_ca"),
    )
    assert (
        CACertificate.objects.get(owner=user).fingerprint_sha256
        == first.certificate.fingerprint(SHA256()).hex()
    )


# Updating ---------------------------------------------------------------------------


def test_update_private_ca_replaces_the_certificate_with_a_fresh_proof(api, user):
    create_private_ca(api, "device_ca", pki.make_ca("Old CA"))
    replacement = pki.make_ca("New CA", key=pki.ec_key())
    code = authentication_code(api)

    api.UpdatePrivateCA(
        update_request(
            "device_ca", replacement.pem.decode(), pki.make_verification(code, replacement).pem.decode()
        )
    )

    stored = CACertificate.objects.get(owner=user)
    assert stored.name == "device_ca"
    assert stored.common_name == "New CA"
    assert stored.certificate_pem == replacement.pem.decode()
    assert AuthenticationCode.objects.get(owner=user, code=code).used_at is not None
    info = api.DescribePrivateCA(build(models.DescribePrivateCARequest, CertName="device_ca")).CA
    assert info.Subject == "CN=New CA,O=IoT Hub Console Tests,C=CN"


def test_update_with_a_wrong_common_name_is_ca_cert_not_match_and_keeps_the_old_one(api, user):
    old = pki.make_ca("Old CA")
    create_private_ca(api, "device_ca", old)
    replacement = pki.make_ca("New CA")
    authentication_code(api)
    wrong = pki.make_verification("stale-code", replacement)

    assert_refused(
        lambda: api.UpdatePrivateCA(
            update_request("device_ca", replacement.pem.decode(), wrong.pem.decode())
        ),
        "InvalidParameterValue.CACertNotMatch",
        x509.COMMON_NAME_MISMATCH.format(role="verification certificate", name="stale-code"),
    )
    assert CACertificate.objects.get(owner=user).certificate_pem == old.pem.decode()


def test_update_of_a_bound_ca_must_keep_its_key(api, user):
    old = pki.make_ca("Device CA")
    create_private_ca(api, "device_ca", old)
    create_product(api, "sensors", EncryptionType="1", PrivateCAName="device_ca")
    rekeyed = pki.make_ca("Device CA", key=pki.ec_key())
    verification = pki.make_verification(authentication_code(api), rekeyed)

    assert_refused(
        lambda: api.UpdatePrivateCA(
            update_request("device_ca", rekeyed.pem.decode(), verification.pem.decode())
        ),
        "InvalidParameterValue.CACertInvalid",
        ca_services.RENEWAL_MUST_KEEP_KEY.format(name="device_ca", products="sensors"),
    )
    assert CACertificate.objects.get(owner=user).certificate_pem == old.pem.decode()


def test_update_of_a_bound_ca_with_a_renewal_is_accepted(api, user):
    old = pki.make_ca("Device CA")
    create_private_ca(api, "device_ca", old)
    create_product(api, "sensors", EncryptionType="1", PrivateCAName="device_ca")
    renewal = pki.make_ca("Device CA")  # same subject, same (cached) key, new validity and serial
    verification = pki.make_verification(authentication_code(api), renewal)

    api.UpdatePrivateCA(update_request("device_ca", renewal.pem.decode(), verification.pem.decode()))

    assert CACertificate.objects.get(owner=user).certificate_pem == renewal.pem.decode()


def test_update_of_an_unknown_ca_is_ca_cert_not_exist(api):
    ca = pki.make_ca("Device CA")
    verification = pki.make_verification(authentication_code(api), ca)

    assert_refused(
        lambda: api.UpdatePrivateCA(update_request("ghost", ca.pem.decode(), verification.pem.decode())),
        "ResourceNotFound.CACertNotExist",
        ca_selectors.CA_NOT_FOUND.format(name="ghost"),
    )
    assert not CACertificate.objects.exists()


# Deleting ---------------------------------------------------------------------------


def test_delete_private_ca_removes_it(api, user):
    create_private_ca(api, "device_ca", pki.make_ca("Device CA"))

    api.DeletePrivateCA(build(models.DeletePrivateCARequest, CertName="device_ca"))

    assert not CACertificate.objects.filter(owner=user).exists()
    assert api.DescribePrivateCAs(models.DescribePrivateCAsRequest()).CAs == []


def test_delete_of_a_bound_ca_is_ca_already_bind_product_with_the_console_message(
    api, signed_in_client, user
):
    create_private_ca(api, "device_ca", pki.make_ca("Device CA"))
    create_product(api, "sensors", EncryptionType="1", PrivateCAName="device_ca")
    stored = CACertificate.objects.get(owner=user)
    expected = ca_services.CA_STILL_BOUND.format(name="device_ca", products="sensors")

    error = refusal(lambda: api.DeletePrivateCA(build(models.DeletePrivateCARequest, CertName="device_ca")))
    console = signed_in_client.post(f"/certificates/{stored.pk}/delete/", follow=True)

    assert (error.code, error.message) == ("LimitExceeded.CAAlreadyBindProduct", expected)
    assert [str(message) for message in console.context["messages"]] == [expected]
    assert CACertificate.objects.filter(pk=stored.pk).exists()


def test_delete_of_an_unknown_ca_is_ca_cert_not_exist(api):
    assert_refused(
        lambda: api.DeletePrivateCA(build(models.DeletePrivateCARequest, CertName="ghost")),
        "ResourceNotFound.CACertNotExist",
        ca_selectors.CA_NOT_FOUND.format(name="ghost"),
    )
