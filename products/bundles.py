"""The device bundle: everything a device needs to connect, as one zip.

Pure code (no Django): it takes plain values and returns bytes, so it is tested
without a database and reused by the console and batch downloads alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import secrets
import string
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime

# Tencent's username is <ClientId>;<sdkappid>;<connid>;<expiry>. For certificate
# devices the broker checks the certificate, not the username, but Tencent's SDKs
# and scripts expect the shape; for Key devices the password is an HMAC of it.
SDK_APP_ID = "12010126"
# Far in the future: the username carries no credential for certificate devices.
USERNAME_EXPIRY = 4102444800  # 2100-01-01T00:00:00Z
CONNECTION_ID_LENGTH = 5
HMAC_SHA256 = "hmacsha256"
HMAC_SHA1 = "hmacsha1"
HMAC_ALGORITHMS = {HMAC_SHA256: hashlib.sha256, HMAC_SHA1: hashlib.sha1}
# A Key device's bundle carries a password this long-lived; the device page's
# Generate Credentials makes one for any other span.
BUNDLE_CREDENTIALS_SECONDS = 365 * 24 * 3600
CA_FILE = "root-ca.crt"
DEVICE_CA_FILE = "device-ca.crt"


@dataclass(frozen=True)
class DeviceBundleInput:
    product_id: str
    device_name: str
    auth_mode: str  # "CERT" or "KEY"
    mqtt_host: str
    mqtt_port: int
    certificate_pem: str = ""
    private_key_pem: str = ""  # only while the generated key is still retrievable
    device_ca_pem: str = ""
    root_ca_pem: str = ""
    psk: str = ""
    key_expiry: int = 0  # Unix seconds: until when a Key device's bundled password works

    @property
    def client_id(self) -> str:
        return f"{self.product_id}{self.device_name}"

    @property
    def certificate_file(self) -> str:
        return f"{self.device_name}_cert.crt"

    @property
    def private_key_file(self) -> str:
        return f"{self.device_name}_private.key"

    @property
    def topic_prefix(self) -> str:
        return f"{self.product_id}/{self.device_name}/"


def bundle_filename(product_id: str, device_name: str) -> str:
    # Device names may hold ':', which some file systems refuse; '_' keeps it readable.
    return f"{product_id}_{device_name}.zip".replace(":", "_")


def mqtt_username(client_id: str, connection_id: str | None = None, expiry: int = USERNAME_EXPIRY) -> str:
    """Tencent's username; `expiry` is a Unix time in seconds."""
    connection_id = connection_id or "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(CONNECTION_ID_LENGTH)
    )
    return f"{client_id};{SDK_APP_ID};{connection_id};{expiry}"


