"""A CRL made by `openssl ca -gencrl` for a CA made by the console's own recipe is accepted and cuts its device."""

from __future__ import annotations

import pytest
from django.urls import reverse

from broker import decisions
from certificates import services as ca_services
from lifecycle.models import RevokedCertificate, UploadedCRL

from ..lifecycle_console import connect
from ..openssl_recipes import make_ca, make_device_certificate, make_verification_certificate, openssl
from ..product_console import make_device, make_product, upload
from ..programs import require_program

pytestmark = pytest.mark.django_db

# What `openssl ca` needs to revoke and to sign CRLs: its database and CRL number files.
CRL_CONF = """\
[ ca ]
default_ca = test_ca

[ test_ca ]
dir = .
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_crl_days = 30
"""


def test_openssl_gencrl_crl_is_accepted_and_revokes_its_device(signed_in_client, client, user, tmp_path):
    require_program("openssl", "makes the customer's CA and its CRL")
    make_ca(tmp_path, key_bits=2048)
    code = ca_services.current_authentication_code(owner=user).code
    verification = make_verification_certificate(tmp_path, code)
    ca_certificate = ca_services.register_ca_certificate(
        owner=user,
        name="openssl_ca",
        certificate_data=(tmp_path / "ca.crt").read_bytes(),
        verification_data=verification.read_bytes(),
    )
    product = make_product(user, "sensors", ca_certificate=ca_certificate)
    revoked_crt, _ = make_device_certificate(tmp_path, f"{product.product_id}dev_01", "dev_01")
    kept_crt, _ = make_device_certificate(tmp_path, f"{product.product_id}dev_02", "dev_02")
    revoked = make_device(product, "dev_01", certificate_data=revoked_crt.read_bytes())
    kept = make_device(product, "dev_02", certificate_data=kept_crt.read_bytes())
    (tmp_path / "crl.conf").write_text(CRL_CONF)
    (tmp_path / "index.txt").write_text("")
    (tmp_path / "crlnumber").write_text("1000\n")
    openssl(
        "ca", "-config", "crl.conf", "-revoke", "dev_01.crt", "-crl_reason", "keyCompromise", cwd=tmp_path
    )
    openssl("ca", "-config", "crl.conf", "-gencrl", "-out", "ca.crl", cwd=tmp_path)

    response = signed_in_client.post(
        reverse("lifecycle:ca_crl_upload", args=[ca_certificate.pk]),
        {"crl_file": upload("ca.crl", (tmp_path / "ca.crl").read_bytes())},
    )

    assert response.status_code == 302
    held = UploadedCRL.objects.get(ca_certificate=ca_certificate)
    assert (held.number, held.revoked_count) == (0x1000, 1)
    revocation = RevokedCertificate.objects.get()
    assert (revocation.device, revocation.reason) == (revoked, "keyCompromise")
    assert connect(client, revoked, revoked_crt.read_bytes())["code"] == decisions.CERTIFICATE_REVOKED
    assert connect(client, kept, kept_crt.read_bytes())["result"] == "allow"
