"""The Add Certificate page's CA recipe, with the ca.conf and openssl.cnf it offers, makes a CA
the console accepts, by the real openssl."""

from __future__ import annotations

import html
import re
import shlex
from pathlib import Path

import pytest
from cryptography import x509 as cx509

from certificates.models import CACertificate
from tests.certificate_console import ADD_URL, LIST_URL, current_code, post_add, upload
from tests.openssl_recipes import make_device_certificate, make_verification_certificate, openssl
from tests.programs import require_program

pytestmark = [pytest.mark.interop, pytest.mark.django_db]


def downloads_offered(page: str) -> dict[str, str]:
    """{file name: URL} of the page's links with a `download` file name."""
    return {name: url for url, name in re.findall(r'<a href="([^"]+)" download="([^"]+)"', page)}


def ca_recipe(page: str) -> list[str]:
    """The commands of the "Generating a testing CA certificate" card, one per line."""
    card = page.split("<h2>Generating a testing CA certificate</h2>", 1)[1]
    commands = re.search(r'<pre class="pem mb-2">(.*?)</pre>', card, re.DOTALL).group(1)
    return html.unescape(commands).splitlines()


def test_add_page_offers_ca_conf_and_openssl_cnf(signed_in_client):
    page = signed_in_client.get(ADD_URL).content.decode()

    offered = downloads_offered(page)
    assert set(offered) == {"ca.conf", "openssl.cnf"}
    openssl_cnf = b"".join(signed_in_client.get(offered["openssl.cnf"]).streaming_content).decode()
    assert "[ v3_ca ]" in openssl_cnf and "[ v3_req ]" in openssl_cnf
    ca_conf = b"".join(signed_in_client.get(offered["ca.conf"]).streaming_content).decode()
    assert "commonName_default = Tencent CA Test" in ca_conf


def test_the_pages_ca_recipe_makes_a_ca_the_console_accepts(signed_in_client, user, tmp_path: Path):
    require_program("openssl", "the Add Certificate page's recipe is run with the real openssl")
    page = signed_in_client.get(ADD_URL).content.decode()
    for name, url in downloads_offered(page).items():
        (tmp_path / name).write_bytes(b"".join(signed_in_client.get(url).streaming_content))

    for command in ca_recipe(page):
        arguments = shlex.split(command)
        assert arguments[0] == "openssl"
        # -batch takes ca.conf's defaults, as pressing Enter at each prompt would.
        openssl(*arguments[1:], *(["-batch"] if arguments[1] == "req" else []), cwd=tmp_path)
    ca = cx509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    assert ca.extensions.get_extension_for_class(cx509.BasicConstraints).value.ca
    verification = make_verification_certificate(tmp_path, current_code(user))

    response = post_add(
        signed_in_client,
        name="recipe_ca",
        ca_file=upload("ca.crt", (tmp_path / "ca.crt").read_bytes()),
        verification_file=upload("verificationCert.crt", verification.read_bytes()),
    )

    assert response.status_code == 302 and response["Location"] == LIST_URL
    stored = CACertificate.objects.get(owner=user, name="recipe_ca")
    assert stored.common_name == "Tencent CA Test"
    listing = signed_in_client.get(LIST_URL).content.decode()
    assert 'CA certificate "recipe_ca" was added.' in html.unescape(listing)

    # The same openssl.cnf's v3_req makes client-authentication device certificates.
    certificate_path, _ = make_device_certificate(tmp_path, "PRODUCT1dev_01")
    device = cx509.load_pem_x509_certificate(certificate_path.read_bytes())
    usage = device.extensions.get_extension_for_class(cx509.ExtendedKeyUsage).value
    assert cx509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in usage
    device.verify_directly_issued_by(ca)
