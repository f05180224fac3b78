"""Devices the broker tests connect: made through the console's services, connected with paho."""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from pathlib import Path

from django.urls import reverse

from broker.services import Broker
from products import bundles, platform
from products import services as product_services
from products.models import Device, Product
from tests import pki
from tests.mqtt_client import DeviceClient
from tests.product_console import make_device, make_product, register_ca

# A Key device's PSK as Tencent's console shows it (base64).
PSK = "bXktZGV2aWNlLXNlY3JldC1rZXk="


def download_bundle(client, product: Product, device_name: str) -> Path:
    response = client.get(reverse("products:device_bundle", args=[product.product_id, device_name]))
    assert response.status_code == 200
    directory = Path(tempfile.mkdtemp(prefix="bundle-"))
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(directory)
    return directory


def server_ca_file() -> Path:
    """The platform root, which signs every broker's server certificate (the bundles' root-ca.crt)."""
    path = Path(tempfile.mkdtemp(prefix="root-ca-")) / bundles.CA_FILE
    path.write_text(platform.root_ca().certificate_pem)
    return path


class CertificateDevice:
    """A device with its certificate and key on disk, ready to connect."""

    def __init__(self, device: Device, certificate_pem: bytes, key_pem: bytes) -> None:
        self.device = device
        self.directory = Path(tempfile.mkdtemp(prefix="device-"))
        self.cert_file = self.directory / "device.crt"
        self.key_file = self.directory / "device.key"
        self.use(certificate_pem, key_pem)

    @property
    def client_id(self) -> str:
        return f"{self.device.product.product_id}{self.device.name}"

    @property
    def topic_prefix(self) -> str:
        return f"{self.device.product.product_id}/{self.device.name}/"

    def use(self, certificate_pem: bytes, key_pem: bytes) -> None:
        self.cert_file.write_bytes(certificate_pem)
        self.key_file.write_bytes(key_pem)

    def connect(self, broker: Broker, client_id: str | None = None) -> DeviceClient:
        broker.refresh_trust()  # as run_broker does every 2 s: CAs bound since start-up
        return self.connect_to(broker.options.port, client_id)

    def connect_to(self, port: int, client_id: str | None = None) -> DeviceClient:
        return DeviceClient(
            client_id=client_id or self.client_id,
            ca_file=server_ca_file(),
            cert_file=self.cert_file,
            key_file=self.key_file,
            port=port,
        )


def platform_device(owner, name: str, product: Product | None = None) -> CertificateDevice:
    """A device of a Platform CA product, its certificate and key issued by the console."""
    product = product or make_product(owner, "platform_product")
    device = make_device(product, name)
    key_pem = product_services.take_private_key(device=device)
    return CertificateDevice(device, device.certificate_pem.encode(), key_pem.encode())


def custom_ca_device(product: Product, name: str, ca: pki.Issued) -> CertificateDevice:
    """A device of a custom-CA product whose certificate `ca` issued."""
    leaf = pki.make_leaf(
        f"{product.product_id}{name}", ca, key=pki.ec_key(), extended_key_usage=pki.CLIENT_AUTH
    )
    device = make_device(product, name, certificate_data=leaf.pem)
    return CertificateDevice(device, leaf.pem, leaf.key_pem)


def custom_ca_product(owner, name: str, ca_common_name: str) -> tuple[Product, pki.Issued]:
    ca = pki.make_ca(ca_common_name, key=pki.ec_key())
    registered = register_ca(owner, ca, name=f"{name}_ca")
    return make_product(owner, name, ca_certificate=registered), ca


def key_product(owner, name: str = "key_product") -> Product:
    return make_product(owner, name, auth_method=Product.AuthMethod.KEY)


def key_device(product: Product, name: str) -> Device:
    return make_device(product, name, psk=PSK)


def connect_key(
    broker: Broker,
    device: Device,
    *,
    algorithm: str = bundles.HMAC_SHA256,
    expiry: int | None = None,
    client_id: str | None = None,
    password: str | None = None,
) -> DeviceClient:
    """Connect as a Key device with Tencent's username and HMAC password."""
    own_id = f"{device.product.product_id}{device.name}"
    credentials = bundles.key_credentials(own_id, PSK, expiry or int(time.time()) + 3600, algorithm=algorithm)
    return DeviceClient(
        client_id=client_id or own_id,
        ca_file=server_ca_file(),
        username=credentials.username,
        password=password or credentials.password,
        port=broker.options.key_port,
    )


def echoes(client: DeviceClient, topic_prefix: str, payload: bytes = b'{"temperature": 21}') -> bool:
    """The device subscribes to its own topics, publishes on one and receives it back."""
    if client.subscribe(f"{topic_prefix}#") != [1]:
        return False
    client.publish(f"{topic_prefix}data", payload)
    return client.wait_for_messages(1) == [(f"{topic_prefix}data", payload)]


def refused_reason(device: Device) -> str:
    device.refresh_from_db()
    return device.last_refusal_reason
