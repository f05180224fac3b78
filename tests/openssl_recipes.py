"""The console page's own OpenSSL recipes (reference/certificate-management.txt), run for real.

Shared by the interop tests and the broker tests, so that "made with the page's
commands" means the same commands everywhere.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

# Step 1 of "Generating testing CA certificate", verbatim.
CA_CONF = """\
[ req ]
default_bits = 4096
distinguished_name = req_distinguished_name

[ req_distinguished_name ]
countryName = Country Name (2 letter code)
countryName_default = CN
stateOrProvinceName = State or Province Name (full name)
stateOrProvinceName_default = Tencent
localityName = Locality Name (eg, city)
localityName_default = Shenzhen
organizationName = Organization Name (eg, company)
organizationName_default = Tencent IoT
commonName = Common Name (e.g. server FQDN or YOUR name)
commonName_max = 64
commonName_default = Tencent CA Test
"""

# The openssl.cnf that the CA and device recipes name but the page does not show:
# the usual v3_ca and v3_req sections.
OPENSSL_CNF = """\
[ v3_ca ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign,digitalSignature

[ v3_req ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
"""


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
