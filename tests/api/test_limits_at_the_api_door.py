"""The console's limits hold at the API door: 64 KiB certificates, no control characters.

Every refusal is Tencent's JSON (never HTML, never a 500) and stores nothing, on SQLite
and PostgreSQL alike (`./scripts/with-postgres` runs this file on PostgreSQL).
"""

from __future__ import annotations

import json

import pytest
from cryptography import x509 as cx509
from cryptography.x509.oid import NameOID

from api.models import APIKey
from certificates.models import CACertificate
from certificates.validators import FILE_TOO_LARGE, NAME_HAS_CONTROL_CHARACTERS
from iothub_console.validators import CONTROL_CHARACTERS_REFUSED
from products import services
from products.models import Device, Product
from tests import pki
from tests.api_support import api_error, authentication_code, client_for, register_ca, signed_post

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 64 * 1024


@pytest.fixture
def key(user) -> APIKey:
    return APIKey.objects.create(owner=user)


def padded(pem: bytes, size: int) -> str:
    """The certificate with explanatory text before it (as some tools write), `size` bytes in all."""
    filler = size - len(pem)
    lines = (b"# exported by a tool that writes a long preamble\n" * (filler // 50 + 1))[:filler]
    return (lines + pem).decode()


def ca_request(api, name: str, ca: pki.Issued, certificate_text: str | None = None) -> dict:
    verification = pki.make_verification(authentication_code(api), ca)
    return {
        "CertName": name,
        "CertText": certificate_text if certificate_text is not None else ca.pem.decode(),
        "VerifyCertText": verification.pem.decode(),
    }


def body(params: dict) -> bytes:
    return json.dumps(params).encode()


# 64 KiB -----------------------------------------------------------------------------


def test_create_private_ca_refuses_a_certificate_over_64_kib(live_server, user, key):
    ca = pki.make_ca("Big CA")
    api = client_for(live_server, user)
    text = padded(ca.pem, 97 * 1024)

    response = signed_post(live_server, key, "CreatePrivateCA", body(ca_request(api, "big", ca, text)))

    assert api_error(response) == (
        "InvalidParameterValue.CACertInvalid",
        FILE_TOO_LARGE.format(size=len(text)),
    )
    assert not CACertificate.objects.exists()


def test_a_certificate_of_exactly_64_kib_is_accepted(live_server, user, key):
    ca = pki.make_ca("Edge CA")
    api = client_for(live_server, user)

    response = signed_post(
        live_server, key, "CreatePrivateCA", body(ca_request(api, "edge", ca, padded(ca.pem, LIMIT)))
    )

    assert "Error" not in response.json()["Response"]
    assert CACertificate.objects.get(owner=user).name == "edge"


def test_update_private_ca_refuses_a_certificate_over_64_kib(live_server, user, key):
    ca = pki.make_ca("Renewed CA")
    registered = register_ca(user, ca, "renewed")
    api = client_for(live_server, user)
    text = padded(ca.pem, 108 * 1024)

    response = signed_post(live_server, key, "UpdatePrivateCA", body(ca_request(api, "renewed", ca, text)))

    assert api_error(response) == (
        "InvalidParameterValue.CACertInvalid",
        FILE_TOO_LARGE.format(size=len(text)),
    )
    assert CACertificate.objects.get(pk=registered.pk).certificate_pem == registered.certificate_pem


def test_create_device_refuses_a_tls_certificate_over_64_kib(live_server, user, key):
    ca = pki.make_ca("Device CA")
    product = services.create_product(
        owner=user,
        name="custom",
        auth_method=Product.AuthMethod.CERTIFICATE,
        ca_certificate=register_ca(user, ca, "device_ca"),
    )
    leaf = pki.make_leaf(f"{product.product_id}dev_01", ca, extended_key_usage=pki.CLIENT_AUTH)
    text = padded(leaf.pem, 95 * 1024)

    response = signed_post(
        live_server,
        key,
        "CreateDevice",
        body({"ProductId": product.product_id, "DeviceName": "dev_01", "TlsCrt": text}),
    )

    assert api_error(response) == (
        "InvalidParameterValue.CACertInvalid",
        FILE_TOO_LARGE.format(size=len(text)),
    )
    assert not Device.objects.exists()


# Control characters ----------------------------------------------------------------


def test_a_ca_whose_common_name_holds_nul_is_refused(live_server, user, key):
    ca = pki.make_ca(subject=cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Evil\x00CA")]))
    api = client_for(live_server, user)

    response = signed_post(live_server, key, "CreatePrivateCA", body(ca_request(api, "evil", ca)))

    assert api_error(response) == ("InvalidParameterValue.CACertInvalid", NAME_HAS_CONTROL_CHARACTERS)
    assert not CACertificate.objects.exists()


@pytest.fixture
def key_product(user) -> Product:
    product = services.create_product(
        owner=user, name="keyed", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )
    services.create_device(product=product, name="dev_01", credentials=services.DeviceCredentials())
    return product


CHARACTERS = [
    pytest.param("\x00", id="NUL"),
    pytest.param("\x1b", id="ESC"),
    pytest.param("\x7f", id="DEL"),
    pytest.param("\x85", id="C1-NEL"),
]


def string_fields(product_id: str, bad: str) -> list[tuple[str, dict, str]]:
    """(action, parameters, the parameter named in the refusal), each with one bad string."""
    return [
        ("CreateProduct", {"ProductName": f"new{bad}"}, "ProductName"),
        (
            "CreateProduct",
            {"ProductName": "new", "ProductProperties": {"ProductDescription": f"a{bad}b"}},
            "ProductProperties.ProductDescription",
        ),
        ("DescribeProduct", {"ProductId": f"{product_id}{bad}"}, "ProductId"),
        ("CreateDevice", {"ProductId": product_id, "DeviceName": f"dev{bad}"}, "DeviceName"),
        (
            "CreateDevice",
            {"ProductId": product_id, "DeviceName": "dev_02", "DefinedPsk": f"QUJD{bad}"},
            "DefinedPsk",
        ),
        (
            "CreateDevice",
            {
                "ProductId": product_id,
                "DeviceName": "dev_02",
                "Attribute": {"Tags": [{"Tag": "site", "Type": 1, "Value": f"x{bad}"}]},
            },
            "Attribute.Tags.0.Value",
        ),
        ("DescribeDevice", {"ProductId": product_id, "DeviceName": f"dev_01{bad}"}, "DeviceName"),
        (
            "DescribeDevices",
            {"ProductId": product_id, "Offset": 0, "Limit": 10, "DeviceName": f"dev{bad}"},
            "DeviceName",
        ),
        (
            "UpdateDevicesEnableState",
            {"ProductId": product_id, "DeviceNames": ["dev_01", f"dev{bad}"], "Status": 0},
            "DeviceNames.1",
        ),
        ("DescribePrivateCA", {"CertName": f"ca{bad}"}, "CertName"),
    ]


@pytest.mark.parametrize("bad", CHARACTERS)
def test_control_characters_in_any_string_parameter_are_refused(live_server, user, key, key_product, bad):
    for action, params, field in string_fields(key_product.product_id, bad):
        response = signed_post(live_server, key, action, body(params))

        assert response.headers["Content-Type"] == "application/json", action
        assert api_error(response) == (
            "InvalidParameterValue",
            f"The parameter {field}: {CONTROL_CHARACTERS_REFUSED}",
        ), action
    assert list(Product.objects.values_list("name", flat=True)) == ["keyed"]
    assert list(Device.objects.values_list("name", "enabled")) == [("dev_01", True)]


def test_line_breaks_and_tabs_stay_allowed_in_certificate_text(live_server, user, key):
    # PEM is lines of text: CR, LF and tab are not refused as control characters.
    ca = pki.make_ca("Windows CA")
    api = client_for(live_server, user)
    text = ca.pem.decode().replace("\n", "\r\n") + "\t\n"

    response = signed_post(live_server, key, "CreatePrivateCA", body(ca_request(api, "crlf", ca, text)))

    assert "Error" not in response.json()["Response"]
    assert CACertificate.objects.filter(owner=user, name="crlf").exists()
