"""Device bundles connect to a real Mosquitto that the console configures; others don't.

Each test runs its own broker on a free loopback port through BrokerSupervisor
(what `manage.py run_broker` runs), changes things through the console, lets the
supervisor pick the change up, and connects real paho-mqtt clients.
"""

from __future__ import annotations

import io
import shlex
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from broker.services import BrokerSupervisor
from certificates import services as certificate_services
from products import services as product_services
from products.models import Product
from tests import openssl_recipes, pki
from tests.mqtt_client import DeviceClient, free_port, wait_for_port
from tests.programs import require_program

pytestmark = [pytest.mark.broker, pytest.mark.django_db]


@pytest.fixture
def broker(settings):
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    require_program(mosquitto, "broker tests run a real Mosquitto")
    # Not under pytest's tmp_path: its parents are private to root, and Mosquitto
    # drops to the mosquitto user, which must be able to read the configuration.
    directory = Path(tempfile.mkdtemp(prefix="iothub-broker-", dir="/tmp"))
    port = free_port()
    settings.IOTHUB_MQTT_HOST = "127.0.0.1"
    settings.IOTHUB_MQTT_PORT = port
    supervisor = BrokerSupervisor(directory, host="127.0.0.1", bind_address="127.0.0.1", port=port)
    supervisor.start()
    wait_for_port(port)
    yield supervisor
    supervisor.stop()
    shutil.rmtree(directory, ignore_errors=True)


def sync(broker: BrokerSupervisor) -> None:
    """What the run_broker loop does each second, then wait until it listens again."""
    broker.sync()
    wait_for_port(broker.port)


@pytest.fixture(scope="module")
def openssl_ca(tmp_path_factory) -> Path:
    require_program("openssl", "the CA is made with the console page's OpenSSL recipe")
    directory = tmp_path_factory.mktemp("openssl-ca")
    openssl_recipes.make_ca(directory)
    return directory


def register_openssl_ca(user, directory: Path, name: str = "openssl_ca"):
    code = certificate_services.current_authentication_code(owner=user).code
    verification = openssl_recipes.make_verification_certificate(directory, code)
    return certificate_services.register_ca_certificate(
        owner=user,
        name=name,
        certificate_data=(directory / "ca.crt").read_bytes(),
        verification_data=verification.read_bytes(),
    )


def download_bundle(client, product: Product, device_name: str) -> Path:
    response = client.get(reverse("products:device_bundle", args=[product.product_id, device_name]))
    assert response.status_code == 200
    directory = Path(tempfile.mkdtemp(prefix="bundle-"))
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(directory)
    return directory


def connect(bundle: Path, product: Product, device_name: str, port: int) -> DeviceClient:
    return DeviceClient(
        client_id=f"{product.product_id}{device_name}",
        ca_file=bundle / "root-ca.crt",
        cert_file=bundle / f"{device_name}_cert.crt",
        key_file=bundle / f"{device_name}_private.key",
        port=port,
    )


def platform_device(user, client, name: str, product: Product | None = None) -> tuple[Product, Path]:
    product = product or product_services.create_product(
        owner=user, name="platform_product", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=None
    )
    product_services.create_device(
        product=product, name=name, credentials=product_services.DeviceCredentials()
    )
    return product, download_bundle(client, product, name)


def test_openssl_recipe_device_connects_with_its_bundle(broker, user, signed_in_client, openssl_ca, tmp_path):
    ca = register_openssl_ca(user, openssl_ca)
    product = product_services.create_product(
        owner=user, name="openssl_product", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=ca
    )
    certificate, key = openssl_recipes.make_device_certificate(openssl_ca, f"{product.product_id}dev_01")
    response = signed_in_client.post(
        reverse("products:device_add", args=[product.product_id]),
        {"name": "dev_01", "device_certificate": SimpleUploadedFile("dev_01.crt", certificate.read_bytes())},
    )
    assert response.status_code == 302
    sync(broker)
    bundle = download_bundle(signed_in_client, product, "dev_01")
    # The key never left the device: the bundle's README says to put it beside the certificate.
    assert not (bundle / "dev_01_private.key").exists()
    shutil.copy(key, bundle / "dev_01_private.key")

    device = connect(bundle, product, "dev_01", broker.port)
    assert device.connected, device.error
    assert device.subscribe(f"{product.product_id}/dev_01/#") == [1]
    device.publish(f"{product.product_id}/dev_01/data", b'{"temperature": 21}')
    assert device.wait_for_messages(1) == [(f"{product.product_id}/dev_01/data", b'{"temperature": 21}')]
    device.close()