def mqtt_password(username: str, psk: str, algorithm: str = HMAC_SHA256) -> str:
    """Tencent's Key-device password: hex HMAC of the username keyed with the decoded PSK.

    The console writes it (bundles, Generate Credentials) and the broker's decision
    recomputes it with this same function. A PSK that is not base64 raises ValueError.
    """
    try:
        key = base64.b64decode(psk, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the PSK is not base64") from None
    digest = hmac.new(key, username.encode("utf-8"), HMAC_ALGORITHMS[algorithm]).hexdigest()
    return f"{digest};{algorithm}"


@dataclass(frozen=True)
class MqttLogin:
    """What an MQTT client sends to sign in as a device; Key devices' passwords work until `expiry`."""

    client_id: str
    username: str
    password: str
    expiry: int  # Unix seconds


def key_credentials(
    client_id: str,
    psk: str,
    expiry: int,
    connection_id: str | None = None,
    algorithm: str = HMAC_SHA256,
) -> MqttLogin:
    username = mqtt_username(client_id, connection_id, expiry)
    return MqttLogin(
        client_id=client_id,
        username=username,
        password=mqtt_password(username, psk, algorithm),
        expiry=expiry,
    )


def device_info(bundle: DeviceBundleInput, login: MqttLogin) -> dict:
    """`device_info.json` as Tencent's device SDKs read it, plus an `mqtt` object."""
    certificate = bundle.auth_mode == "CERT"
    mqtt = {
        "host": bundle.mqtt_host,
        "port": bundle.mqtt_port,
        "client_id": bundle.client_id,
        "username": login.username,
        "topic_prefix": bundle.topic_prefix,
    }
    if not certificate:
        mqtt["password"] = login.password
    return {
        "auth_mode": bundle.auth_mode,
        "productId": bundle.product_id,
        "productSecret": "",
        "deviceName": bundle.device_name,
        "key_deviceinfo": {"deviceSecret": "" if certificate else bundle.psk},
        "cert_deviceinfo": {
            "devCaFile": CA_FILE if certificate else "",
            "devCertFile": bundle.certificate_file if certificate else "",
            "devPrivateKeyFile": bundle.private_key_file if certificate else "",
        },
        "region": "china",
        "mqtt": mqtt,
    }


def _sign_in_options(bundle: DeviceBundleInput, login: MqttLogin) -> str:
    """The mosquitto client options that connect as this device, from the unzipped folder."""
    options = f"-h {bundle.mqtt_host} -p {bundle.mqtt_port} --cafile {CA_FILE} "
    if bundle.auth_mode == "CERT":
        options += f"--cert {bundle.certificate_file} --key {bundle.private_key_file} "
    options += f"-i '{bundle.client_id}' -u '{login.username}'"
    if bundle.auth_mode != "CERT":
        options += f" -P '{login.password}'"
    return options


def readme(bundle: DeviceBundleInput, login: MqttLogin) -> str:
    topic = f"{bundle.topic_prefix}data"
    certificate = bundle.auth_mode == "CERT"
    how = "client certificate" if certificate else "username and password"
    lines = [
        f"Device bundle for {bundle.device_name} (product {bundle.product_id})",
        "",
        f"Broker:     {bundle.mqtt_host}:{bundle.mqtt_port} (MQTT over TLS, {how})",
        f"Client ID:  {bundle.client_id}",
        f"Username:   {login.username}",
    ]
    if not certificate:
        lines.append(f"Password:   {login.password}")
    lines += [f"Topics:     {bundle.topic_prefix}# (this device may use only these)", "", "Files:"]
    if certificate:
        lines.append(f"  {bundle.certificate_file}  the device certificate")
        if bundle.private_key_pem:
            lines.append(
                f"  {bundle.private_key_file}  the device private key (this bundle is its only copy)"
            )
        else:
            lines.append(f"  {bundle.private_key_file}  not included: put the device's own private key here")
        lines.append(f"  {DEVICE_CA_FILE}  the CA that issued the device certificate")
    lines += [
        f"  {CA_FILE}  the CA of the broker's server certificate",
        "  device_info.json  settings for Tencent's device SDKs",
        "",
    ]
    if not certificate:
        expiry = datetime.fromtimestamp(login.expiry, UTC).strftime("%Y-%m-%d")
        lines += [
            "This device authenticates with a pre-shared key: device_info.json holds it as",
            "key_deviceinfo.deviceSecret. Keep it secret. The password above is Tencent's",
            f"HMAC-SHA256 of the username with that key; the username expires on {expiry}.",
            "Make new ones with Generate Credentials on the device's page.",
            "",
        ]
    options = _sign_in_options(bundle, login)
    lines += [
        "One connection per device at a time: a second client with this client ID",
        "disconnects the first, so run one of these commands at a time.",
        "",
        "Publish a test message from this folder:",
        "",
        f"mosquitto_pub {options} -t '{topic}' -m '{{\"hello\":\"world\"}}' -q 1",
        "",
        "Publish and wait for the message to come back, on one connection:",
        "",
        f"mosquitto_rr {options} -t '{topic}' -e '{topic}' -m '{{\"hello\":\"world\"}}' -q 1 -W 10",
        "",
        "Listen for messages to the device (such as Publish Message on its page):",
        "",
        f"mosquitto_sub {options} -t '{bundle.topic_prefix}#' -v",
        "",
    ]
    return "\n".join(lines)


def build_device_bundle(bundle: DeviceBundleInput, connection_id: str | None = None) -> bytes:
    """The zip's bytes: certificate files for CERT devices, root-ca.crt, device_info.json and README.txt.

    A Key device's username expires `key_expiry` (Unix seconds) and comes with its
    password; a certificate device's username carries no credential.
    """
    if bundle.auth_mode == "CERT":
        login = MqttLogin(
            bundle.client_id, mqtt_username(bundle.client_id, connection_id), "", USERNAME_EXPIRY
        )
    else:
        login = key_credentials(bundle.client_id, bundle.psk, bundle.key_expiry, connection_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if bundle.auth_mode == "CERT":
            archive.writestr(bundle.certificate_file, bundle.certificate_pem)
            if bundle.private_key_pem:
                # Owner-only when unzipped, as ssh and mosquitto expect of key files.
                key_entry = zipfile.ZipInfo(bundle.private_key_file)
                key_entry.external_attr = 0o600 << 16
                key_entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(key_entry, bundle.private_key_pem)
            archive.writestr(DEVICE_CA_FILE, bundle.device_ca_pem)
        archive.writestr(CA_FILE, bundle.root_ca_pem)
        archive.writestr("device_info.json", json.dumps(device_info(bundle, login), indent=2) + "\n")
        archive.writestr("README.txt", readme(bundle, login))
    return buffer.getvalue()
