"""2. The Devices tab of a product with many devices, against a minimal signed-in page.

Devices are inserted with `bulk_create` (no crypto): realistic names, states, dates
and PEM text of the lengths the Platform CA really produces, each with its own
fingerprint. Requests go through Django's test Client; the time taken is the
server's side only (the WSGI handler: middleware, view, queries, template).
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from certificates import issuance, x509
from products import platform
from products import services as product_services
from products.models import Device, Product

from . import fixtures
from .report import BenchError, Sample

INSERT_CHUNK = 5_000
WARM_UP_REQUESTS = 3
MINIMAL_PAGE = "minimal page (/api-keys/, no keys)"
PAGE_LABELS = ("first page", "deep page", "name search")


@dataclass(frozen=True)
class PageResult:
    url: str
    server_time: Sample
    queries: int


@dataclass(frozen=True)
class ListResult:
    pages: dict[str, PageResult]  # by label, the minimal page included

    def ratio(self, label: str) -> float:
        return self.pages[label].server_time.median / self.pages[MINIMAL_PAGE].server_time.median


class _TimedHandler:
    """Wraps the test Client's WSGI handler to time the server side of each request."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.last = 0.0

    def __call__(self, environ):
        start = time.perf_counter()
        try:
            return self.handler(environ)
        finally:
            self.last = time.perf_counter() - start


def make_product_with_devices(owner: AbstractBaseUser, name: str, count: int) -> Product:
    product = fixtures.platform_product(owner, name, Product.KeyAlgorithm.EC_P256)
    certificate_chars, key_chars = _real_pem_lengths()
    now = datetime.now(UTC)
    generator = random.Random(count)
    with transaction.atomic():
        for start in range(0, count, INSERT_CHUNK):
            Device.objects.bulk_create(
                [
                    _fake_device(product, number, count, now, generator, certificate_chars, key_chars)
                    for number in range(start, min(start + INSERT_CHUNK, count))
                ],
                batch_size=1_000,
            )
        # bulk_create bypasses the services, which keep the product's device total.
        product_services.count_devices(product, count)
    if Device.objects.filter(product=product).count() != count:
        raise BenchError(f"inserted {Device.objects.filter(product=product).count()} devices, not {count}")
    return product


def _real_pem_lengths() -> tuple[int, int]:
    """DER sizes of a certificate and key the Platform CA really issues, so fake PEMs weigh the same."""
    authority = platform.device_ca()
    key = issuance.generate_private_key(Product.KeyAlgorithm.EC_P256)
    certificate = issuance.issue_client_certificate(
        "ABCDEFGHIJsensor-000000",
        key.public_key(),
        authority.certificate,
        authority.private_key,
        datetime.now(UTC),
    )
    return len(base64.b64decode("".join(x509.to_pem(certificate).splitlines()[1:-1]))), len(
        base64.b64decode("".join(issuance.private_key_to_pem(key).splitlines()[1:-1]))
    )