def test_platform_ca_device_connects_and_readme_command_works(broker, user, signed_in_client):
    require_program("mosquitto_pub", "the bundle's README prints a mosquitto_pub command")
    product, bundle = platform_device(user, signed_in_client, "sensor-1")
    sync(broker)
    # The broker keys access on the certificate (the username), not the client ID, so
    # a second connection of the same device can listen while the README's command,
    # which uses the device's own client ID, publishes.
    listener = DeviceClient(
        client_id=f"{product.product_id}sensor-1-listener",
        ca_file=bundle / "root-ca.crt",
        cert_file=bundle / "sensor-1_cert.crt",
        key_file=bundle / "sensor-1_private.key",
        port=broker.port,
    )
    assert listener.connected, listener.error
    assert listener.subscribe(f"{product.product_id}/sensor-1/#") == [1]

    # Run the README's mosquitto_pub line exactly as printed, from the bundle folder.
    readme = (bundle / "README.txt").read_text()
    command = next(line for line in readme.splitlines() if line.startswith("mosquitto_pub "))
    result = subprocess.run(  # noqa: PLW1510
        shlex.split(command), cwd=bundle, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert listener.wait_for_messages(1) == [(f"{product.product_id}/sensor-1/data", b'{"hello":"world"}')]
    listener.close()


def test_device_cannot_use_another_devices_topics(broker, user, signed_in_client):
    product, alice_bundle = platform_device(user, signed_in_client, "alice")
    _, bob_bundle = platform_device(user, signed_in_client, "bob", product=product)
    sync(broker)
    alice = connect(alice_bundle, product, "alice", broker.port)
    bob = connect(bob_bundle, product, "bob", broker.port)
    assert alice.connected and bob.connected

    bob.subscribe(f"{product.product_id}/bob/#")
    alice.subscribe(f"{product.product_id}/bob/#")  # Mosquitto grants it but delivers nothing
    alice.publish(f"{product.product_id}/bob/data", b"from alice")
    bob.publish(f"{product.product_id}/bob/data", b"from bob")

    assert bob.wait_for_messages(1) == [(f"{product.product_id}/bob/data", b"from bob")]
    assert alice.wait_for_messages(1, timeout=1.5) == []
    alice.close()
    bob.close()


def test_disabled_then_deleted_device_loses_its_topics(broker, user, signed_in_client):
    product, bundle = platform_device(user, signed_in_client, "lamp")
    _, watcher_bundle = platform_device(user, signed_in_client, "watcher", product=product)
    sync(broker)
    lamp = connect(bundle, product, "lamp", broker.port)
    assert lamp.connected
    lamp.subscribe(f"{product.product_id}/lamp/#")
    lamp.publish(f"{product.product_id}/lamp/state", b"on")
    assert lamp.wait_for_messages(1) == [(f"{product.product_id}/lamp/state", b"on")]
    lamp.close()

    response = signed_in_client.post(
        reverse("products:device_enable", args=[product.product_id, "lamp"]), {"enabled": "0"}
    )
    assert response.status_code == 302
    sync(broker)
    lamp = connect(bundle, product, "lamp", broker.port)
    lamp.subscribe(f"{product.product_id}/lamp/#")
    lamp.publish(f"{product.product_id}/lamp/state", b"off")
    assert lamp.wait_for_messages(1, timeout=1.5) == []
    lamp.close()

    signed_in_client.post(reverse("products:device_delete", args=[product.product_id, "lamp"]))
    assert not product.devices.filter(name="lamp").exists()
    sync(broker)
    lamp = connect(bundle, product, "lamp", broker.port)
    lamp.subscribe(f"{product.product_id}/lamp/#")
    lamp.publish(f"{product.product_id}/lamp/state", b"gone")
    assert lamp.wait_for_messages(1, timeout=1.5) == []
    lamp.close()
    # The other device of the product still works: the broker was reconfigured, not broken.
    watcher = connect(watcher_bundle, product, "watcher", broker.port)
    watcher.subscribe(f"{product.product_id}/watcher/#")
    watcher.publish(f"{product.product_id}/watcher/x", b"still here")
    assert watcher.wait_for_messages(1) == [(f"{product.product_id}/watcher/x", b"still here")]
    watcher.close()


def test_handshake_refused_after_ca_is_unbound_and_deleted(broker, user, signed_in_client, tmp_path):
    ca = pki.make_ca("Deleted Later CA", key=pki.ec_key())
    code = certificate_services.current_authentication_code(owner=user).code
    registered = certificate_services.register_ca_certificate(
        owner=user,
        name="soon_gone",
        certificate_data=ca.pem,
        verification_data=pki.make_verification(code, ca).pem,
    )
    product = product_services.create_product(
        owner=user, name="custom", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=registered
    )
    leaf = pki.make_leaf(
        f"{product.product_id}meter", ca, key=pki.ec_key(), extended_key_usage=pki.CLIENT_AUTH
    )
    product_services.create_device(
        product=product,
        name="meter",
        credentials=product_services.DeviceCredentials(certificate_data=leaf.pem),
    )
    sync(broker)
    bundle = download_bundle(signed_in_client, product, "meter")
    (bundle / "meter_private.key").write_bytes(leaf.key_pem)
    meter = connect(bundle, product, "meter", broker.port)
    assert meter.connected, meter.error
    meter.close()

    signed_in_client.post(reverse("products:device_delete", args=[product.product_id, "meter"]))
    signed_in_client.post(reverse("products:product_delete", args=[product.product_id]))
    signed_in_client.post(reverse("certificates:ca_delete", args=[registered.pk]))
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not user.ca_certificates.exists()
    sync(broker)

    meter = connect(bundle, product, "meter", broker.port)
    assert not meter.connected
    assert meter.error is not None


def test_right_common_name_from_unregistered_ca_is_refused(broker, user, signed_in_client):
    product, bundle = platform_device(user, signed_in_client, "genuine")
    sync(broker)
    impostor_ca = pki.make_ca("Impostor CA", key=pki.ec_key())
    forged = pki.make_leaf(
        f"{product.product_id}genuine", impostor_ca, key=pki.ec_key(), extended_key_usage=pki.CLIENT_AUTH
    )
    (bundle / "genuine_cert.crt").write_bytes(forged.pem)
    (bundle / "genuine_private.key").write_bytes(forged.key_pem)

    impostor = connect(bundle, product, "genuine", broker.port)
    assert not impostor.connected
    assert impostor.error is not None


def register_ec_ca(owner, name: str, common_name: str) -> tuple[pki.Issued, object]:
    ca = pki.make_ca(common_name, key=pki.ec_key())
    code = certificate_services.current_authentication_code(owner=owner).code
    registered = certificate_services.register_ca_certificate(
        owner=owner, name=name, certificate_data=ca.pem, verification_data=pki.make_verification(code, ca).pem
    )
    return ca, registered


def test_an_account_scoped_broker_refuses_names_vouched_for_by_another_accounts_ca(
    settings, user, other_user, signed_in_client
):
    """Mosquitto takes a device's identity from its CN, whoever issued it; a broker
    serving one account trusts that account's CAs only."""
    require_program(shutil.which("mosquitto") or "/usr/sbin/mosquitto", "broker tests run a real Mosquitto")
    own_ca, own_registered = register_ec_ca(user, "own_ca", "Own CA")
    product = product_services.create_product(
        owner=user, name="meters", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=own_registered
    )
    genuine = pki.make_leaf(
        f"{product.product_id}meter", own_ca, key=pki.ec_key(), extended_key_usage=pki.CLIENT_AUTH
    )
    product_services.create_device(
        product=product,
        name="meter",
        credentials=product_services.DeviceCredentials(certificate_data=genuine.pem),
    )
    # The other account registers its own CA for a product of its own, then mints a
    # certificate carrying this account's Product ID and device name.
    rogue_ca, rogue_registered = register_ec_ca(other_user, "rogue_ca", "Rogue CA")
    product_services.create_product(
        owner=other_user,
        name="decoy",
        auth_method=Product.AuthMethod.CERTIFICATE,
        ca_certificate=rogue_registered,
    )
    forged = pki.make_leaf(
        f"{product.product_id}meter", rogue_ca, key=pki.ec_key(), extended_key_usage=pki.CLIENT_AUTH
    )

    directory = Path(tempfile.mkdtemp(prefix="iothub-broker-", dir="/tmp"))
    port = free_port()
    settings.IOTHUB_MQTT_HOST, settings.IOTHUB_MQTT_PORT = "127.0.0.1", port
    supervisor = BrokerSupervisor(
        directory, host="127.0.0.1", bind_address="127.0.0.1", port=port, account=user
    )
    supervisor.start()
    try:
        wait_for_port(port)
        bundle = download_bundle(signed_in_client, product, "meter")
        (bundle / "meter_private.key").write_bytes(genuine.key_pem)
        device = connect(bundle, product, "meter", port)
        assert device.connected, device.error
        device.close()

        (bundle / "meter_cert.crt").write_bytes(forged.pem)
        (bundle / "meter_private.key").write_bytes(forged.key_pem)
        impostor = connect(bundle, product, "meter", port)
        assert not impostor.connected
        assert impostor.error is not None
        trusted = (directory / "trusted-cas.pem").read_bytes()
        assert own_ca.pem in trusted and rogue_ca.pem not in trusted
    finally:
        supervisor.stop()
        shutil.rmtree(directory, ignore_errors=True)
