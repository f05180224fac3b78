"""CreateTaskFileUrl, a names file PUT to its Url, CreateMultiDevicesTask cosfile, GetUserResourceInfo."""

from __future__ import annotations

import hashlib

import pytest
import requests

from api import task_files
from api.models import TaskFile
from batches import inputs as batch_inputs
from batches import services as batch_services
from batches.models import DeviceBatch
from products import selectors, services
from products.models import Device, Product
from tests.api_support import assert_refused, build, call, client_for, in_a_new_second
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)

NAMES_CSV = b"DeviceName\r\nsensor_a\r\nsensor_b\r\nsensor_c\r\n"


@pytest.fixture
def api(live_server, user, settings):
    settings.IOTHUB_PUBLIC_URL = live_server.url
    return client_for(live_server, user)


@pytest.fixture
def key_product(user) -> Product:
    return services.create_product(
        owner=user, name="keyed", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )


def file_url(api, product: Product):
    return api.CreateTaskFileUrl(build(models.CreateTaskFileUrlRequest, ProductId=product.product_id))


def put(url: str, data: bytes) -> requests.Response:
    return requests.put(url, data=data, timeout=30)


def uploaded(api, product: Product, data: bytes = NAMES_CSV) -> str:
    answer = file_url(api, product)
    assert put(answer.Url, data).status_code == 200
    return answer.FileName


def file_task(api, product: Product, name: str, data: bytes = NAMES_CSV, **overrides):
    fields = {
        "ProductId": product.product_id,
        "ParametersType": "cosfile",
        "FileName": name,
        "FileSize": len(data),
        "Hash": hashlib.md5(data).hexdigest(),
        **overrides,
    }
    return api.CreateMultiDevicesTask(build(models.CreateMultiDevicesTaskRequest, **fields))


def used_size(api) -> dict:
    return call(api, "GetUserResourceInfo", {})


def test_a_names_file_put_to_the_url_becomes_a_batch(live_server, api, key_product, user):
    answer = file_url(api, key_product)
    assert answer.Url == f"{live_server.url}/api-keys/task-files/{answer.FileName}"
    assert TaskFile.objects.get(name=answer.FileName).owner == user
    upload = put(answer.Url, NAMES_CSV)
    assert (upload.status_code, upload.text) == (200, "Uploaded.")
    assert used_size(api)["UsedSize"] == len(NAMES_CSV)

    task_id = file_task(api, key_product, answer.FileName).Id

    batch = DeviceBatch.objects.get(pk=task_id)
    assert (batch.kind, batch.total, batch.source_name) == (DeviceBatch.Kind.NAMES, 3, answer.FileName)
    assert not TaskFile.objects.exists()
    resources = used_size(api)
    assert (resources["UsedSize"], resources["Limit"]) == (0, task_files.STORAGE_LIMIT_BYTES)
    batch_services.run_batch(task_id)
    assert sorted(Device.objects.filter(product=key_product).values_list("name", flat=True)) == [
        "sensor_a",
        "sensor_b",
        "sensor_c",
    ]
    info = api.DescribeProductTask(
        build(models.DescribeProductTaskRequest, ProductId=key_product.product_id, TaskId=task_id)
    ).TaskInfo
    assert (info.ParametersType, info.State, info.BatchCount) == ("cosfile", 5, 3)


def test_a_file_whose_size_or_hash_differs_is_not_used(api, key_product):
    name = uploaded(api, key_product)
    expected = task_files.FILE_NOT_MATCHED.format(
        name=name, size=len(NAMES_CSV), md5=hashlib.md5(NAMES_CSV).hexdigest()
    )

    assert_refused(
        lambda: file_task(api, key_product, name, Hash="0" * 32),
        "FailedOperation.ResourceFileNotMatch",
        expected,
    )
    assert_refused(
        lambda: file_task(api, key_product, name, FileSize=1),
        "FailedOperation.ResourceFileNotMatch",
        expected,
    )
    assert not DeviceBatch.objects.exists()
    assert TaskFile.objects.filter(name=name).exists()


def test_a_file_never_uploaded_is_resource_file_not_exist(api, key_product):
    name = file_url(api, key_product).FileName

    assert_refused(
        lambda: file_task(api, key_product, name),
        "ResourceNotFound.ResourceFileNotExist",
        task_files.FILE_NOT_FOUND.format(name=name),
    )
    assert not DeviceBatch.objects.exists()


