"""CreateMultiDevicesTask, DescribeProductTask(s): the console's batches, through the API."""

from __future__ import annotations

import json

import pytest

from batches import services as batch_services
from batches.models import BatchRow, DeviceBatch
from products import selectors, services
from products.models import Device, Product
from tests import pki
from tests.api_support import assert_refused, build, client_for, register_ca
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


@pytest.fixture
def key_product(user) -> Product:
    return services.create_product(
        owner=user, name="keyed", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )


def create_task(api, product: Product, **fields):
    fields.setdefault("ParametersType", "random")
    return api.CreateMultiDevicesTask(
        build(models.CreateMultiDevicesTaskRequest, ProductId=product.product_id, **fields)
    )


def describe_task(api, product: Product, task_id: int):
    return api.DescribeProductTask(
        build(models.DescribeProductTaskRequest, ProductId=product.product_id, TaskId=task_id)
    ).TaskInfo


def describe_tasks(api, product: Product, offset: int = 0, limit: int = 10):
    return api.DescribeProductTasks(
        build(models.DescribeProductTasksRequest, ProductId=product.product_id, Offset=offset, Limit=limit)
    )


def test_a_random_task_is_a_console_batch_that_the_worker_runs(api, key_product, signed_in_client):
    task_id = create_task(api, key_product, BatchCount=5).Id

    batch = DeviceBatch.objects.get(pk=task_id)
    assert (batch.product_id, batch.kind, batch.status, batch.total) == (
        key_product.pk,
        DeviceBatch.Kind.AUTO,
        DeviceBatch.Status.QUEUED,
        5,
    )
    waiting = describe_task(api, key_product, task_id)
    assert (waiting.Id, waiting.Type, waiting.State, waiting.BatchCount, waiting.BatchOffset) == (
        task_id,
        0,
        1,
        5,
        0,
    )
    assert waiting.ParametersType == "random"
    assert json.loads(waiting.Parameters) == {"BatchCount": 5}
    assert waiting.CompleteTime == 0

    batch_services.run_batch(task_id)  # what the worker does with the queued task

    done = describe_task(api, key_product, task_id)
    batch.refresh_from_db()
    assert (done.State, done.BatchOffset, done.Result) == (5, 5, "")
    assert done.CompleteTime == int(batch.finished_at.timestamp())
    names = set(Device.objects.filter(product=key_product).values_list("name", flat=True))
    assert len(names) == 5
    assert names == set(BatchRow.objects.filter(batch=batch).values_list("device_name", flat=True))
    # The console shows the same batch.
    assert signed_in_client.get(f"/batches/{task_id}/").status_code == 200


def test_a_task_with_failed_rows_is_partly_failed(api, key_product):
    task_id = create_task(api, key_product, BatchCount=3).Id
    taken = BatchRow.objects.filter(batch_id=task_id).order_by("number").first()
    services.create_device(
        product=key_product, name=taken.device_name, credentials=services.DeviceCredentials()
    )

    batch_services.run_batch(task_id)

    info = describe_task(api, key_product, task_id)
    assert (info.State, info.BatchOffset) == (4, 3)
    assert info.Result == "1 of 3 devices could not be created; the batch's page gives each reason."


def test_describe_product_tasks_pages_newest_first(api, key_product):
    ids = [create_task(api, key_product, BatchCount=count).Id for count in (1, 2, 3)]

    listed = describe_tasks(api, key_product, offset=0, limit=2)

    assert listed.TotalCount == 3
    assert [info.Id for info in listed.TaskInfos] == ids[::-1][:2]
    assert [info.BatchCount for info in listed.TaskInfos] == [3, 2]
    assert [info.Id for info in describe_tasks(api, key_product, offset=2, limit=2).TaskInfos] == [ids[0]]


def test_batch_count_must_be_between_one_and_ten_thousand(api, key_product):
    assert_refused(
        lambda: create_task(api, key_product, BatchCount=10_001),
        "InvalidParameterValue",
        "The parameter BatchCount must be between 1 and 10000, not 10001.",
    )
    assert_refused(
        lambda: create_task(api, key_product),
        "MissingParameter",
        "The parameter BatchCount is required when ParametersType is random.",
    )
    assert not DeviceBatch.objects.exists()


def test_a_custom_ca_product_refuses_a_random_task_as_the_console_does(api, user):
    ca = register_ca(user, pki.make_ca("Device CA"), "device_ca")
    product = services.create_product(
        owner=user, name="custom", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=ca
    )

    assert_refused(
        lambda: create_task(api, product, BatchCount=2),
        "UnsupportedOperation.WrongProductAuthType",
        batch_services.NAMES_NEED_ISSUER.format(ca="device_ca"),
    )
    assert not DeviceBatch.objects.exists()


def test_a_forbidden_product_refuses_a_task(api, key_product):
    services.set_products_forbidden(products=[key_product], forbidden=True)

    assert_refused(
        lambda: create_task(api, key_product, BatchCount=2),
        "UnauthorizedOperation.ProductIsForbidden",
        services.PRODUCT_IS_FORBIDDEN.format(name="keyed"),
    )
    assert not DeviceBatch.objects.exists()


def test_a_missing_task_is_task_not_exist(api, key_product):
    assert_refused(
        lambda: describe_task(api, key_product, 999),
        "ResourceNotFound.CreateMultiDeviceTaskNotExist",
        "There is no task 999 for this product.",
    )


def test_another_accounts_tasks_are_not_found(live_server, api, key_product, other_user):
    task_id = create_task(api, key_product, BatchCount=2).Id
    mallory = client_for(live_server, other_user)
    their_product = services.create_product(
        owner=other_user, name="theirs", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )
    not_found = (
        "ResourceNotFound.ProductNotExist",
        selectors.PRODUCT_NOT_FOUND.format(product_id=key_product.product_id),
    )

    assert_refused(lambda: create_task(mallory, key_product, BatchCount=2), *not_found)
    assert_refused(lambda: describe_task(mallory, key_product, task_id), *not_found)
    assert_refused(lambda: describe_tasks(mallory, key_product), *not_found)
    # Their own product does not reach this account's task either.
    assert_refused(
        lambda: describe_task(mallory, their_product, task_id),
        "ResourceNotFound.CreateMultiDeviceTaskNotExist",
        f"There is no task {task_id} for this product.",
    )
    assert describe_tasks(mallory, their_product).TotalCount == 0
    assert DeviceBatch.objects.count() == 1
