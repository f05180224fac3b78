"""Running Mosquitto with the iothub_auth plugin: the console decides, the broker enforces.

`write_configuration` puts everything Mosquitto reads into one state directory (its
configuration, the server certificate, the trusted CAs, the console's token and the
plugin); `Broker` runs Mosquitto on it. Who may connect is not written anywhere: the
plugin asks the console at every CONNECT and polls it for revocations. Only the CAs the
TLS layer accepts live in files, as a `capath` directory that OpenSSL reads when a chain
needs a CA, so a newly bound CA is trusted without restarting the broker.
"""

from __future__ import annotations

import grp
import hashlib
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from certificates import issuance, x509
from certificates.models import CACertificate
from products import platform

from . import config

logger = logging.getLogger(__name__)

BROKER_USER = "mosquitto"
PLUGIN_SOURCE = Path(__file__).resolve().parent / "plugin"
# Where the broker's files go when the requested directory is out of the mosquitto user's reach.
FALLBACK_ROOT = Path("/var/lib/iothub-console")
# A server certificate is renewed this long before it expires.
SERVER_CERT_RENEW_BEFORE = timedelta(days=30)
START_TIMEOUT = 10.0

PLUGIN_BUILD_FAILED = "The broker plugin did not build (make -C {path}):\n{output}"
MOSQUITTO_MISSING = "mosquitto is not installed: run ./scripts/install-system-packages (as root)."
UNREACHABLE_DIRECTORY = (
    "User mosquitto cannot enter {blocked}, so Mosquitto could not read its files in {directory}. "
    "Fix: chmod o+x {blocked}, or set IOTHUB_BROKER_DIR to a directory user mosquitto can enter."
)
MOSQUITTO_EXITED = "Mosquitto exited with code {code}: {line}"
NOT_LISTENING = "Mosquitto did not listen on port {port} within {timeout:.0f} s; see {log}."


class BrokerError(Exception):
    """Something a user must fix before the broker can run; the message says what."""


