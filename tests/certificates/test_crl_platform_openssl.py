"""The Platform CA's CRL, served without sign-in, as the real OpenSSL command line checks it."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from lifecycle.models import PlatformCRL
from lifecycle.views import CRL_NOT_HELD, NO_CRL_FOR_KEY_PRODUCT
from products import platform

from ..broker.link_service import custom_ca_device, key_device, platform_device
from ..lifecycle_console import lifecycle_url
from ..openssl_recipes import openssl
from ..product_console import assert_message
from ..programs import require_program

pytestmark = pytest.mark.django_db

DEVICE_CRL_URL = "/crl/device.crl"


def write(directory: Path, name: str, data: str | bytes) -> str:
    path = directory / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return name


def verify(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510  (the tests read the return code)
        ["openssl", "verify", *args], cwd=directory, capture_output=True, text=True, timeout=60
    )


def test_openssl_accepts_a_good_device_and_rejects_the_revoked_one(signed_in_client, client, user, tmp_path):
    require_program("openssl", "verifies the CRL the console signs")
    good, revoked = platform_device(user, name="dev_good"), platform_device(user, "other", name="dev_bad")
    signed_in_client.post(lifecycle_url(revoked, "revoke"), {"reason": "keyCompromise"})
    client.logout()

    response = client.get(DEVICE_CRL_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    write(tmp_path, "device.crl", response.content)
    openssl("crl", "-inform", "DER", "-in", "device.crl", "-out", "device-crl.pem", cwd=tmp_path)
    write(tmp_path, "device-ca.crt", platform.device_ca().certificate_pem)
    write(tmp_path, "chain.pem", platform.device_ca().certificate_pem + platform.root_ca().certificate_pem)
    checked = subprocess.run(  # noqa: PLW1510
        ["openssl", "crl", "-in", "device-crl.pem", "-CAfile", "device-ca.crt", "-noout"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "verify OK" in checked.stderr + checked.stdout
    listed = openssl("crl", "-in", "device-crl.pem", "-noout", "-text", cwd=tmp_path)
    assert f"Serial Number: {revoked.certificate_serial_hex}" in listed
    assert "Key Compromise" in listed
    write(tmp_path, "good.crt", good.certificate_pem)
    write(tmp_path, "revoked.crt", revoked.certificate_pem)

    accepted = verify(
        tmp_path, "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "device-crl.pem", "good.crt"
    )
    rejected = verify(
        tmp_path, "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "device-crl.pem", "revoked.crt"
    )

    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "good.crt: OK" in accepted.stdout
    assert rejected.returncode != 0
    assert "certificate revoked" in rejected.stdout + rejected.stderr


def test_the_whole_chain_checks_with_the_root_crl_too(client, user, tmp_path):
    require_program("openssl", "verifies the CRLs the console signs")
    device = platform_device(user)
    for kind in ("root", "device"):
        response = client.get(f"/crl/{kind}.crl")
        assert response.status_code == 200
        write(tmp_path, f"{kind}.crl", response.content)
        openssl("crl", "-inform", "DER", "-in", f"{kind}.crl", "-out", f"{kind}-crl.pem", cwd=tmp_path)
    (tmp_path / "crls.pem").write_text(
        (tmp_path / "root-crl.pem").read_text() + (tmp_path / "device-crl.pem").read_text()
    )
    write(tmp_path, "chain.pem", platform.device_ca().certificate_pem + platform.root_ca().certificate_pem)
    write(tmp_path, "device.crt", device.certificate_pem)

    result = verify(tmp_path, "-crl_check_all", "-CAfile", "chain.pem", "-CRLfile", "crls.pem", "device.crt")

    assert result.returncode == 0, result.stdout + result.stderr


@override_settings(IOTHUB_PUBLIC_URL="https://iot.example.com")
def test_issued_certificates_name_the_crl_in_their_distribution_points(user):
    device = platform_device(user)

    certificate = cx509.load_pem_x509_certificate(device.certificate_pem.encode())
    points = certificate.extensions.get_extension_for_class(cx509.CRLDistributionPoints).value

    assert [name.value for point in points for name in point.full_name] == [
        f"https://iot.example.com{DEVICE_CRL_URL}"
    ]


def test_unknown_crl_names_are_404(client):
    assert client.get("/crl/other.crl").status_code == 404
    assert client.get("/crl/device.pem").status_code == 404


def test_a_crl_near_its_next_update_is_signed_again_before_it_is_served(client, user):
    client.get(DEVICE_CRL_URL)
    # Signed six and a half days ago: half a day before its nextUpdate.
    PlatformCRL.objects.filter(kind="device").update(
        this_update=timezone.now() - timedelta(days=6, hours=12),
        next_update=timezone.now() + timedelta(hours=12),
    )
    stored = PlatformCRL.objects.get(kind="device")

    response = client.get(DEVICE_CRL_URL)

    fresh = PlatformCRL.objects.get(kind="device")
    assert fresh.number == stored.number + 1
    assert fresh.next_update > stored.next_update
    assert response.content == bytes(fresh.der)
    crl = cx509.load_der_x509_crl(response.content)
    assert crl.next_update_utc == fresh.next_update


def test_a_fresh_crl_is_served_as_stored(client):
    first = client.get(DEVICE_CRL_URL).content

    second = client.get(DEVICE_CRL_URL).content

    assert first == second
    assert PlatformCRL.objects.get(kind="device").number == 1


def test_product_settings_download_the_platform_device_crl(signed_in_client, client, user):
    device = platform_device(user)
    page = signed_in_client.get(device.product.get_absolute_url())
    assert "Download CRL" in page.content.decode()

    downloaded = signed_in_client.get(reverse("lifecycle:product_crl", args=[device.product.product_id]))

    assert downloaded.status_code == 200
    assert downloaded["Content-Disposition"] == 'attachment; filename="platform-device-ca.crl"'
    assert downloaded.content == client.get(DEVICE_CRL_URL).content == bytes(PlatformCRL.objects.get().der)


def test_a_custom_ca_product_without_an_uploaded_crl_says_where_to_upload_one(signed_in_client, user):
    device, _ = custom_ca_device(user)
    name = device.product.ca_certificate.name

    response = signed_in_client.get(
        reverse("lifecycle:product_crl", args=[device.product.product_id]), follow=True
    )

    assert_message(response, CRL_NOT_HELD.format(name=name))
    assert "Download CRL" not in response.content.decode()


def test_a_key_product_has_no_crl(signed_in_client, user):
    device = key_device(user)

    response = signed_in_client.get(
        reverse("lifecycle:product_crl", args=[device.product.product_id]), follow=True
    )

    assert_message(response, NO_CRL_FOR_KEY_PRODUCT)


def test_another_accounts_product_crl_is_404(client, user, other_user):
    device = platform_device(other_user)
    client.force_login(user)

    assert client.get(reverse("lifecycle:product_crl", args=[device.product.product_id])).status_code == 404
