"""POST /broker/v1/authenticate for certificate devices: the chain, the name, the registered certificate."""

from datetime import UTC, datetime, timedelta

import pytest

from broker import decisions
from certificates import x509
from products import services
from products.models import Device

from .. import pki
from ..product_console import CUSTOM_CA_NAME, custom_ca, device_leaf, make_device, register_ca
from .link_service import authenticate, custom_ca_device, platform_device

pytestmark = pytest.mark.django_db


def certificate_login(device: Device, pem: str | bytes) -> dict:
    return {
        "clientid": device.client_id,
        "listener": "certificate",
        "cert_pem": pem.decode() if isinstance(pem, bytes) else pem,
    }


def assert_refused(answer: dict, device: Device, code: str, reason: str) -> None:
    assert answer == {"result": "deny", "reason": reason, "code": code}
    device.refresh_from_db()
    assert device.last_refusal_reason == reason
    assert device.last_refused_at is not None


def test_platform_ca_device_is_allowed_with_its_topics(client, user):
    device = platform_device(user)

    answer = authenticate(client, **certificate_login(device, device.certificate_pem))

    prefix = f"{device.product.product_id}/{device.name}"
    assert answer["result"] == "allow"
    assert answer["is_superuser"] is False
    assert {"permission": "allow", "action": "all", "topic": f"{prefix}/#"} in answer["acl"]
    assert {"permission": "allow", "action": "publish", "topic": f"$shadow/operation/{prefix}"} in answer[
        "acl"
    ]
    assert {"permission": "allow", "action": "subscribe", "topic": f"$rrpc/rxd/{prefix}/+"} in answer["acl"]
    assert len(answer["acl"]) == 10
    device.refresh_from_db()
    assert device.last_refused_at is None


def test_custom_ca_device_is_allowed(client, user):
    device, leaf = custom_ca_device(user)

    assert authenticate(client, **certificate_login(device, leaf.pem))["result"] == "allow"


def test_listener_is_inferred_from_the_certificate_when_absent(client, user):
    device, leaf = custom_ca_device(user)
    login = certificate_login(device, leaf.pem)
    del login["listener"]

    assert authenticate(client, **login)["result"] == "allow"


def test_intermediate_ca_device_is_allowed(client, user):
    root = pki.make_ca("Factory Root CA", key=pki.rsa_key(2048, slot=3))
    intermediate = pki.make_ca("Factory Line Intermediate CA", key=pki.ec_key(), issuer=root)
    device, leaf = custom_ca_device(user, intermediate, ca_name="line_intermediate")

    assert authenticate(client, **certificate_login(device, leaf.pem))["result"] == "allow"


def test_another_accounts_ca_with_the_right_common_name_is_refused(client, user, other_user):
    device, _ = custom_ca_device(user)
    # Mallory registers her own CA and issues a certificate with Alice's device's CN.
    mallory_ca = pki.make_ca("Mallory CA", key=pki.rsa_key(2048, slot=4))
    register_ca(other_user, mallory_ca, "mallory_ca")
    forged = pki.make_leaf(device.client_id, mallory_ca, extended_key_usage=pki.CLIENT_AUTH)

    answer = authenticate(client, **certificate_login(device, forged.pem))

    detail = x509.ISSUER_NAME_MISMATCH.format(
        role="device certificate",
        issuer=forged.certificate.issuer.rfc4514_string(),
        subject=custom_ca().certificate.subject.rfc4514_string(),
    )
    reason = decisions.CERTIFICATE_WRONG_CA_REASON.format(ca="device_root_ca", detail=detail)
    assert_refused(answer, device, decisions.CERTIFICATE_WRONG_CA, reason)


def test_platform_ca_device_refuses_a_custom_ca_certificate_with_its_name(client, user):
    device = platform_device(user)
    forged = pki.make_leaf(device.client_id, custom_ca(), extended_key_usage=pki.CLIENT_AUTH)

    answer = authenticate(client, **certificate_login(device, forged.pem))

    assert answer["code"] == decisions.CERTIFICATE_WRONG_CA
    assert "Platform CA" in answer["reason"]
    device.refresh_from_db()
    assert device.last_refusal_reason == answer["reason"]


def test_same_issuer_name_signed_by_another_key_is_refused(client, user):
    device, _ = custom_ca_device(user)
    impostor = pki.make_ca(CUSTOM_CA_NAME, key=pki.rsa_key(2048, slot=5))
    forged = pki.make_leaf(device.client_id, impostor, extended_key_usage=pki.CLIENT_AUTH)

    answer = authenticate(client, **certificate_login(device, forged.pem))

    detail = x509.SIGNATURE_MISMATCH.format(role="device certificate")
    reason = decisions.CERTIFICATE_WRONG_CA_REASON.format(ca="device_root_ca", detail=detail)
    assert_refused(answer, device, decisions.CERTIFICATE_WRONG_CA, reason)


def test_replaced_certificate_is_refused(client, user):
    """A device deleted and added again with a new certificate: the old one stops working."""
    ca = custom_ca()
    device, old_leaf = custom_ca_device(user, ca)
    product = device.product
    services.delete_device(device=device)
    new_leaf = device_leaf(product, device.name, ca, key=pki.ec_key())
    device = make_device(product, device.name, certificate_data=new_leaf.pem)

    answer = authenticate(client, **certificate_login(device, old_leaf.pem))

    reason = decisions.CERTIFICATE_NOT_REGISTERED_REASON.format(
        fingerprint=x509.fingerprint_sha256(old_leaf.certificate)
    )
    assert_refused(answer, device, decisions.CERTIFICATE_NOT_REGISTERED, reason)
    assert authenticate(client, **certificate_login(device, new_leaf.pem))["result"] == "allow"


