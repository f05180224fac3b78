"""Keeping a Mosquitto broker in step with the console.

`write_configuration` writes the files; `BrokerSupervisor` runs Mosquitto on them and,
when the console's devices, products or CAs change, rewrites them and makes the
running broker pick them up.
"""

from __future__ import annotations

import grp
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from certificates import issuance
from products import platform
from products.models import Device, Product

from . import config
from .state import current_version

logger = logging.getLogger(__name__)

BROKER_USER = "mosquitto"
# A server certificate is renewed this long before it expires.
SERVER_CERT_RENEW_BEFORE = timedelta(days=30)


def device_grants(account: AbstractBaseUser | None = None) -> Iterator[config.DeviceGrant]:
    """Every enabled certificate device of a product that is not forbidden (of `account`, if given)."""
    devices = Device.objects.filter(
        enabled=True,
        product__forbidden=False,
        product__auth_method=Product.AuthMethod.CERTIFICATE,
    )
    if account is not None:
        devices = devices.filter(product__owner=account)
    rows = devices.order_by("product__product_id", "name").values_list("product__product_id", "name")
    for product_id, name in rows.iterator(chunk_size=5000):
        yield config.DeviceGrant(client_id=f"{product_id}{name}", topic_prefix=f"{product_id}/{name}/")


def trust_bundle_pem(account: AbstractBaseUser | None = None) -> str:
    """The CAs whose device certificates the broker accepts.

    Every custom CA bound to a product (of `account`, if given), the platform device
    CA, and the platform root above it (OpenSSL needs the chain up to a
    self-signed anchor).
    """
    products = Product.objects.filter(ca_certificate__isnull=False)
    if account is not None:
        products = products.filter(owner=account)
    custom = (
        products.order_by("ca_certificate__fingerprint_sha256")
        .values_list("ca_certificate__certificate_pem", flat=True)
        .distinct()
    )
    pems = [platform.device_ca().certificate_pem, platform.root_ca().certificate_pem, *custom]
    return "".join(pem if pem.endswith("\n") else pem + "\n" for pem in dict.fromkeys(pems))


def _broker_gid() -> int | None:
    """The mosquitto group when we run as root (Mosquitto then drops to that user)."""
    if os.geteuid() != 0:
        return None
    try:
        return grp.getgrnam(BROKER_USER).gr_gid
    except KeyError:
        return None


def _write(path: Path, content: str, *, secret: bool = False) -> bool:
    """Write atomically; True if the content changed. Secrets are never world-readable."""
    try:
        if path.read_text() == content:
            return False
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    gid = _broker_gid()
    if gid is not None:
        os.chown(temporary, 0, gid)
        os.chmod(temporary, 0o640)
    elif not secret:
        os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return True


def _server_certificate_is_current(directory: Path, host: str, root: cx509.Certificate) -> bool:
    try:
        certificate = cx509.load_pem_x509_certificate((directory / config.SERVER_CERT_FILE).read_bytes())
        (directory / config.SERVER_KEY_FILE).stat()
    except (FileNotFoundError, ValueError):
        return False
    if certificate.issuer != root.subject:
        return False
    try:
        certificate.verify_directly_issued_by(root)
    except Exception:  # any failure means: issue a new one
        return False
    names = certificate.extensions.get_extension_for_class(cx509.SubjectAlternativeName).value
    listed = [str(value) for value in names.get_values_for_type(cx509.DNSName)] + [
        str(value) for value in names.get_values_for_type(cx509.IPAddress)
    ]
    renew_at = certificate.not_valid_after_utc - SERVER_CERT_RENEW_BEFORE
    return host in listed and timezone.now() < renew_at


@dataclass
class WriteResult:
    changed: set[str] = field(default_factory=set)

    @property
    def needs_restart(self) -> bool:
        """Mosquitto 2.0 rereads the ACL on SIGHUP but keeps the TLS context it started with."""
        return bool(
            self.changed & {config.CA_FILE, config.SERVER_CERT_FILE, config.SERVER_KEY_FILE, config.CONF_FILE}
        )


def write_configuration(
    directory: Path,
    *,
    host: str | None = None,
    bind_address: str | None = None,
    port: int | None = None,
    account: AbstractBaseUser | None = None,
) -> WriteResult:
    """Write a complete Mosquitto configuration into `directory`; report what changed.

    With `account`, the broker serves that account alone. Mosquitto takes a device's
    identity from its certificate's CN whoever issued it, so on a broker shared by
    several accounts, one account's CA could vouch for a name of another's.
    """
    host = host or settings.IOTHUB_MQTT_HOST
    bind_address = bind_address or settings.IOTHUB_MQTT_BIND_ADDRESS
    port = port or settings.IOTHUB_MQTT_PORT
    directory.mkdir(parents=True, exist_ok=True)
    gid = _broker_gid()
    if gid is not None:
        os.chown(directory, 0, gid)
    os.chmod(directory, 0o750)  # noqa: S103  (the mosquitto group must enter it)
    result = WriteResult()
    root = platform.root_ca()
    if not _server_certificate_is_current(directory, host, root.certificate):
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = issuance.issue_server_certificate(
            host, key.public_key(), root.certificate, root.private_key, timezone.now()
        )
        _write(directory / config.SERVER_KEY_FILE, issuance.private_key_to_pem(key), secret=True)
        _write(directory / config.SERVER_CERT_FILE, issuance.certificate_to_pem(certificate))
        result.changed |= {config.SERVER_KEY_FILE, config.SERVER_CERT_FILE}
    files = {
        config.CA_FILE: trust_bundle_pem(account),
        config.ACL_FILE: config.render_acl(device_grants(account)),
        config.CONF_FILE: config.render_mosquitto_conf(directory, bind_address=bind_address, port=port),
    }
    for name, content in files.items():
        if _write(directory / name, content):
            result.changed.add(name)
    return result


def mosquitto_executable() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        raise FileNotFoundError("mosquitto is not installed: apt-get install mosquitto")
    return found


class BrokerSupervisor:
    """Runs Mosquitto on the console's configuration and keeps it current.

    `sync()` is cheap when nothing changed (one query); call it in a loop, as
    the `run_broker` command does, or directly from tests.
    """

    def __init__(
        self,
        directory: Path,
        *,
        host: str | None = None,
        bind_address: str | None = None,
        port: int | None = None,
        account: AbstractBaseUser | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.account = account
        self.host = host
        self.bind_address = bind_address
        self.port = port
        self.process: subprocess.Popen | None = None
        self.version: int | None = None

    def _write(self) -> WriteResult:
        self.version = current_version()
        return write_configuration(
            self.directory,
            host=self.host,
            bind_address=self.bind_address,
            port=self.port,
            account=self.account,
        )

    def start(self) -> None:
        self._write()
        self._spawn()

    def _spawn(self) -> None:
        log = open(self.directory / config.LOG_FILE, "ab")  # noqa: SIM115  (open for the broker's lifetime)
        self.process = subprocess.Popen(  # noqa: S603
            [mosquitto_executable(), "-c", str(self.directory / config.CONF_FILE)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        logger.info("Mosquitto started (pid %s) on port %s", self.process.pid, self.port)

    def sync(self, force: bool = False) -> WriteResult | None:
        """Rewrite the configuration if the console changed; reload or restart the broker."""
        if not force and current_version() == self.version:
            return None
        result = self._write()
        if self.process is None or not result.changed:
            return result
        if result.needs_restart:
            logger.info("Restarting Mosquitto: %s changed", ", ".join(sorted(result.changed)))
            self.stop()
            self._spawn()
        else:
            self.process.send_signal(signal.SIGHUP)
        return result

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
