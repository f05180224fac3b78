"""The Products list: one row per product with its ID, method, CA, format and device count; search."""

from __future__ import annotations

import re

import pytest
from django.utils.html import escape

from products.models import Product
from tests.product_console import LIST_URL, custom_ca, make_device, make_product, register_ca, text

pytestmark = pytest.mark.django_db


def rows(page: str) -> list[str]:
    body = re.search(
        r'<table class="table table-hover console-table" aria-label="Products">.*?<tbody>(.*?)</tbody>', page
    )
    return re.findall(r"<tr>(.*?)</tr>", body.group(1)) if body else []


def cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]


@pytest.fixture
def products(user, other_user):
    ca = register_ca(user, custom_ca(), "device_root_ca")
    with_ca = make_product(user, "door-locks", ca_certificate=ca)
    platform = make_product(user, "thermometers")
    keyed = make_product(user, "sensors@lab", auth_method=Product.AuthMethod.KEY)
    Product.objects.filter(pk=keyed.pk).update(data_format=Product.DataFormat.CUSTOM)
    make_device(platform, "dev_01")
    make_device(platform, "dev_02")
    make_device(keyed, "dev_01")
    make_product(other_user, "mallory-product")
    return {"with_ca": with_ca, "platform": platform, "keyed": keyed}


def test_lists_each_product_with_its_settings_and_device_count(signed_in_client, products):
    response = signed_in_client.get(LIST_URL)

    assert response.status_code == 200
    page = text(response)
    listed = {cells(row)[0]: (row, cells(row)) for row in rows(page)}
    assert set(listed) == {"door-locks", "thermometers", "sensors@lab"}
    expected = {
        "door-locks": ("Certificate", "device_root_ca", "JSON", "0"),
        "thermometers": ("Certificate", "Platform CA", "JSON", "2"),
        "sensors@lab": ("Key", "—", "Custom", "1"),
    }
    for name, product in [("door-locks", "with_ca"), ("thermometers", "platform"), ("sensors@lab", "keyed")]:
        row, values = listed[name]
        stored = Product.objects.get(pk=products[product].pk)
        assert f'<a href="/products/{stored.product_id}/">{escape(name)}</a>' in row
        assert values[1] == stored.product_id
        assert tuple(values[2:6]) == expected[name]
    assert "mallory-product" not in page


def test_search_by_part_of_the_name(signed_in_client, products):
    response = signed_in_client.get(LIST_URL, {"q": "THERMO"})

    assert response.status_code == 200
    assert [cells(row)[0] for row in rows(text(response))] == ["thermometers"]


def test_search_by_exact_product_id(signed_in_client, products):
    product_id = products["keyed"].product_id

    exact = signed_in_client.get(LIST_URL, {"q": product_id})
    partial = signed_in_client.get(LIST_URL, {"q": product_id[:6]})

    assert [cells(row)[1] for row in rows(text(exact))] == [product_id]
    assert product_id not in [cells(row)[1] for row in rows(text(partial))]


def test_search_with_no_match_says_so(signed_in_client, products):
    response = signed_in_client.get(LIST_URL, {"q": "mallory"})

    assert response.status_code == 200
    page = text(response)
    assert rows(page) == []
    assert 'No product matches "mallory".' in page


def test_empty_list_says_what_to_do_next(signed_in_client, user):
    page = text(signed_in_client.get(LIST_URL))

    assert "No products yet" in page
    assert '<a class="btn btn-primary btn-sm" href="/products/create/">Create Product</a>' in page
