"""The Devices tab: name, status, certificate expiry and created time; search, pages, enable/disable, delete."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from products import services
from products.models import Device, Product
from tests.product_console import assert_message, device_url, devices_url, make_device, make_product, text

pytestmark = pytest.mark.django_db

CREATED = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


def rows(page: str) -> list[str]:
    body = re.search(r'aria-label="Devices">.*?<tbody>(.*?)</tbody>', page)
    return re.findall(r"<tr>(.*?)</tr>", body.group(1)) if body else []


def cells(row: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)
    ]


def names(page: str) -> list[str]:
    return [cells(row)[0] for row in rows(page)]


def add_devices(product: Product, count: int, prefix: str = "dev_") -> None:
    """`count` devices, the highest number newest, without running the per-device checks."""
    Device.objects.bulk_create(
        Device(
            product=product,
            name=f"{prefix}{number:04d}",
            key_origin=Device.KeyOrigin.PSK,
            psk="c2VjcmV0",
            created=CREATED + timedelta(minutes=number),
        )
        for number in range(count)
    )
    services.count_devices(product, count)


@pytest.fixture
def product(user):
    return make_product(user, "thermometers")


def test_lists_name_status_expiry_and_created(signed_in_client, product):
    disabled = make_device(product, "dev_02")
    enabled = make_device(product, "dev_01")  # the newest, so listed first
    Device.objects.filter(pk=disabled.pk).update(enabled=False, created=CREATED)
    Device.objects.filter(pk=enabled.pk).update(created=CREATED + timedelta(hours=1))
    enabled.refresh_from_db()

    response = signed_in_client.get(devices_url(product))

    assert response.status_code == 200
    page = text(response)
    first, second = rows(page)
    assert f'<a href="/products/{product.product_id}/device/dev_01/">dev_01</a>' in first
    assert cells(first)[:4] == [
        "dev_01",
        "Enabled Not activated",
        f"{enabled.certificate_not_after:%Y-%m-%d} UTC",
        "2025-03-01 09:30 UTC",
    ]
    assert 'class="badge text-bg-success">Enabled<' in first
    assert cells(second)[:2] == ["dev_02", "Disabled Not activated"]
    assert 'class="badge text-bg-danger">Disabled<' in second
    assert cells(second)[3] == "2025-03-01 08:30 UTC"


def test_key_devices_show_no_certificate_expiry(signed_in_client, user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    make_device(product, "dev_01")

    (row,) = rows(text(signed_in_client.get(devices_url(product))))

    assert cells(row)[2] == "—"


def test_search_by_name(signed_in_client, product):
    add_devices(product, 3, prefix="kitchen_")
    add_devices(product, 2, prefix="garage_")

    response = signed_in_client.get(devices_url(product), {"q": "garage"})

    assert response.status_code == 200
    # Search results come in name order: the index that finds them gives that order.
    assert names(text(response)) == ["garage_0000", "garage_0001"]
    assert '2 devices whose name starts with "garage"' in text(response)


def test_search_is_a_name_prefix(signed_in_client, product):
    add_devices(product, 2, prefix="kitchen_")
    add_devices(product, 2, prefix="old_kitchen_")

    page = text(signed_in_client.get(devices_url(product), {"q": "kitchen"}))

    assert names(page) == ["kitchen_0000", "kitchen_0001"]


def test_search_with_no_match_says_so(signed_in_client, product):
    add_devices(product, 2)

    page = text(signed_in_client.get(devices_url(product), {"q": "attic"}))

    assert rows(page) == []
    assert 'No device name starts with "attic".' in page


def next_link(page: str) -> str:
    return re.search(r'<a class="page-link" href="\?([^"]*)">Next</a>', page).group(1).replace("&amp;", "&")


def test_pages_newest_first(signed_in_client, product, settings):
    settings.IOTHUB_DEVICES_PER_PAGE = 2
    add_devices(product, 5)

    first = text(signed_in_client.get(devices_url(product)))
    second = text(signed_in_client.get(f"{devices_url(product)}?{next_link(first)}"))
    third = text(signed_in_client.get(f"{devices_url(product)}?{next_link(second)}"))
    last = text(signed_in_client.get(devices_url(product), {"last": ""}))

    assert names(first) == ["dev_0004", "dev_0003"]
    assert names(second) == ["dev_0002", "dev_0001"]
    assert names(third) == ["dev_0000"]
    assert names(last) == ["dev_0001", "dev_0000"]
    assert "5 devices" in first
    assert '<li class="page-item disabled"><a class="page-link" href="?">First</a></li>' in first
    assert '<li class="page-item disabled"><a class="page-link" href="?last">Last</a></li>' in third


def test_previous_goes_back_a_page(signed_in_client, product, settings):
    settings.IOTHUB_DEVICES_PER_PAGE = 2
    add_devices(product, 5)
    first = text(signed_in_client.get(devices_url(product)))
    second = text(signed_in_client.get(f"{devices_url(product)}?{next_link(first)}"))
    previous = re.search(r'href="\?([^"]*)">Previous</a>', second).group(1).replace("&amp;", "&")

    back = text(signed_in_client.get(f"{devices_url(product)}?{previous}"))

    assert names(back) == ["dev_0004", "dev_0003"]


def test_malformed_page_keys_show_the_first_page(signed_in_client, product, settings):
    settings.IOTHUB_DEVICES_PER_PAGE = 2
    add_devices(product, 3)

    for junk in ({"after": "x' OR 1=1"}, {"before": "-5"}, {"after": "9" * 40}):
        response = signed_in_client.get(devices_url(product), junk)
        assert response.status_code == 200
    assert names(text(signed_in_client.get(devices_url(product), {"after": "abc"}))) == [
        "dev_0002",
        "dev_0001",
    ]


def test_page_keys_of_non_ascii_digits_show_the_first_page(signed_in_client, product, settings):
    settings.IOTHUB_DEVICES_PER_PAGE = 2
    add_devices(product, 3)

    # "²" and "٣" pass str.isdigit(); int() refuses the first and reads the second.
    for direction in ("after", "before"):
        for key in ("²", "1²", "٣"):
            response = signed_in_client.get(devices_url(product), {direction: key})
            assert response.status_code == 200
            assert names(text(response)) == ["dev_0002", "dev_0001"]
    assert Device.objects.filter(product=product).count() == 3


def test_search_keeps_its_query_across_pages(signed_in_client, product, settings):
    settings.IOTHUB_DEVICES_PER_PAGE = 2
    add_devices(product, 3, prefix="kitchen_")
    add_devices(product, 3, prefix="garage_")

    first = text(signed_in_client.get(devices_url(product), {"q": "kitchen"}))
    assert next_link(first) == "q=kitchen&after=kitchen_0001"
    page = text(signed_in_client.get(f"{devices_url(product)}?{next_link(first)}"))

    assert names(page) == ["kitchen_0002"]
    assert '<a class="page-link" href="?q=kitchen">First</a>' in page


def test_list_buttons_enable_and_disable_through_one_form(signed_in_client, product):
    device = make_device(product, "dev_01")
    url = reverse("products:devices_enable", args=[product.product_id])

    response = signed_in_client.post(url, {"disable": "dev_01", "next": devices_url(product)}, follow=True)

    assert response.redirect_chain == [(devices_url(product), 302)]
    assert_message(response, 'Device "dev_01" is now disabled.', level="success")
    assert Device.objects.get(pk=device.pk).enabled is False
    page = text(response)
    assert 'name="enable" value="dev_01"' in page

    signed_in_client.post(url, {"enable": "dev_01", "next": "https://evil.example/"})
    assert Device.objects.get(pk=device.pk).enabled is True


def test_disable_and_enable_from_the_list(signed_in_client, product):
    device = make_device(product, "dev_01")
    url = device_url(device, "device_enable")

    response = signed_in_client.post(url, {"enabled": "0", "next": "list"}, follow=True)

    assert response.redirect_chain == [(devices_url(product), 302)]
    assert_message(response, 'Device "dev_01" is now disabled.', level="success")
    assert Device.objects.get(pk=device.pk).enabled is False
    (row,) = rows(text(response))
    assert cells(row)[1].startswith("Disabled")

    response = signed_in_client.post(url, {"enabled": "1"}, follow=True)

    assert response.redirect_chain == [(device_url(device), 302)]
    assert_message(response, 'Device "dev_01" is now enabled.', level="success")
    assert Device.objects.get(pk=device.pk).enabled is True


def test_enable_needs_a_post(signed_in_client, product):
    device = make_device(product, "dev_01")

    response = signed_in_client.get(device_url(device, "device_enable"), {"enabled": "0"})

    assert response.status_code == 405
    assert Device.objects.get(pk=device.pk).enabled is True


def test_delete_device(signed_in_client, product):
    device = make_device(product, "dev_01")
    keep = make_device(product, "dev_02")

    response = signed_in_client.post(device_url(device, "device_delete"), follow=True)

    assert response.redirect_chain == [(devices_url(product), 302)]
    assert_message(response, 'Device "dev_01" was deleted.', level="success")
    assert list(Device.objects.filter(product=product)) == [keep]
    assert names(text(response)) == ["dev_02"]


def test_delete_needs_a_post(signed_in_client, product):
    device = make_device(product, "dev_01")

    response = signed_in_client.get(device_url(device, "device_delete"))

    assert response.status_code == 405
    assert Device.objects.filter(pk=device.pk).exists()


def test_empty_list_says_what_to_do_next(signed_in_client, product):
    page = text(signed_in_client.get(devices_url(product)))

    assert "No devices yet" in page
    assert (
        f'<a class="btn btn-primary btn-sm" href="/products/{product.product_id}/devices/add/">Add Device</a>'
        in page
    )


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_for_10_and_1000_devices(signed_in_client, user, product):
    small = product
    large = make_product(user, "many-thermometers")
    add_devices(small, 10)
    add_devices(large, 1000)
    signed_in_client.get(devices_url(small))  # warm the session and the platform CA

    small_count = count_queries(signed_in_client, devices_url(small))
    large_count = count_queries(signed_in_client, devices_url(large))

    assert small_count == large_count
    assert small_count <= 6
    assert Device.objects.filter(product=large).count() == 1000


def test_device_count_follows_adds_and_deletes(signed_in_client, product):
    make_device(product, "dev_01")
    doomed = make_device(product, "dev_02")
    signed_in_client.post(device_url(doomed, "device_delete"))

    product.refresh_from_db()
    assert product.device_count == Device.objects.filter(product=product).count() == 1
    assert "1 device" in text(signed_in_client.get(devices_url(product)))