def _fake_pem(label: str, size: int) -> str:
    text = base64.b64encode(os.urandom(size)).decode("ascii")
    lines = "\n".join(text[index : index + 64] for index in range(0, len(text), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def _fake_device(
    product: Product,
    number: int,
    count: int,
    now: datetime,
    generator: random.Random,
    certificate_size: int,
    key_size: int,
) -> Device:
    # Numbered in creation order, as ids are: the newest device has the highest number.
    created = now - timedelta(seconds=(count - 1 - number) * 37)
    activated = generator.random() < 0.7
    key_taken = generator.random() < 0.5
    return Device(
        product=product,
        name=f"sensor-{number:06d}",
        enabled=generator.random() < 0.95,
        activated_at=created + timedelta(hours=1) if activated else None,
        online=activated and generator.random() < 0.4,
        key_origin=Device.KeyOrigin.GENERATED,
        certificate_pem=_fake_pem("CERTIFICATE", certificate_size),
        certificate_fingerprint=hashlib.sha256(f"{product.product_id}/{number}".encode()).hexdigest(),
        certificate_serial_hex=os.urandom(16).hex().upper(),
        certificate_not_after=created + timedelta(days=3650 if generator.random() < 0.98 else 20),
        private_key_pem="" if key_taken else _fake_pem("PRIVATE KEY", key_size),
        private_key_fetched=key_taken,
        created=created,
    )


def page_urls(client: Client, product: Product, count: int) -> dict[str, tuple[str, list[str]]]:
    """Each page measured, by label: its URL and the names of the devices it must list."""
    per_page = settings.IOTHUB_DEVICES_PER_PAGE
    middle = f"sensor-{count // 2:06d}"
    base = f"/products/{product.product_id}/devices/"
    return {
        "first page": (base, _names(count - 1, per_page)),
        "deep page": _deep_page(client, product, base, count, per_page),
        # All but the last digit of a middle name: the ten names that start with it.
        "name search": (f"{base}?q={middle[:-1]}", [f"{middle[:-1]}{digit}" for digit in range(10)]),
        MINIMAL_PAGE: ("/api-keys/", []),
    }


def measure(client: Client, product: Product, count: int, requests: int) -> ListResult:
    urls = page_urls(client, product, count)
    timed = _TimedHandler(client.handler)
    client.handler = timed
    try:
        queries = {label: _query_count(client, product, url, names) for label, (url, names) in urls.items()}
        for url, names in urls.values():
            for _ in range(WARM_UP_REQUESTS):
                _get(client, product, url, names)
        times: dict[str, list[float]] = {label: [] for label in urls}
        # Round-robin, so that drift in the machine's speed hits every page alike.
        for _ in range(requests):
            for label, (url, names) in urls.items():
                _get(client, product, url, names)
                times[label].append(timed.last)
    finally:
        client.handler = timed.handler
    return ListResult(
        pages={
            label: PageResult(url, Sample(tuple(times[label])), queries[label])
            for label, (url, _) in urls.items()
        },
    )


def _names(newest: int, size: int) -> list[str]:
    """The names a page starting at device number `newest` lists, newest first."""
    return [f"sensor-{number:06d}" for number in range(newest, max(newest - size, -1), -1)]


def _deep_page(
    client: Client, product: Product, base: str, count: int, per_page: int
) -> tuple[str, list[str]]:
    """Page (pages / 2) of the list, by whichever paging the view offers.

    An offset paginator takes ?page=N; a keyset one takes ?after=<id of the last
    device on the page before>, which its own Next link shows. Either way the page
    must list the same twenty devices, which the requests check.
    """
    page_number = -(-count // per_page) // 2
    skipped = (page_number - 1) * per_page
    names = _names(count - 1 - skipped, per_page)
    first_page = client.get(base).content.decode("utf-8")
    if re.search(r"[?&;]after=\d+", first_page):
        last_before = Device.objects.get(product=product, name=f"sensor-{count - skipped:06d}")
        return f"{base}?after={last_before.pk}", names
    if re.search(r"[?&;]page=2\b", first_page):
        return f"{base}?page={page_number}", names
    raise BenchError(f"{base} shows neither ?page= nor ?after= links: no way to reach a deep page")


def _get(client: Client, product: Product, url: str, names: list[str]) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}")
    if not names:
        return  # the minimal page lists no devices
    listed = re.findall(
        rf'href="/products/{product.product_id}/device/([^/"]+)/"', response.content.decode("utf-8")
    )
    # Which devices, not in which order: search results may be sorted by name.
    if sorted(listed) != sorted(names):
        raise BenchError(f"GET {url} listed {len(listed)} devices {listed[:3]}…, not {names[:3]}…")


def _query_count(client: Client, product: Product, url: str, names: list[str]) -> int:
    with CaptureQueriesContext(connection) as captured:
        _get(client, product, url, names)
    return len(captured.captured_queries)
