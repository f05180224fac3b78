"""Another account's batches and products are a 404 on every batch page; a forbidden product takes no batch."""

from __future__ import annotations

import pytest
from django.urls import reverse

from batches import forms, services
from batches.models import BatchRow, DeviceBatch
from products import services as product_services
from products.models import Device, Product
from tests.product_console import assert_field_error, make_product, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def their_product(other_user):
    return make_product(other_user, "their-thermometers")


@pytest.fixture
def their_batch(other_user, their_product):
    batch = services.start_batch(
        owner=other_user,
        product=their_product,
        kind=DeviceBatch.Kind.NAMES,
        names=["their_dev_01", "their_dev_02"],
    )
    services.run_batch(batch.pk)
    return batch


def snapshot() -> list[tuple]:
    return list(
        Device.objects.order_by("pk").values_list("pk", "name", "private_key_pem", "private_key_fetched")
    )


@pytest.mark.parametrize("page", ["batch_detail", "batch_progress", "batch_results"])
def test_their_batch_pages_are_404(signed_in_client, their_batch, page):
    before = snapshot()

    response = signed_in_client.get(reverse(f"batches:{page}", args=[their_batch.pk]))

    assert response.status_code == 404
    assert "their_dev_01" not in response.content.decode()
    # A refused download takes none of their generated keys.
    assert snapshot() == before
    assert all(not fetched and key for _, _, key, fetched in before)


@pytest.mark.parametrize("page", ["batch_list", "batch_create"])
def test_their_product_batch_pages_are_404(signed_in_client, their_product, their_batch, page):
    response = signed_in_client.get(reverse(f"batches:{page}", args=[their_product.product_id]))

    assert response.status_code == 404
    assert "their-thermometers" not in response.content.decode()


def test_a_batch_for_their_product_is_404_and_stores_nothing(
    signed_in_client, their_product, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[their_product.product_id]),
            {"method": forms.AUTO, "quantity": "3"},
        )

    assert response.status_code == 404
    assert callbacks == []
    assert not DeviceBatch.objects.exists() and not Device.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, their_batch):
    response = client.get(reverse("batches:batch_progress", args=[their_batch.pk]))

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_forbidden_product_refuses_a_new_batch(signed_in_client, user, django_capture_on_commit_callbacks):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    product_services.set_products_forbidden(products=[product], forbidden=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.AUTO, "quantity": "3"},
        )

    assert_field_error(response, None, product_services.PRODUCT_IS_FORBIDDEN.format(name="sensors"))
    assert not DeviceBatch.objects.exists() and not BatchRow.objects.exists() and not Device.objects.exists()
    listing = text(signed_in_client.get(reverse("batches:batch_list", args=[product.product_id])))
    assert (
        f'class="btn btn-primary btn-sm disabled" href="/products/{product.product_id}/batches/add/"'
        in listing
    )


def test_a_product_forbidden_after_queueing_gets_no_devices(signed_in_client, user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    batch = services.start_batch(
        owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=["dev_01", "dev_02"]
    )
    product_services.set_products_forbidden(products=[product], forbidden=True)

    services.run_batch(batch.pk)

    batch.refresh_from_db()
    message = product_services.PRODUCT_IS_FORBIDDEN.format(name="sensors")
    assert (batch.status, batch.processed, batch.failed) == (DeviceBatch.Status.SUCCEEDED, 2, 2)
    assert list(batch.rows.values_list("device_name", "result", "error_code", "message")) == [
        ("dev_01", "failed", product_services.PRODUCT_FORBIDDEN_CODE, message),
        ("dev_02", "failed", product_services.PRODUCT_FORBIDDEN_CODE, message),
    ]
    assert not Device.objects.exists()
    assert "The product &quot;sensors&quot; is forbidden" in text(
        signed_in_client.get(batch.get_absolute_url())
    )
