"""Tencent's own command-line tool, tccli, works unchanged against the console.

tccli reaches plain HTTP only through `--endpoint http://host:port`, and then sends and
signs `Host: http://host:port`; the API door accepts exactly that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.models import APIKey
from products.models import Device, Product
from tests.programs import require_program

pytestmark = pytest.mark.django_db(transaction=True)

TCCLI = Path(sys.executable).parent / "tccli"


@pytest.fixture
def tccli(live_server, user, tmp_path):
    program = require_program(str(TCCLI), "tccli from requirements-dev.txt")
    key = APIKey.objects.create(owner=user)
    # tccli writes its configuration under HOME: keep it in the test's own folder.
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TENCENTCLOUD_SECRET_ID": key.secret_id,
        "TENCENTCLOUD_SECRET_KEY": key.secret_key,
    }

    def run(action: str, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                program,
                "iotcloud",
                action,
                "--endpoint",
                live_server.url,
                "--region",
                "ap-guangzhou",
                *arguments,
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def answer(completed: subprocess.CompletedProcess) -> dict:
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(completed.stdout)


def test_tccli_creates_and_lists_products_and_devices(tccli, user):
    assert answer(tccli("DescribeProducts", "--Offset", "0", "--Limit", "10"))["TotalCount"] == 0

    created = answer(
        tccli(
            "CreateProduct", "--ProductName", "cli_product", "--ProductProperties", '{"EncryptionType": "2"}'
        )
    )
    product = Product.objects.get(owner=user, name="cli_product")
    assert created["ProductId"] == product.product_id
    assert created["ProductProperties"]["EncryptionType"] == "2"

    device = answer(tccli("CreateDevice", "--ProductId", product.product_id, "--DeviceName", "cli_device"))
    stored = Device.objects.get(product=product, name="cli_device")
    assert device["DeviceName"] == "cli_device"
    assert device["DevicePsk"] == stored.psk

    listed = answer(
        tccli("DescribeDevices", "--ProductId", product.product_id, "--Offset", "0", "--Limit", "10")
    )
    assert listed["TotalCount"] == 1
    assert [entry["DeviceName"] for entry in listed["Devices"]] == ["cli_device"]

    products = answer(tccli("DescribeProducts", "--Offset", "0", "--Limit", "10"))
    assert [entry["ProductName"] for entry in products["Products"]] == ["cli_product"]


def test_tccli_is_told_why_a_request_is_refused(tccli):
    completed = tccli("DescribeDevices", "--ProductId", "NOSUCHPROD", "--Offset", "0", "--Limit", "10")

    assert completed.returncode != 0
    assert "code:ResourceNotFound.ProductNotExist" in completed.stdout + completed.stderr
    assert 'There is no product with the ID "NOSUCHPROD".' in completed.stdout + completed.stderr
