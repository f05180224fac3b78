"""Certificate Health: each finding kind, newest problem first, per account, with the sidebar badge."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certificates import health
from certificates.models import CACertificate
from lifecycle import services as lifecycle
from lifecycle.models import RevokedCertificate
from products import services
from products.models import Device, Product
from tests import pki
from tests.api_support import links, visible_text
from tests.product_console import make_device, make_product, register_ca

pytestmark = pytest.mark.django_db
URL = "/certificate-health/"


@pytest.fixture(autouse=True)
def fresh_badge_counts():
    # The badge count is cached for a minute per account; ids repeat across tests.
    cache.clear()
    yield
    cache.clear()


def ca_valid_for(user, days: float, name: str, slot: int = 0) -> CACertificate:
    now = datetime.now(UTC)
    ca = pki.make_ca(
        f"{name} CA",
        key=pki.ec_key(),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=days),
    )
    return register_ca(user, ca, name)


def findings(html: str) -> list[tuple[str, str]]:
    """(finding, object) of each table row, top to bottom."""
    if 'aria-label="Certificate Health findings"' not in html:
        return []
    body = html.split('aria-label="Certificate Health findings"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]
    cells = [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in rows
    ]
    return [(row[0], row[1]) for row in cells]


def test_a_ca_expiring_in_ten_days_is_found_and_a_healthy_ten_year_ca_is_not(signed_in_client, user):
    ca_valid_for(user, 10, "short_lived")
    ca_valid_for(user, 3650, "long_lived")
    response = signed_in_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert findings(html) == [("CA certificate expiring", "short_lived")]
    assert (f"/certificates/{CACertificate.objects.get(name='short_lived').pk}/", "short_lived") in links(
        html
    )
    text = visible_text(html)
    assert "1 CA certificate expiring" in text
    expires = CACertificate.objects.get(name="short_lived").not_after
    assert f"Expires {expires:%Y-%m-%d} UTC" in text


def test_the_sidebar_link_carries_a_badge_only_when_there_are_findings(signed_in_client, user):
    ca_valid_for(user, 3650, "long_lived")
    html = signed_in_client.get("/products/").content.decode()
    assert (URL, "Certificate Health") in links(html)
    assert "health-badge" not in html
    cache.clear()
    ca_valid_for(user, 10, "short_lived")
    html = signed_in_client.get("/products/").content.decode()
    assert re.search(r'data-testid="health-badge" title="1 finding\(s\)">1</span>', html)


def test_device_certificates_expired_and_expiring_newest_problem_first(signed_in_client, user):
    product = make_product(user, "platform")
    now = timezone.now()
    for name, days in (
        ("gone_long_ago", -40),
        ("gone_yesterday", -1),
        ("soon", 5),
        ("later", 25),
        ("fine", 400),
    ):
        device = make_device(product, name)
        Device.objects.filter(pk=device.pk).update(certificate_not_after=now + timedelta(days=days))
    html = signed_in_client.get(URL).content.decode()
    # Expired: since its end date; expiring: since it came within 30 days of it.
    assert findings(html) == [
        ("Device certificate expired", "platform / gone_yesterday"),  # began 1 day ago
        ("Device certificate expiring", "platform / later"),  # 5 days ago (25 days left)
        ("Device certificate expiring", "platform / soon"),  # 25 days ago (5 days left)
        ("Device certificate expired", "platform / gone_long_ago"),  # 40 days ago
    ]
    assert (f"/products/{product.product_id}/device/soon/", "platform / soon") in links(html)
    report = health.health_report(owner=user)
    assert report.counts == {health.Kind.DEVICE_EXPIRED: 2, health.Kind.DEVICE_EXPIRING: 2}


def test_an_expired_ca_still_bound_to_products(signed_in_client, user):
    ca = register_ca(user, pki.make_ca("Bound CA", key=pki.ec_key()), "bound_ca")
    make_product(user, "uses_it", ca_certificate=ca)
    # Registration refuses an expired CA, so time passes for this one in the database.
    CACertificate.objects.filter(pk=ca.pk).update(not_after=timezone.now() - timedelta(days=2))
    text = visible_text(signed_in_client.get(URL).content.decode())
    assert "Expired CA bound to products" in text
    assert "1 product(s) still use it" in text


def test_weak_keys_and_sha1_signatures_among_registered_cas(signed_in_client, user):
    weak = register_ca(user, pki.make_ca("Weak CA", key=pki.ec_key()), "weak_ca")
    sha1 = register_ca(user, pki.make_ca("Old CA", key=pki.ec_key()), "sha1_ca")
    # Stored before today's rules refused them: written as an older console stored them.
    CACertificate.objects.filter(pk=weak.pk).update(key_description="RSA 1024")
    CACertificate.objects.filter(pk=sha1.pk).update(signature_hash="sha1")
    html = signed_in_client.get(URL).content.decode()
    assert sorted(findings(html)) == [("SHA-1 or MD5 signature", "sha1_ca"), ("Weak key", "weak_ca")]
    assert "RSA 1024" in visible_text(html) and "Signed with SHA1" in visible_text(html)


def test_key_devices_whose_psk_is_older_than_a_year(signed_in_client, user):
    product = make_product(user, "keyed", auth_method=Product.AuthMethod.KEY)
    old, new = make_device(product, "old_psk"), make_device(product, "new_psk")
    assert new.psk_updated is not None
    Device.objects.filter(pk=old.pk).update(psk_updated=timezone.now() - timedelta(days=400))
    assert findings(signed_in_client.get(URL).content.decode()) == [
        ("PSK older than a year", "keyed / old_psk")
    ]


def test_the_broker_server_certificate_expiring(signed_in_client, user, settings, tmp_path):
    settings.IOTHUB_BROKER_DIR = tmp_path
    root = pki.make_ca("Broker Root", key=pki.ec_key())
    server = pki.make_leaf("127.0.0.1", root, not_after=datetime.now(UTC) + timedelta(days=3))
    (tmp_path / "server.crt").write_bytes(server.pem)
    html = signed_in_client.get(URL).content.decode()
    assert findings(html) == [("Broker server certificate expiring", "Broker server certificate")]


def test_another_account_sees_none_of_these(client, user, other_user):
    ca_valid_for(user, 10, "short_lived")
    make_device(make_product(user, "platform"), "d1")
    Device.objects.update(certificate_not_after=timezone.now() + timedelta(days=3))
    client.force_login(other_user)
    html = client.get(URL).content.decode()
    assert findings(html) == []
    assert "No findings" in visible_text(html)
    assert "health-badge" not in html


def test_the_page_reads_a_fixed_number_of_queries_whatever_the_findings(
    signed_in_client, user, django_assert_max_num_queries
):
    product = make_product(user, "platform")
    for number in range(30):
        make_device(product, f"d{number}")
    Device.objects.update(certificate_not_after=timezone.now() + timedelta(days=3))
    signed_in_client.get(URL)  # the badge's count is now cached
    with django_assert_max_num_queries(10):
        html = signed_in_client.get(URL).content.decode()
    assert len(findings(html)) == 20
    assert "The 20 newest of 30 are listed." in visible_text(html)


def test_a_revoked_but_enabled_device_is_found_until_it_is_disabled(signed_in_client, user):
    product = make_product(user, "platform")
    device = make_device(product, "stolen")
    lifecycle.revoke_certificate(device=device, reason=RevokedCertificate.Reason.KEY_COMPROMISE)
    html = signed_in_client.get(URL).content.decode()
    assert findings(html) == [("Revoked certificate, device still enabled", "platform / stolen")]
    assert "(Key compromise)" in visible_text(html)
    assert (f"/products/{product.product_id}/device/stolen/", "platform / stolen") in links(html)

    services.set_devices_enabled(product=product, names=["stolen"], enabled=False)
    assert findings(signed_in_client.get(URL).content.decode()) == []


def test_the_newest_problems_of_every_device_kind_come_first_from_five_queries(signed_in_client, user):
    """25 of each device kind, their problems an hour or so apart: the 20 newest interleave the kinds."""
    now = timezone.now()
    platform = make_product(user, "platform")
    keyed = make_product(user, "keyed", auth_method=Product.AuthMethod.KEY)
    per_kind = 25
    for number in range(per_kind):
        hours = 2 * number
        expired, expiring = make_device(platform, f"e{number}"), make_device(platform, f"x{number}")
        revoked, old_psk = make_device(platform, f"r{number}"), make_device(keyed, f"k{number}")
        # When each problem began: expired 1 h ago (+2 h each), revoked 1.25 h, PSK 1.5 h, expiring 2 h.
        Device.objects.filter(pk=expired.pk).update(certificate_not_after=now - timedelta(hours=hours + 1))
        Device.objects.filter(pk=expiring.pk).update(
            certificate_not_after=now + timedelta(days=30) - timedelta(hours=hours + 2)
        )
        Device.objects.filter(pk=old_psk.pk).update(
            psk_updated=now - timedelta(days=365) - timedelta(hours=hours + 1.5)
        )
        lifecycle.revoke_certificate(device=revoked, reason=RevokedCertificate.Reason.KEY_COMPROMISE)
        RevokedCertificate.objects.filter(device=revoked).update(
            revoked_at=now - timedelta(hours=hours + 1.25)
        )

    # Session, account, the device counts, the newest rows of each kind, the CAs; the
    # sidebar badge takes the page's own count (the cache is empty: see the fixture).
    with CaptureQueriesContext(connection) as captured:
        response = signed_in_client.get(URL)
    assert response.status_code == 200
    assert len(captured.captured_queries) == 5
    html = response.content.decode()
    assert findings(html) == [
        row
        for number in range(5)
        for row in (
            ("Device certificate expired", f"platform / e{number}"),
            ("Revoked certificate, device still enabled", f"platform / r{number}"),
            ("PSK older than a year", f"keyed / k{number}"),
            ("Device certificate expiring", f"platform / x{number}"),
        )
    ]
    text = visible_text(html)
    for label in (
        "Device certificate expired",
        "Device certificate expiring",
        "PSK older than a year",
        "Revoked certificate, device still enabled",
    ):
        assert f"{per_kind} {label}" in text
    assert "The 20 newest of 100 are listed." in text
    assert re.search(r'data-testid="health-badge" title="100 finding\(s\)">100</span>', html)
    assert cache.get(f"certificate-health-count:{user.pk}") == 100
    assert (f"/products/{keyed.product_id}/device/k0/", "keyed / k0") in links(html)