def build_plugin() -> Path:
    """Build the plugin from its source with warnings as errors; return the .so."""
    result = subprocess.run(  # noqa: S603
        ["make", "-s", "-C", str(PLUGIN_SOURCE)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BrokerError(
            PLUGIN_BUILD_FAILED.format(path=PLUGIN_SOURCE, output=result.stderr + result.stdout)
        )
    return PLUGIN_SOURCE / config.PLUGIN_FILE


def mosquitto_executable() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        raise BrokerError(MOSQUITTO_MISSING)
    return found


def default_broker_id(port: int) -> str:
    return f"{socket.gethostname()}:{port}"


# ---- Files Mosquitto reads after it drops to the mosquitto user ----


def _broker_gid() -> int | None:
    """The mosquitto group when we run as root (Mosquitto then drops to that user)."""
    if os.geteuid() != 0:
        return None
    try:
        return grp.getgrnam(BROKER_USER).gr_gid
    except KeyError:
        return None


def _unreachable_parent(directory: Path) -> Path | None:
    """The first existing directory on the way to `directory` that user mosquitto cannot enter."""
    try:
        user = pwd.getpwnam(BROKER_USER)
    except KeyError:
        return None  # no such user: Mosquitto keeps running as whoever starts it
    groups = {user.pw_gid} | {group.gr_gid for group in grp.getgrall() if BROKER_USER in group.gr_mem}
    # The directory itself is write_configuration's to open to the group; its parents are not.
    for candidate in reversed(directory.resolve().parents):
        try:
            info = candidate.stat()
        except FileNotFoundError:
            return None  # the rest is created by write_configuration
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return candidate
    return None


def state_directory(requested: Path) -> Path:
    """Where the broker's files go: `requested` if user mosquitto can reach it.

    Mosquitto started as root drops to the mosquitto user before it reads the CAs, so a
    repository under a private directory (a root user's home is 0700) cannot hold them.
    Then the files go to a directory of their own under /var/lib, named after `requested`.
    """
    if os.geteuid() != 0:
        return requested
    blocked = _unreachable_parent(requested)
    if blocked is None:
        return requested
    fallback = FALLBACK_ROOT / hashlib.sha256(str(requested.resolve()).encode()).hexdigest()[:12]
    FALLBACK_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    still_blocked = _unreachable_parent(fallback)
    if still_blocked is not None:
        raise BrokerError(UNREACHABLE_DIRECTORY.format(blocked=still_blocked, directory=fallback))
    logger.warning("User mosquitto cannot enter %s; the broker's files go to %s.", blocked, fallback)
    return fallback


def _write(path: Path, content: bytes, *, secret: bool = False) -> bool:
    """Write atomically; True if the content changed. Readable by the mosquitto group, never by all
    when secret."""
    try:
        if path.read_bytes() == content:
            return False
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    gid = _broker_gid()
    if gid is not None:
        os.chown(temporary, 0, gid)
        os.chmod(temporary, 0o640)
    elif not secret:
        os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return True


def _make_directory(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    gid = _broker_gid()
    if gid is not None:
        os.chown(path, 0, gid)
    os.chmod(path, 0o750)  # noqa: S103  (the mosquitto group must enter it)


# ---- The CAs the certificate listener's TLS layer accepts ----


def trusted_ca_pems() -> list[str]:
    """The platform's CAs and every CA bound to a product, each once.

    The TLS layer only filters out strangers; the console checks that a device's chain
    ends at its own product's CA, so one account's CA cannot vouch for another's devices.
    """
    # A product's second CA (during a CA rollover) is trusted like its first.
    custom = (
        CACertificate.objects.filter(Q(products__isnull=False) | Q(second_ca_of__isnull=False))
        .distinct()
        .order_by("fingerprint_sha256")
        .values_list("certificate_pem", flat=True)
    )
    pems = [platform.root_ca().certificate_pem, platform.device_ca().certificate_pem, *custom]
    return list(dict.fromkeys(pem.strip() + "\n" for pem in pems))


def _trusted_certificate(pem: str) -> tuple[str, bytes]:
    """OpenSSL's subject hash (the capath file name) and the CA as a TRUSTED CERTIFICATE.

    The explicit clientAuth trust makes OpenSSL accept the CA as the end of a chain even
    when it is an intermediate whose root the console never saw.
    """
    result = subprocess.run(
        ["openssl", "x509", "-subject_hash", "-addtrust", "clientAuth"],  # noqa: S607
        input=pem.encode(),
        capture_output=True,
        check=True,
    )
    subject_hash, _, trusted = result.stdout.partition(b"\n")
    return subject_hash.decode().strip(), trusted


@dataclass
class CaDirectory:
    """A capath directory of `<subject hash>.<n>` files, as `openssl rehash` names them."""

    path: Path
    _known: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def refresh(self, pems: list[str]) -> bool:
        """Write the files for `pems`, remove the others; True if anything changed."""
        _make_directory(self.path)
        self._known = {pem: self._known.get(pem) or _trusted_certificate(pem) for pem in pems}
        wanted: dict[str, bytes] = {}
        for subject_hash, trusted in sorted(self._known.values()):
            suffix = 0
            while f"{subject_hash}.{suffix}" in wanted:
                suffix += 1
            wanted[f"{subject_hash}.{suffix}"] = trusted
        changed = False
        for name, content in wanted.items():
            changed |= _write(self.path / name, content)
        for stale in self.path.iterdir():
            if stale.name not in wanted:
                stale.unlink()
                changed = True
        return changed


# ---- The whole configuration ----


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


def _write_server_certificate(directory: Path, host: str) -> None:
    root = platform.root_ca()
    if _server_certificate_is_current(directory, host, root.certificate):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issuance.issue_server_certificate(
        host, key.public_key(), root.certificate, root.private_key, timezone.now()
    )
    _write(directory / config.SERVER_KEY_FILE, issuance.private_key_to_pem(key).encode(), secret=True)
    _write(directory / config.SERVER_CERT_FILE, x509.to_pem(certificate).encode())


def write_configuration(
    directory: Path,
    options: config.BrokerOptions,
    *,
    host: str,
    plugin: Path,
    cas: CaDirectory | None = None,
) -> Path:
    """Write everything Mosquitto reads into `directory`; return the configuration file."""
    _make_directory(directory)
    _write_server_certificate(directory, host)
    _write(directory / config.TOKEN_FILE, (settings.IOTHUB_BROKER_TOKEN + "\n").encode(), secret=True)
    # A copy beside the rest, so the repository itself need not be readable by mosquitto.
    _write(directory / config.PLUGIN_FILE, plugin.read_bytes())
    (cas or CaDirectory(directory / config.CA_DIRECTORY)).refresh(trusted_ca_pems())
    conf = directory / config.CONF_FILE
    _write(conf, config.render_mosquitto_conf(directory, options).encode())
    return conf


def _mosquitto_error(log: Path, offset: int) -> str:
    """Mosquitto's own words for why it stopped: the last error line it wrote since `offset`."""
    try:
        with open(log, "rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no output)"
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["(no output)"])[-1]


class Broker:
    """One Mosquitto with the plugin, on a state directory `write_configuration` fills."""

    def __init__(self, directory: Path, options: config.BrokerOptions, *, host: str) -> None:
        self.directory = Path(directory)
        self.options = options
        self.host = host
        self.process: subprocess.Popen | None = None
        self.cas = CaDirectory(self.directory / config.CA_DIRECTORY)
        self._log_offset = 0

    @property
    def log(self) -> Path:
        return self.directory / config.LOG_FILE

    def start(self, plugin: Path) -> None:
        """Write the configuration, start Mosquitto and wait until both listeners accept."""
        conf = write_configuration(self.directory, self.options, host=self.host, plugin=plugin, cas=self.cas)
        with open(self.log, "ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(  # noqa: S603
                [mosquitto_executable(), "-c", str(conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        logger.info("Mosquitto started (pid %s)", self.process.pid)
        for port in (self.options.port, self.options.key_port):
            self._wait_for(port)

    def _wait_for(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.check()
            try:
                with socket.create_connection((self.options.bind_address, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(NOT_LISTENING.format(port=port, timeout=START_TIMEOUT, log=self.log))

    def check(self) -> None:
        """Raise BrokerError with Mosquitto's error line if it is no longer running."""
        if self.process is None:
            return
        code = self.process.poll()
        if code is not None:
            self.process = None
            raise BrokerError(
                MOSQUITTO_EXITED.format(code=code, line=_mosquitto_error(self.log, self._log_offset))
            )

    def refresh_trust(self) -> bool:
        """Trust the CAs bound since start-up; OpenSSL reads new capath files without a restart."""
        return self.cas.refresh(trusted_ca_pems())

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
