"""Batch management: a product's past batches, newest first, with their status and counts."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from batches import services
from batches.models import DeviceBatch
from products.models import Product
from tests.product_console import make_product, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(user):
    return make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)


def list_url(product: Product) -> str:
    return reverse("batches:batch_list", args=[product.product_id])


def table_rows(page: str) -> list[list[str]]:
    """Each body row of the batches table as its cells' text."""
    body = page.split('aria-label="Batches">', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def test_lists_past_batches_newest_first_with_status_and_counts(signed_in_client, user, other_user, product):
    names = ["dev_01", "bad name", "dev_02"]
    finished = services.start_batch(
        owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=names, source_name="first.csv"
    )
    services.run_batch(finished.pk)
    queued = services.start_batch(
        owner=user, product=product, kind=DeviceBatch.Kind.AUTO, names=["dev_03", "dev_04"]
    )
    other_product = make_product(user, "lamps", auth_method=Product.AuthMethod.KEY)
    services.start_batch(owner=user, product=other_product, kind=DeviceBatch.Kind.AUTO, names=["lamp_01"])

    response = signed_in_client.get(list_url(product))

    assert response.status_code == 200
    assert list(response.context["page"].object_list) == [queued, finished]
    page = text(response)
    rows = table_rows(page)
    assert [row[1:6] for row in rows] == [
        ["Auto-generate", "Queued", "2", "0", "0"],
        ["Batch upload (CSV of device names)", "Finished", "3", "2", "1"],
    ]
    assert rows[0][0] == f"#{queued.pk}" and rows[1][0] == f"#{finished.pk} first.csv"
    assert f'<a href="/batches/{finished.pk}/">#{finished.pk}</a>' in page
    assert '<span class="badge text-bg-success">Finished</span>' in page
    assert '<span class="badge text-bg-secondary">Queued</span>' in page
    assert "lamp_01" not in page and f"/batches/{finished.pk + 2}/" not in page


def test_a_product_without_batches_offers_batch_add(signed_in_client, product):
    page = text(signed_in_client.get(list_url(product)))

    assert "No batches yet" in page
    assert f'href="/products/{product.product_id}/batches/add/">Batch Add</a>' in page


def test_pages_of_twenty(signed_in_client, user, product):
    for number in range(21):
        services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.AUTO, names=[f"dev_{number}"])

    first = signed_in_client.get(list_url(product))
    second = signed_in_client.get(list_url(product), {"page": "2"})

    assert len(table_rows(text(first))) == 20
    assert [row[0] for row in table_rows(text(second))] == [
        f"#{DeviceBatch.objects.order_by('pk').first().pk}"
    ]
