"""The console page's own OpenSSL recipes, run for real, make a CA the console accepts.

The CA is made once per module with the exact commands of the page we mimic
(`reference/certificate-management.txt`, run by `tests/openssl_recipes.py`): its
`ca.conf` verbatim, a 4096-bit key, a CSR that takes the config's defaults, and a
self-signed certificate with the `v3_ca` extensions. Each test then reads the
authentication code from the Add Certificate page, makes the verification certificate
with the page's commands and uploads both files through the form.
"""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from certificates.models import AuthenticationCode, CACertificate
from tests.certificate_console import ADD_URL, LIST_URL
from tests.openssl_recipes import make_ca, make_verification_certificate, openssl
from tests.programs import require_program

pytestmark = [pytest.mark.interop, pytest.mark.django_db]

CA_FILES = ("ca.conf", "openssl.cnf", "ca.key", "ca.csr", "ca.crt")


@pytest.fixture(scope="module")
def openssl_ca_dir(tmp_path_factory) -> Path:
    """ca.conf, openssl.cnf, ca.key, ca.csr and ca.crt, made once by the page's steps 1–4."""
    require_program("openssl", "the OpenSSL interop tests run the console page's recipes")
    directory = tmp_path_factory.mktemp("openssl-ca")
    make_ca(directory, key_bits=4096)
    return directory


@pytest.fixture
def workdir(openssl_ca_dir, tmp_path) -> Path:
    """A fresh directory holding a copy of the module's CA files."""
    for name in CA_FILES:
        shutil.copy(openssl_ca_dir / name, tmp_path / name)
    return tmp_path


class _InputValue(HTMLParser):
    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.values: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("id") == self.element_id:
            self.values.append(attributes.get("value"))


def authentication_code_on_add_page(client) -> str:
    """The code in the Add Certificate page's Authentication Code input, as a user copies it."""
    response = client.get(ADD_URL)
    assert response.status_code == 200
    parser = _InputValue("id_authentication_code")
    parser.feed(response.content.decode())
    assert len(parser.values) == 1, "the page should have exactly one Authentication Code input"
    code = parser.values[0]
    assert code and len(code) == 64
    return code


def post_files(client, ca_path: Path, verification_path: Path, name: str):
    return client.post(
        ADD_URL,
        {
            "name": name,
            "ca_certificate": SimpleUploadedFile(ca_path.name, ca_path.read_bytes()),
            "verification_certificate": SimpleUploadedFile(
                verification_path.name, verification_path.read_bytes()
            ),
        },
    )


def openssl_fingerprint(workdir: Path) -> str:
    # "sha256 Fingerprint=AB:CD:…" (OpenSSL 3) or "SHA256 Fingerprint=…" (1.1)
    output = openssl("x509", "-in", "ca.crt", "-noout", "-fingerprint", "-sha256", cwd=workdir)
    return output.strip().split("=", 1)[1].replace(":", "").lower()


def openssl_serial(workdir: Path) -> str:
    output = openssl("x509", "-in", "ca.crt", "-noout", "-serial", cwd=workdir)
    return output.strip().split("=", 1)[1].upper()


def assert_registered(client, user, workdir: Path, code: str, response, name: str) -> None:
    if response.status_code != 302:
        form = response.context["form"] if response.context else None
        pytest.fail(f"the upload was refused: {form.errors if form else response.status_code}")
    assert response["Location"] == LIST_URL
    stored = CACertificate.objects.get(owner=user)
    assert stored.name == name
    assert stored.common_name == "Tencent CA Test"
    assert stored.subject == "CN=Tencent CA Test,O=Tencent IoT,L=Shenzhen,ST=Tencent,C=CN"
    assert stored.key_description == "RSA 4096"
    assert stored.signature_hash.lower() == "sha256"
    assert stored.fingerprint_sha256 == openssl_fingerprint(workdir)
    assert stored.serial_hex.lstrip("0") == openssl_serial(workdir).lstrip("0")
    assert stored.is_self_signed
    assert AuthenticationCode.objects.get(owner=user, code=code).used_at is not None

    page = client.get(LIST_URL)
    assert page.status_code == 200
    content = page.content.decode()
    assert f'<a href="{stored.get_absolute_url()}">{escape(name)}</a>' in content
    assert "Tencent CA Test" in content
    assert escape(f'CA certificate "{name}" was added.') in content


def test_page_recipe_pem_crt_files_register_the_ca(signed_in_client, user, workdir):
    code = authentication_code_on_add_page(signed_in_client)
    verification = make_verification_certificate(workdir, code)
    # What the page's commands made really chains, by OpenSSL's own judgement.
    assert "verificationCert.crt: OK" in openssl(
        "verify", "-CAfile", "ca.crt", "verificationCert.crt", cwd=workdir
    )

    response = post_files(signed_in_client, workdir / "ca.crt", verification, "Tencent_CA_Test")

    assert_registered(signed_in_client, user, workdir, code, response, "Tencent_CA_Test")


def test_page_recipe_with_der_output_in_cer_files_is_accepted(signed_in_client, user, workdir):
    openssl("x509", "-in", "ca.crt", "-outform", "DER", "-out", "ca.cer", cwd=workdir)
    code = authentication_code_on_add_page(signed_in_client)
    make_verification_certificate(workdir, code)
    # The page's signing step again, for the same CSR, with DER output.
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
        "verificationCert.cer",
        "-days",
        "300",
        "-sha512",
        "-outform",
        "DER",
        cwd=workdir,
    )
    verification = workdir / "verificationCert.cer"
    assert not (workdir / "ca.cer").read_bytes().startswith(b"-----")
    assert not verification.read_bytes().startswith(b"-----")

    response = post_files(signed_in_client, workdir / "ca.cer", verification, "der-ca")

    assert_registered(signed_in_client, user, workdir, code, response, "der-ca")


def test_openssl_text_output_before_the_pem_is_accepted(signed_in_client, user, workdir):
    openssl("x509", "-text", "-in", "ca.crt", "-out", "ca-text.pem", cwd=workdir)
    text = (workdir / "ca-text.pem").read_text()
    assert text.startswith("Certificate:")
    assert "-----BEGIN CERTIFICATE-----" in text
    code = authentication_code_on_add_page(signed_in_client)
    make_verification_certificate(workdir, code)
    openssl("x509", "-text", "-in", "verificationCert.crt", "-out", "verificationCert-text.pem", cwd=workdir)

    response = post_files(
        signed_in_client, workdir / "ca-text.pem", workdir / "verificationCert-text.pem", "ca@text"
    )

    assert_registered(signed_in_client, user, workdir, code, response, "ca@text")