def test_certificate_of_another_device_is_refused_by_name(client, user):
    device, _ = custom_ca_device(user)
    other_leaf = device_leaf(device.product, "sensor_02", custom_ca())
    make_device(device.product, "sensor_02", certificate_data=other_leaf.pem)

    answer = authenticate(client, **certificate_login(device, other_leaf.pem))

    reason = decisions.CERTIFICATE_NAME_MISMATCH_REASON.format(
        actual=f"{device.product.product_id}sensor_02", expected=device.client_id
    )
    assert_refused(answer, device, decisions.CERTIFICATE_NAME_MISMATCH, reason)


def test_expired_registered_certificate_is_refused(client, user):
    device, _ = custom_ca_device(user)
    expired = device_leaf(
        device.product,
        device.name,
        custom_ca(),
        not_before=datetime.now(UTC) - timedelta(days=30),
        not_after=datetime.now(UTC) - timedelta(days=1),
    )
    # The registered certificate expired since it was added.
    Device.objects.filter(pk=device.pk).update(
        certificate_fingerprint=x509.fingerprint_sha256(expired.certificate)
    )

    answer = authenticate(client, **certificate_login(device, expired.pem))

    assert answer["result"] == "deny"
    assert answer["code"] == decisions.CERTIFICATE_NOT_VALID
    assert answer["reason"].startswith(
        "The device certificate is not valid now: The device certificate expired on "
    )
    device.refresh_from_db()
    assert device.last_refusal_reason == answer["reason"]


def test_missing_certificate_is_refused(client, user):
    device = platform_device(user)

    answer = authenticate(client, clientid=device.client_id, listener="certificate", cert_pem=None)

    assert_refused(answer, device, decisions.CERTIFICATE_MISSING, decisions.CERTIFICATE_MISSING_REASON)


def test_unreadable_certificate_is_refused(client, user):
    device = platform_device(user)

    answer = authenticate(
        client,
        **certificate_login(device, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"),
    )

    reason = decisions.CERTIFICATE_UNREADABLE_REASON.format(detail=x509.NOT_A_CERTIFICATE)
    assert_refused(answer, device, decisions.CERTIFICATE_UNREADABLE, reason)


def test_certificate_device_on_the_key_listener_is_refused(client, user):
    device = platform_device(user)

    answer = authenticate(
        client,
        clientid=device.client_id,
        username="x;12010126;abcde;4102444800",
        password="00;hmacsha256",
        listener="key",
    )

    assert_refused(answer, device, decisions.CERTIFICATE_REQUIRED, decisions.CERTIFICATE_REQUIRED_REASON)


def test_disabled_device_is_refused(client, user):
    device = platform_device(user)
    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)

    answer = authenticate(client, **certificate_login(device, device.certificate_pem))

    reason = decisions.DEVICE_DISABLED_REASON.format(name=device.name)
    assert_refused(answer, device, decisions.DEVICE_DISABLED, reason)


def test_device_of_a_forbidden_product_is_refused(client, user):
    device = platform_device(user)
    services.set_products_forbidden(products=[device.product], forbidden=True)

    answer = authenticate(client, **certificate_login(device, device.certificate_pem))

    reason = decisions.PRODUCT_FORBIDDEN_REASON.format(product=device.product.name)
    assert_refused(answer, device, decisions.PRODUCT_FORBIDDEN, reason)


def test_unknown_device_is_refused_and_nothing_is_recorded(client, user):
    device = platform_device(user)

    answer = authenticate(
        client,
        clientid=f"{device.product.product_id}ghost",
        listener="certificate",
        cert_pem=device.certificate_pem,
    )

    assert answer == {
        "result": "deny",
        "code": decisions.DEVICE_NOT_FOUND,
        "reason": decisions.DEVICE_NOT_FOUND_REASON.format(
            name="ghost", product_id=device.product.product_id
        ),
    }
    device.refresh_from_db()
    assert device.last_refused_at is None


@pytest.mark.parametrize(
    "client_id", ["", "short", "lowercase1dev", "ABCDEFGHIJ", "ABCDEFGHIJdev/01", "ABCDEFGHIJ" + "d" * 49]
)
def test_malformed_client_id_is_refused(client, client_id):
    answer = authenticate(client, clientid=client_id, listener="certificate", cert_pem=None)

    assert answer == {
        "result": "deny",
        "code": decisions.CLIENT_ID_MALFORMED,
        "reason": decisions.CLIENT_ID_MALFORMED_REASON.format(client_id=client_id),
    }


def test_decision_reads_a_constant_number_of_queries(client, user, django_assert_max_num_queries):
    device = platform_device(user)
    login = certificate_login(device, device.certificate_pem)
    authenticate(client, **login)  # the Platform CA's certificate is parsed once per process

    # The device with its product and CA, the Platform CA, the device's revoked certificates.
    with django_assert_max_num_queries(3):
        assert authenticate(client, **login)["result"] == "allow"
