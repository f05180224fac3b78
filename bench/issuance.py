"""1. Platform-CA batch issuance against the two ways to get the same certificates without it.

- the batch: `start_batch` (not timed), then `run_batch` timed, as the worker runs it;
- bare `cryptography`: the same key, certificate and PEM work per device in a plain loop,
  the most any batch could reach in Python;
- the console page's OpenSSL recipe, three commands per device: what a user does instead.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser

from batches.inputs import generated_names
from batches.models import DeviceBatch
from batches.services import run_batch, start_batch
from certificates import issuance, x509
from products import platform
from products.models import Device, Product

from . import fixtures
from .report import BenchError, Sample, seconds

EC = "ec-p256"
RSA = "rsa-2048"

# The openssl.cnf section the page's `-extfile openssl.cnf -extensions v3_req` names
# (the page does not show it; these are the usual contents, as in tests/openssl_recipes.py).
OPENSSL_CNF = """\
[ v3_req ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
"""


@dataclass(frozen=True)
class IssuanceResult:
    batch: Sample
    bare: Sample
    openssl: Sample | None  # None when the openssl command is not installed
    paired_ratios: Sample  # batch/bare of each repetition, run back to back

    @property
    def batch_over_bare(self) -> float:
        return self.batch.median / self.bare.median

    @property
    def batch_over_openssl(self) -> float | None:
        return None if self.openssl is None else self.batch.median / self.openssl.median


def measure(
    owner: AbstractBaseUser,
    algorithm: str,
    devices: int,
    openssl_devices: int,
    repetitions: int,
    scratch: Path,
) -> IssuanceResult:
    product = fixtures.platform_product(owner, f"bench-{algorithm}", algorithm)
    authority = platform.device_ca()  # made once, as on a console that has issued before
    openssl_dir = _openssl_workspace(scratch / f"openssl-{algorithm}", authority)
    batch_rates, bare_rates, openssl_rates = [], [], []
    # Each repetition runs the three back to back, so a slow spell of the machine
    # shows in all of them instead of skewing one side of a ratio.
    for repetition in range(1, repetitions + 1):
        batch_rates.append(devices / _timed_batch(owner, product, devices, f"r{repetition}-"))
        bare_rates.append(
            devices / seconds(lambda: _bare_loop(algorithm, devices, authority, product.product_id))
        )
        if openssl_dir is not None:
            directory = openssl_dir / f"r{repetition}"
            directory.mkdir()
            openssl_rates.append(
                openssl_devices
                / seconds(
                    lambda: _openssl_recipe(
                        algorithm,
                        openssl_devices,
                        openssl_dir,
                        directory,  # noqa: B023  (the lambda is called at once)
                        product.product_id,
                    )
                )
            )
            _check_openssl_output(directory, authority)
    return IssuanceResult(
        batch=Sample(tuple(batch_rates)),
        bare=Sample(tuple(bare_rates)),
        openssl=Sample(tuple(openssl_rates)) if openssl_rates else None,
        paired_ratios=Sample(tuple(b / r for b, r in zip(batch_rates, bare_rates, strict=True))),
    )


def _timed_batch(owner: AbstractBaseUser, product: Product, devices: int, prefix: str) -> float:
    batch = start_batch(
        owner=owner, product=product, kind=DeviceBatch.Kind.AUTO, names=generated_names(devices, prefix)
    )
    elapsed = seconds(lambda: run_batch(batch.pk))
    batch.refresh_from_db()
    if batch.status != DeviceBatch.Status.SUCCEEDED or batch.processed != devices or batch.failed:
        raise BenchError(
            f"{product.device_key_algorithm} batch ended {batch.status} with {batch.processed} processed, "
            f"{batch.failed} failed: {batch.error}"
        )
    created = (
        Device.objects.filter(product=product).exclude(certificate_pem="").exclude(private_key_pem="").count()
    )
    if created != devices:
        raise BenchError(
            f"{product.device_key_algorithm} batch stored {created} devices with key and certificate, not {devices}"
        )
    # Every repetition starts from the same empty product.
    Device.objects.filter(product=product).delete()
    return elapsed


def _bare_loop(algorithm: str, devices: int, authority: platform.Authority, product_id: str) -> None:
    now = datetime.now(UTC)
    for number in range(devices):
        key = issuance.generate_private_key(algorithm)
        certificate = issuance.issue_client_certificate(
            f"{product_id}dev{number}", key.public_key(), authority.certificate, authority.private_key, now
        )
        x509.to_pem(certificate)
        issuance.private_key_to_pem(key)


def _openssl_workspace(directory: Path, authority: platform.Authority) -> Path | None:
    """ca.crt, ca.key (the same Platform device CA) and openssl.cnf, as the recipe expects."""
    if shutil.which("openssl") is None:
        return None
    directory.mkdir(mode=0o700)
    (directory / "ca.crt").write_text(authority.certificate_pem)
    (directory / "ca.key").write_text(issuance.private_key_to_pem(authority.private_key))
    (directory / "ca.key").chmod(0o600)
    (directory / "openssl.cnf").write_text(OPENSSL_CNF)
    return directory


def _openssl_recipe(algorithm: str, devices: int, workspace: Path, directory: Path, product_id: str) -> None:
    """The page's "Issue a device certificate with OpenSSL", once per device."""
    for number in range(devices):
        stem = f"dev_{number:02d}"
        if algorithm == EC:
            _openssl("ecparam", "-genkey", "-name", "prime256v1", "-out", f"{stem}.key", cwd=directory)
        else:
            _openssl("genrsa", "-out", f"{stem}.key", "2048", cwd=directory)
        _openssl(
            "req",
            "-new",
            "-key",
            f"{stem}.key",
            "-out",
            f"{stem}.csr",
            "-subj",
            f"/CN={product_id}{stem}",
            cwd=directory,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{stem}.csr",
            "-CA",
            str(workspace / "ca.crt"),
            "-CAkey",
            str(workspace / "ca.key"),
            "-CAcreateserial",
            "-out",
            f"{stem}.crt",
            "-days",
            "3650",
            "-sha512",
            "-extfile",
            str(workspace / "openssl.cnf"),
            "-extensions",
            "v3_req",
            cwd=directory,
        )


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(  # noqa: PLW1510  (the return code is checked)
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise BenchError(f"openssl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")


def _check_openssl_output(directory: Path, authority: platform.Authority) -> None:
    """The recipe really made client certificates from the same issuer (checked after timing)."""
    for path in sorted(directory.glob("*.crt")):
        certificate = x509.load_certificate(path.read_bytes())
        x509.verify_issued_by(certificate, authority.certificate, "OpenSSL device certificate")
        if not x509.allows_client_auth(certificate):
            raise BenchError(f"{path.name} from the OpenSSL recipe does not allow clientAuth")