def test_a_file_that_is_not_a_names_csv_is_refused_as_the_console_refuses_it(api, key_product):
    data = b"\xff\xfe not utf-8"
    name = uploaded(api, key_product, data)

    assert_refused(
        lambda: file_task(api, key_product, name, data), "InvalidParameterValue", batch_inputs.NOT_UTF8
    )
    assert not DeviceBatch.objects.exists()
    assert TaskFile.objects.filter(name=name).exists()  # the refused task used nothing up


def test_a_cosfile_task_needs_its_file_fields(api, key_product):
    assert_refused(
        lambda: api.CreateMultiDevicesTask(
            build(
                models.CreateMultiDevicesTaskRequest,
                ProductId=key_product.product_id,
                ParametersType="cosfile",
            )
        ),
        "MissingParameter",
        "The parameter FileName is required when ParametersType is cosfile.",
    )


def test_the_upload_address_takes_one_put(api, key_product):
    answer = file_url(api, key_product)
    assert put(answer.Url, NAMES_CSV).status_code == 200

    again = put(answer.Url, b"DeviceName\nother\n")

    assert (again.status_code, again.text) == (409, task_files.ALREADY_UPLOADED)
    assert bytes(TaskFile.objects.get(name=answer.FileName).data) == NAMES_CSV
    assert requests.get(answer.Url, timeout=30).status_code == 405


def test_an_unknown_upload_address_is_404(live_server):
    response = put(f"{live_server.url}/api-keys/task-files/0123456789abcdef.csv", NAMES_CSV)

    assert (response.status_code, response.text) == (404, task_files.UNKNOWN_UPLOAD)
    assert not TaskFile.objects.exists()


@pytest.mark.parametrize("name", ["%00", "abc%00.csv", "%01names.csv", "%7F"])
def test_an_upload_address_with_control_characters_is_404(live_server, api, key_product, name):
    waiting = file_url(api, key_product).FileName

    response = put(f"{live_server.url}/api-keys/task-files/{name}", NAMES_CSV)

    assert (response.status_code, response.text) == (404, task_files.UNKNOWN_UPLOAD)
    assert TaskFile.objects.get().name == waiting
    assert TaskFile.objects.get().uploaded_at is None


def test_the_upload_address_is_the_public_one_not_the_brokers(live_server, api, key_product, settings):
    settings.IOTHUB_CONSOLE_URL = "http://127.0.0.1:9"  # where brokers reach the console

    answer = file_url(api, key_product)

    assert answer.Url == f"{live_server.url}/api-keys/task-files/{answer.FileName}"
    assert (put(answer.Url, NAMES_CSV).status_code, TaskFile.objects.get().size) == (200, len(NAMES_CSV))


def test_uploads_beyond_the_accounts_room_are_refused(api, key_product, monkeypatch):
    monkeypatch.setattr(task_files, "STORAGE_LIMIT_BYTES", len(NAMES_CSV) + 10)
    uploaded(api, key_product)
    in_a_new_second()  # CreateTaskFileUrl again, with the same body
    answer = file_url(api, key_product)

    refused = put(answer.Url, NAMES_CSV)

    assert (refused.status_code, refused.text) == (
        409,
        task_files.STORAGE_FULL.format(limit=len(NAMES_CSV) + 10),
    )
    assert used_size(api)["UsedSize"] == len(NAMES_CSV)


def test_another_accounts_file_and_product_are_not_found(live_server, api, key_product, other_user):
    name = uploaded(api, key_product)
    mallory = client_for(live_server, other_user)
    theirs = services.create_product(
        owner=other_user, name="theirs", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )

    assert_refused(
        lambda: file_url(mallory, key_product),
        "ResourceNotFound.ProductNotExist",
        selectors.PRODUCT_NOT_FOUND.format(product_id=key_product.product_id),
    )
    assert_refused(
        lambda: file_task(mallory, key_product, name),
        "ResourceNotFound.ProductNotExist",
        selectors.PRODUCT_NOT_FOUND.format(product_id=key_product.product_id),
    )
    assert_refused(
        lambda: file_task(mallory, theirs, name),
        "ResourceNotFound.ResourceFileNotExist",
        task_files.FILE_NOT_FOUND.format(name=name),
    )
    assert used_size(mallory)["UsedSize"] == 0
    assert not DeviceBatch.objects.exists()
    assert TaskFile.objects.filter(name=name).exists()
