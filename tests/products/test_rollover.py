"""CA rollover: a product trusts a second CA while its devices move to it; devices of either connect."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditEntry
from broker import decisions
from broker.services import trusted_ca_pems
from certificates import services as ca_services
from lifecycle import services
from lifecycle.models import SecondCA

from .. import pki
from ..broker.link_service import custom_ca_device, platform_device
from ..lifecycle_console import connect, kicked_products, lifecycle_url
from ..product_console import assert_message, device_leaf, make_device, register_ca, text, upload

pytestmark = pytest.mark.django_db

NEW_CA_NAME = "New Root CA"


@pytest.fixture
def new_ca() -> pki.Issued:
    return pki.make_ca(NEW_CA_NAME, key=pki.rsa_key(2048, slot=6))


def add_second_ca(client, product, name: str):
    return client.post(
        reverse("lifecycle:product_second_ca", args=[product.product_id]),
        {"ca_certificate": name},
        follow=True,
    )


def remove_second_ca(client, product):
    return client.post(reverse("lifecycle:product_second_ca_remove", args=[product.product_id]), follow=True)


def test_devices_of_both_cas_connect_during_the_rollover(signed_in_client, client, user, new_ca):
    staying, staying_leaf = custom_ca_device(user)
    product = staying.product
    moving_leaf = device_leaf(
        product, "sensor_02", pki.make_ca("Device Root CA"), key=pki.rsa_key(2048, slot=3)
    )
    moving = make_device(product, "sensor_02", certificate_data=moving_leaf.pem)
    new_ca_certificate = register_ca(user, new_ca, "new_root")

    response = add_second_ca(signed_in_client, product, "new_root")

    assert_message(
        response,
        f'"new_root" is now the second CA of "{product.name}": devices of either CA can connect.',
        "success",
    )
    assert SecondCA.objects.get(product=product).ca_certificate == new_ca_certificate
    assert "Remove Second CA" in text(response)
    new_leaf = device_leaf(product, "sensor_02", new_ca, key=pki.rsa_key(2048, slot=4))
    renewed = signed_in_client.post(
        lifecycle_url(moving, "renew"), {"device_certificate": upload("new.crt", new_leaf.pem)}
    )
    assert renewed.status_code == 302
    assert connect(client, moving, new_leaf.pem)["result"] == "allow"
    assert connect(client, staying, staying_leaf.pem)["result"] == "allow"
    assert connect(client, moving, moving_leaf.pem)["code"] == decisions.CERTIFICATE_REVOKED
    assert new_ca.pem.decode().strip() + "\n" in trusted_ca_pems()
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.SECOND_CA_ADDED, object_label=product.name
    ).exists()


def test_removing_the_second_ca_cuts_off_its_devices(signed_in_client, client, user, new_ca):
    device, _ = custom_ca_device(user)
    product = device.product
    register_ca(user, new_ca, "new_root")
    add_second_ca(signed_in_client, product, "new_root")
    new_leaf = device_leaf(product, device.name, new_ca, key=pki.rsa_key(2048, slot=4))
    signed_in_client.post(
        lifecycle_url(device, "renew"), {"device_certificate": upload("new.crt", new_leaf.pem)}
    )

    response = remove_second_ca(signed_in_client, product)

    assert_message(
        response, f'"{product.name}" has no second CA now; devices it issued were disconnected.', "success"
    )
    assert not SecondCA.objects.exists()
    assert kicked_products() == [product.product_id]
    assert connect(client, device, new_leaf.pem)["code"] == decisions.CERTIFICATE_WRONG_CA
    assert new_ca.pem.decode().strip() + "\n" not in trusted_ca_pems()


def test_a_ca_that_is_a_second_ca_cannot_be_deleted(user, new_ca):
    device, _ = custom_ca_device(user)
    second = register_ca(user, new_ca, "new_root")
    services.set_second_ca(product=device.product, ca_certificate=second)

    with pytest.raises(ca_services.ServiceError) as refused:
        ca_services.delete_ca_certificate(ca_certificate=second)

    assert refused.value.message == ca_services.CA_STILL_BOUND.format(
        name="new_root", products=device.product.name
    )
    assert SecondCA.objects.get().ca_certificate == second


def test_the_product_ca_itself_is_no_second_ca(user):
    device, _ = custom_ca_device(user)
    product = device.product

    with pytest.raises(services.ServiceError) as refused:
        services.set_second_ca(product=product, ca_certificate=product.ca_certificate)

    assert refused.value.message == services.SAME_CA.format(name=product.ca_certificate.name)
    assert not SecondCA.objects.exists()


def test_a_platform_ca_product_cannot_take_a_second_ca(signed_in_client, user, new_ca):
    device = platform_device(user)
    register_ca(user, new_ca, "new_root")

    response = add_second_ca(signed_in_client, device.product, "new_root")

    assert_message(response, services.NOT_A_CUSTOM_CA_PRODUCT.format(ca="Platform CA"))
    assert not SecondCA.objects.exists()
    assert kicked_products() == []


def test_removing_a_second_ca_that_is_not_there_says_so(signed_in_client, user):
    device, _ = custom_ca_device(user)

    response = remove_second_ca(signed_in_client, device.product)

    assert_message(response, services.NO_SECOND_CA)
    assert kicked_products() == []


def test_another_accounts_product_is_404_and_its_ca_unknown(client, user, other_user, new_ca):
    mine, _ = custom_ca_device(user)
    theirs, _ = custom_ca_device(other_user, product_name="their_sensors")
    register_ca(other_user, new_ca, "their_new_root")
    client.force_login(user)

    # Another account's CA is refused exactly as a name nobody has: nothing tells it exists.
    theirs_answer = add_second_ca(client, mine.product, "their_new_root")
    nobodys_answer = add_second_ca(client, mine.product, "no_such_ca")
    assert_message(
        theirs_answer, "Select a valid choice. their_new_root is not one of the available choices."
    )
    assert_message(nobodys_answer, "Select a valid choice. no_such_ca is not one of the available choices.")
    assert add_second_ca(client, theirs.product, "device_root_ca").status_code == 404
    assert remove_second_ca(client, theirs.product).status_code == 404
    promote = reverse("lifecycle:product_second_ca_promote", args=[theirs.product.product_id])
    assert client.post(promote).status_code == 404
    assert not SecondCA.objects.exists()


def test_product_settings_offer_the_account_cas_but_the_products_own(signed_in_client, user, new_ca):
    device, _ = custom_ca_device(user)
    register_ca(user, new_ca, "new_root")

    page = text(signed_in_client.get(device.product.get_absolute_url()))

    assert "Add Second CA" in page
    assert '<option value="new_root">new_root</option>' in page
    assert '<option value="device_root_ca">' not in page


def test_making_the_second_ca_primary_finishes_the_move(signed_in_client, client, user, new_ca):
    device, old_leaf = custom_ca_device(user)
    product = device.product
    old_ca_certificate = product.ca_certificate
    new_ca_certificate = register_ca(user, new_ca, "new_root")
    add_second_ca(signed_in_client, product, "new_root")
    new_leaf = device_leaf(product, device.name, new_ca, key=pki.rsa_key(2048, slot=4))
    signed_in_client.post(
        lifecycle_url(device, "renew"), {"device_certificate": upload("new.crt", new_leaf.pem)}
    )

    response = signed_in_client.post(
        reverse("lifecycle:product_second_ca_promote", args=[product.product_id]), follow=True
    )

    assert_message(
        response,
        f'"new_root" now issues the device certificates of "{product.name}"; '
        "the CA it replaces stays trusted as the second CA until you remove it.",
        "success",
    )
    product.refresh_from_db()
    assert product.ca_certificate == new_ca_certificate
    assert SecondCA.objects.get(product=product).ca_certificate == old_ca_certificate
    assert connect(client, device, new_leaf.pem)["result"] == "allow"
    assert kicked_products() == []
    # A new device now needs a certificate of the new CA.
    newcomer = device_leaf(product, "sensor_03", new_ca, key=pki.rsa_key(2048, slot=5))
    assert make_device(product, "sensor_03", certificate_data=newcomer.pem).certificate_pem

    remove_second_ca(signed_in_client, product)

    assert connect(client, device, new_leaf.pem)["result"] == "allow"
    assert connect(client, device, old_leaf.pem)["result"] == "deny"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.PRODUCT_CA_SWAPPED).count() == 1


def test_there_is_nothing_to_make_primary_without_a_second_ca(signed_in_client, user):
    device, _ = custom_ca_device(user)

    response = signed_in_client.post(
        reverse("lifecycle:product_second_ca_promote", args=[device.product.product_id]), follow=True
    )

    assert_message(response, services.NO_SECOND_CA)
    device.product.refresh_from_db()
    assert device.product.ca_certificate.name == "device_root_ca"


def test_add_device_takes_a_certificate_of_either_ca_during_the_rollover(
    signed_in_client, client, user, new_ca
):
    staying, _ = custom_ca_device(user)
    product = staying.product
    services.set_second_ca(product=product, ca_certificate=register_ca(user, new_ca, "new_root"))
    new_leaf = device_leaf(product, "sensor_07", new_ca, key=pki.rsa_key(2048, slot=4))
    stranger = pki.make_ca("Stranger CA", key=pki.rsa_key(2048, slot=5))
    stray_leaf = device_leaf(product, "sensor_08", stranger, key=pki.rsa_key(2048, slot=3))
    add_url = reverse("products:device_add", args=[product.product_id])

    added = signed_in_client.post(
        add_url, {"name": "sensor_07", "device_certificate": upload("new.crt", new_leaf.pem)}
    )
    refused = signed_in_client.post(
        add_url, {"name": "sensor_08", "device_certificate": upload("stray.crt", stray_leaf.pem)}
    )

    assert added.status_code == 302
    device = product.devices.get(name="sensor_07")
    assert connect(client, device, new_leaf.pem)["result"] == "allow"
    assert refused.status_code == 200
    # The primary CA's refusal is the one shown: it is the CA the page names.
    assert escape(
        'The device certificate was not issued by this CA: its issuer is "CN=Stranger CA,O=IoT Hub '
        'Console Tests,C=CN" but the CA\'s subject is "CN=Device Root CA,O=IoT Hub Console Tests,C=CN".'
    ) in text(refused)
    assert not product.devices.filter(name="sensor_08").exists()
