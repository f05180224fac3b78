"""Devices and the OpenSSL command line: the Add Device page's own recipe, run for real, and
what the console hands out (bundles, CSR certificates) checked by OpenSSL.

The CA is made once per module with the reference page's commands (`tests/openssl_recipes.py`)
and registered with a verification certificate that openssl made for the account's code.
The device certificate commands are read from the Add Device page itself and run verbatim.
"""

from __future__ import annotations

import html
import io
import re
import shlex
import shutil
import zipfile
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes

from certificates import services as ca_services
from certificates import x509
from products import services
from products.models import Device, Product
from tests.openssl_recipes import make_ca, make_verification_certificate, openssl
from tests.product_console import (
    CREATE_URL,
    add_url,
    assert_field_error,
    device_url,
    make_device,
    make_product,
    product_form,
    upload,
)
from tests.programs import require_program

pytestmark = [pytest.mark.interop, pytest.mark.django_db]

ROLE = "device certificate"


@pytest.fixture(scope="module")
def openssl_ca_dir(tmp_path_factory) -> Path:
    require_program("openssl", "the OpenSSL interop tests run the console page's recipes")
    directory = tmp_path_factory.mktemp("openssl-device-ca")
    # The page's steps with a 2048-bit key: test_interop_openssl_ca runs the 4096-bit one,
    # and a second 4096-bit key generation would only slow the suite down.
    make_ca(directory, key_bits=2048)
    return directory


