"""How much each measurement does, in a full run and in a quick one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Counts per repetition and repetitions per figure.

    RSA-2048 key generation time varies from key to key (it searches for primes), so
    the RSA figures need a couple of hundred keys per repetition to be steady.
    """

    name: str
    note: str
    ec_devices: int
    rsa_devices: int
    openssl_ec_devices: int
    openssl_rsa_devices: int
    ec_repetitions: int
    rsa_repetitions: int
    list_devices: int
    list_small: int
    list_requests: int
    upload_certificates: int
    upload_repetitions: int
    memory_devices: int
    serving_seconds: int
    serving_repetitions: int


FULL = Scale(
    name="FULL",
    note="the figures to quote",
    ec_devices=2_000,
    rsa_devices=200,
    openssl_ec_devices=30,
    openssl_rsa_devices=10,
    ec_repetitions=7,
    rsa_repetitions=3,
    list_devices=100_000,
    list_small=1_000,
    list_requests=50,
    upload_certificates=1_000,
    upload_repetitions=7,
    memory_devices=10_000,
    serving_seconds=10,
    serving_repetitions=3,
)
QUICK = Scale(
    name="QUICK",
    note="smaller counts and fewer repetitions: a smoke run, not figures to quote",
    ec_devices=300,
    rsa_devices=10,
    openssl_ec_devices=5,
    openssl_rsa_devices=3,
    ec_repetitions=3,
    rsa_repetitions=3,
    list_devices=10_000,
    list_small=1_000,
    list_requests=20,
    upload_certificates=200,
    upload_repetitions=3,
    memory_devices=2_000,
    serving_seconds=3,
    serving_repetitions=1,
)
