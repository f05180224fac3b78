"""Batches' reads, one function each, for the console and the API."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from iothub_console.errors import NotFound
from products.models import Product

from .models import DeviceBatch

BATCH_NOT_EXIST_CODE = "ResourceNotFound.TaskNotExist"
BATCH_NOT_FOUND = "There is no such batch."


def batches_for(owner: User, product: Product) -> QuerySet[DeviceBatch]:
    """The account's batches for one product, newest first."""
    return DeviceBatch.objects.filter(owner=owner, product=product)


def get_batch(*, owner: User, pk: int) -> DeviceBatch:
    batch = DeviceBatch.objects.select_related("product").filter(owner=owner, pk=pk).first()
    if batch is None:
        raise NotFound(BATCH_NOT_EXIST_CODE, BATCH_NOT_FOUND)
    return batch
