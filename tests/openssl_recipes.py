"""The console page's own OpenSSL recipes (reference/certificate-management.txt), run for real.

Shared by the interop tests and the broker tests, so that "made with the page's
commands" means the same commands everywhere.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

# The files the Add Certificate page offers with its recipe (static/recipes/): ca.conf
# is step 1 of "Generating testing CA certificate" verbatim; openssl.cnf holds the
# v3_ca and v3_req sections that the CA and device recipes name but the page we
# mimic does not show.
RECIPES = Path(__file__).resolve().parent.parent / "static" / "recipes"
CA_CONF = (RECIPES / "ca.conf").read_text()
OPENSSL_CNF = (RECIPES / "openssl.cnf").read_text()


def openssl(*args: str, cwd: Path) -> str:
    """Run `openssl args…` in `cwd`; fail the test with openssl's own words if it fails."""
    result = subprocess.run(  # noqa: PLW1510  (the return code is checked)
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(f"openssl {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def make_ca(directory: Path, key_bits: int = 4096) -> Path:
    """ca.key and ca.crt by "Generating testing CA certificate" steps 1–4."""
    (directory / "ca.conf").write_text(CA_CONF)
    (directory / "openssl.cnf").write_text(OPENSSL_CNF)
    openssl("genrsa", "-out", "ca.key", str(key_bits), cwd=directory)
    # -batch takes the config's defaults, as pressing Enter at each prompt would.
    openssl(
        "req",
        "-new",
        "-sha256",
        "-out",
        "ca.csr",
        "-key",
        "ca.key",
        "-config",
        "ca.conf",
        "-batch",
        cwd=directory,
    )
    openssl(
        "x509",
        "-req",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        "openssl.cnf",
        "-extensions",
        "v3_ca",
        "-in",
        "ca.csr",
        "-signkey",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=directory,
    )
    return directory / "ca.crt"


def make_verification_certificate(directory: Path, code: str) -> Path:
    """verificationCert.crt by "Generating authentication certificate", CN = the code."""
    openssl("genrsa", "-out", "verificationCert.key", "2048", cwd=directory)
    openssl(
        "req",
        "-new",
        "-key",
        "verificationCert.key",
        "-out",
        "verificationCert.csr",
        "-subj",
        f"/CN={code}",
        cwd=directory,
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "verificationCert.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "verificationCert.crt",
        "-days",
        "300",
        "-sha512",
        cwd=directory,
    )
    return directory / "verificationCert.crt"


def make_device_certificate(directory: Path, common_name: str, stem: str = "dev_01") -> tuple[Path, Path]:
    """<stem>.key and <stem>.crt by "Issuing device certificate and private key"."""
    if not (directory / "openssl.cnf").exists():
        (directory / "openssl.cnf").write_text(OPENSSL_CNF)
    openssl("genrsa", "-out", f"{stem}.key", "2048", cwd=directory)
    openssl(
        "req",
        "-new",
        "-key",
        f"{stem}.key",
        "-out",
        f"{stem}.csr",
        "-subj",
        f"/CN={common_name}",
        cwd=directory,
    )
    openssl(
        "x509",
        "-req",
        "-in",
        f"{stem}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        f"{stem}.crt",
        "-days",
        "3650",
        "-sha512",
        "-extfile",
        "openssl.cnf",
        "-extensions",
        "v3_req",
        cwd=directory,
    )
    return directory / f"{stem}.crt", directory / f"{stem}.key"
