"""3. A batch upload of device certificates from the user's own CA, against a bare check loop.

The CA, the device keys and certificates are made before any timing; the bare loop
does only what any upload must: load each PEM and verify its signature with the CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import AbstractBaseUser

from batches.models import DeviceBatch
from batches.services import run_batch, start_batch
from certificates import issuance, x509
from products.models import Device

from . import fixtures
from .report import BenchError, Sample, seconds


@dataclass(frozen=True)
class UploadResult:
    certificates: int
    batch: Sample
    bare: Sample
    paired_ratios: Sample

    @property
    def batch_over_bare(self) -> float:
        return self.batch.median / self.bare.median


def measure(owner: AbstractBaseUser, count: int, repetitions: int) -> UploadResult:
    own_ca = fixtures.custom_ca_product(owner, "bench-upload")
    files = device_certificates(own_ca, count)
    batch_rates, bare_rates = [], []
    for _ in range(repetitions):
        batch_rates.append(count / _timed_batch(owner, own_ca, files))
        bare_rates.append(count / seconds(lambda: _bare_loop(own_ca, files)))
    return UploadResult(
        certificates=count,
        batch=Sample(tuple(batch_rates)),
        bare=Sample(tuple(bare_rates)),
        paired_ratios=Sample(tuple(b / r for b, r in zip(batch_rates, bare_rates, strict=True))),
    )


def device_certificates(own_ca: fixtures.OwnCA, count: int) -> list[tuple[str, bytes]]:
    """What the user's ZIP holds: one EC client certificate per device, CN = Product ID + name."""
    now = datetime.now(UTC)
    files = []
    for number in range(count):
        name = f"meter-{number:05d}"
        certificate = issuance.issue_client_certificate(
            f"{own_ca.product.product_id}{name}",
            ec.generate_private_key(ec.SECP256R1()).public_key(),
            own_ca.certificate,
            own_ca.private_key,
            now,
        )
        files.append((f"{name}.crt", x509.to_pem(certificate).encode("ascii")))
    return files


def _timed_batch(owner: AbstractBaseUser, own_ca: fixtures.OwnCA, files: list[tuple[str, bytes]]) -> float:
    product = own_ca.product
    batch = start_batch(
        owner=owner,
        product=product,
        kind=DeviceBatch.Kind.CERTIFICATES,
        certificates=files,
        source_name="devices.zip",
    )
    elapsed = seconds(lambda: run_batch(batch.pk))
    batch.refresh_from_db()
    if batch.status != DeviceBatch.Status.SUCCEEDED or batch.processed != len(files) or batch.failed:
        raise BenchError(
            f"certificate batch ended {batch.status} with {batch.processed} processed, {batch.failed} failed: {batch.error}"
        )
    stored = Device.objects.filter(product=product).exclude(certificate_fingerprint="").count()
    if stored != len(files):
        raise BenchError(f"certificate batch stored {stored} devices, not {len(files)}")
    # The same certificates go in again next repetition: each may serve one device only.
    Device.objects.filter(product=product).delete()
    return elapsed


def _bare_loop(own_ca: fixtures.OwnCA, files: list[tuple[str, bytes]]) -> None:
    for _, data in files:
        x509.load_certificate(data).verify_directly_issued_by(own_ca.certificate)