@pytest.fixture
def workdir(openssl_ca_dir, tmp_path) -> Path:
    for name in ("ca.conf", "openssl.cnf", "ca.key", "ca.crt"):
        shutil.copy(openssl_ca_dir / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def product(signed_in_client, user, workdir) -> Product:
    """The openssl CA registered through the service, and a product made with the Create Product form."""
    code = ca_services.current_authentication_code(owner=user).code
    verification = make_verification_certificate(workdir, code)
    ca_services.register_ca_certificate(
        owner=user,
        name="Tencent_CA_Test",
        certificate_data=(workdir / "ca.crt").read_bytes(),
        verification_data=verification.read_bytes(),
    )
    response = signed_in_client.post(
        CREATE_URL, product_form(name="door-locks", ca_certificate="Tencent_CA_Test")
    )
    assert response.status_code == 302
    return Product.objects.get(owner=user, name="door-locks")


def page_recipe(client, product: Product) -> list[list[str]]:
    """The OpenSSL commands the Add Device page shows, as argument lists."""
    response = client.get(add_url(product))
    assert response.status_code == 200
    block = re.search(r'<pre class="pem mb-2">(.*?)</pre>', response.content.decode(), re.DOTALL)
    assert block, "the Add Device page shows no OpenSSL recipe"
    commands = [shlex.split(line) for line in html.unescape(block.group(1)).splitlines() if line.strip()]
    assert [command[:2] for command in commands] == [
        ["openssl", "genrsa"],
        ["openssl", "req"],
        ["openssl", "x509"],
    ]
    return commands


def run_recipe(commands: list[list[str]], workdir: Path, **replacements: str) -> None:
    for command in commands:
        openssl(*[replacements.get(argument, argument) for argument in command[1:]], cwd=workdir)


def post_certificate(client, product: Product, name: str, path: Path):
    return client.post(
        add_url(product), {"name": name, "device_certificate": upload(path.name, path.read_bytes())}
    )


def openssl_fingerprint(path: Path) -> str:
    output = openssl("x509", "-in", path.name, "-noout", "-fingerprint", "-sha256", cwd=path.parent)
    return output.strip().split("=", 1)[1].replace(":", "").lower()


def test_the_add_device_page_recipe_makes_a_certificate_the_console_accepts(
    signed_in_client, product, workdir
):
    commands = page_recipe(signed_in_client, product)
    assert f"/CN={product.product_id}dev_01" in commands[1]
    run_recipe(commands, workdir)
    assert "dev_01.crt: OK" in openssl("verify", "-CAfile", "ca.crt", "dev_01.crt", cwd=workdir)
    text = openssl("x509", "-in", "dev_01.crt", "-noout", "-text", cwd=workdir)
    assert "TLS Web Client Authentication" in text and "CA:FALSE" in text

    response = post_certificate(signed_in_client, product, "dev_01", workdir / "dev_01.crt")

    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    assert response["Location"] == f"/products/{product.product_id}/device/dev_01/"
    device = Device.objects.get(product=product)
    assert device.key_origin == Device.KeyOrigin.UPLOADED_CERTIFICATE
    assert device.certificate_fingerprint == openssl_fingerprint(workdir / "dev_01.crt")
    assert device.private_key_pem == ""
    stored = cx509.load_pem_x509_certificate(device.certificate_pem.encode())
    assert stored.signature_hash_algorithm.name == "sha512"


def test_recipe_for_another_device_name_is_refused(signed_in_client, product, workdir):
    run_recipe(page_recipe(signed_in_client, product), workdir)

    response = post_certificate(signed_in_client, product, "dev_02", workdir / "dev_01.crt")

    assert_field_error(
        response,
        "device_certificate",
        services.WRONG_COMMON_NAME.format(
            expected=f"{product.product_id}dev_02", actual=f"{product.product_id}dev_01"
        ),
    )
    assert not Device.objects.exists()


def test_recipe_with_a_1024_bit_key_is_refused(signed_in_client, product, workdir):
    run_recipe(page_recipe(signed_in_client, product), workdir, **{"2048": "1024"})

    response = post_certificate(signed_in_client, product, "dev_01", workdir / "dev_01.crt")

    assert_field_error(response, "device_certificate", x509.WEAK_RSA_KEY.format(role=ROLE, bits=1024))
    assert not Device.objects.exists()


def test_recipe_with_server_auth_extensions_is_refused(signed_in_client, product, workdir):
    with (workdir / "openssl.cnf").open("a") as config:
        config.write("\n[ v3_server ]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n")
    run_recipe(page_recipe(signed_in_client, product), workdir, v3_req="v3_server")

    response = post_certificate(signed_in_client, product, "dev_01", workdir / "dev_01.crt")

    assert_field_error(response, "device_certificate", x509.NO_CLIENT_AUTH.format(role=ROLE))
    assert not Device.objects.exists()


def test_certificate_from_another_openssl_ca_with_the_same_name_is_refused(
    signed_in_client, product, workdir, tmp_path_factory
):
    impostor = tmp_path_factory.mktemp("impostor-ca")
    make_ca(impostor, key_bits=2048)  # same ca.conf defaults, so the same subject name
    for name in ("ca.key", "ca.crt"):
        shutil.copy(impostor / name, workdir / name)
    run_recipe(page_recipe(signed_in_client, product), workdir)

    response = post_certificate(signed_in_client, product, "dev_01", workdir / "dev_01.crt")

    assert_field_error(response, "device_certificate", x509.SIGNATURE_MISMATCH.format(role=ROLE))
    assert not Device.objects.exists()


def test_platform_bundle_verifies_with_openssl(signed_in_client, user, tmp_path):
    require_program("openssl", "checks the bundle with the OpenSSL command line")
    product = make_product(user, "thermometers")
    device = make_device(product, "dev_01")

    response = signed_in_client.get(device_url(device, "device_bundle"))

    assert response.status_code == 200
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path)
    verified = openssl(
        "verify",
        "-CAfile",
        "root-ca.crt",
        "-untrusted",
        "device-ca.crt",
        "-purpose",
        "sslclient",
        "dev_01_cert.crt",
        cwd=tmp_path,
    )
    assert "dev_01_cert.crt: OK" in verified
    certificate_key = openssl("x509", "-in", "dev_01_cert.crt", "-noout", "-pubkey", cwd=tmp_path)
    private_key = openssl("pkey", "-in", "dev_01_private.key", "-pubout", cwd=tmp_path)
    assert certificate_key == private_key
    subject = openssl(
        "x509", "-in", "dev_01_cert.crt", "-noout", "-subject", "-nameopt", "RFC2253", cwd=tmp_path
    )
    assert subject.strip() == f"subject=CN={product.product_id}dev_01"


def test_openssl_csr_is_signed_for_the_platform_product(signed_in_client, user, tmp_path):
    require_program("openssl", "makes the device's CSR with the OpenSSL command line")
    product = make_product(user, "thermometers")
    openssl(
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "dev_01.key",
        "-out",
        "dev_01.csr",
        "-subj",
        f"/CN={product.product_id}dev_01",
        cwd=tmp_path,
    )

    response = signed_in_client.post(
        add_url(product),
        {
            "name": "dev_01",
            "certificate_source": "csr",
            "csr": upload("dev_01.csr", (tmp_path / "dev_01.csr").read_bytes()),
        },
    )

    assert response.status_code == 302
    device = Device.objects.get(product=product)
    assert device.key_origin == Device.KeyOrigin.CSR and device.private_key_pem == ""
    (tmp_path / "dev_01.crt").write_text(device.certificate_pem)
    assert openssl("x509", "-in", "dev_01.crt", "-noout", "-pubkey", cwd=tmp_path) == openssl(
        "pkey", "-in", "dev_01.key", "-pubout", cwd=tmp_path
    )
    stored = cx509.load_pem_x509_certificate(device.certificate_pem.encode())
    assert stored.fingerprint(hashes.SHA256()).hex() == device.certificate_fingerprint
