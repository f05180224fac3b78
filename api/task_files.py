"""Names files for CreateMultiDevicesTask: made by CreateTaskFileUrl, uploaded by PUT, read once.

Tencent hands out a presigned COS URL; here the URL is the console's own, and the
file's random name is what authorises the single upload to it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from iothub_console.errors import NotFound, ServiceError
from iothub_console.validators import has_control_characters
from products.models import Product

from .models import TaskFile

UPLOAD_WINDOW = timedelta(hours=1)
# Room for the names files an account has uploaded and no task has read yet: 10,000
# names of 48 characters take under 0.5 MiB.
STORAGE_LIMIT_BYTES = 16 * 1024 * 1024

FILE_NOT_EXIST_CODE = "ResourceNotFound.ResourceFileNotExist"
FILE_NOT_MATCH_CODE = "FailedOperation.ResourceFileNotMatch"
STORAGE_FULL_CODE = "LimitExceeded"

FILE_NOT_FOUND = (
    'There is no uploaded names file "{name}" for this product: call CreateTaskFileUrl and PUT the CSV '
    "to its Url first."
)
FILE_NOT_MATCHED = (
    'The names file "{name}" is {size:,} bytes with MD5 {md5}; FileSize and Hash must say the same.'
)
UNKNOWN_UPLOAD = "There is no upload at this address."
ALREADY_UPLOADED = "A file was already uploaded to this address; ask CreateTaskFileUrl for a new one."
UPLOAD_EXPIRED = "This upload address expired an hour after it was made; ask CreateTaskFileUrl for a new one."
STORAGE_FULL = (
    "The account's names files waiting for a task would exceed {limit:,} bytes; create tasks from them "
    "or let unused ones expire first."
)


def storage_used(owner: User) -> int:
    """Bytes of the account's uploaded names files that no task has read yet."""
    return TaskFile.objects.filter(owner=owner).aggregate(total=Sum("size"))["total"] or 0


def create_task_file(*, owner: User, product: Product) -> TaskFile:
    _forget_expired(owner)
    return TaskFile.objects.create(owner=owner, product=product)


def upload_url(task_file: TaskFile) -> str:
    # The address the API's caller can reach, not the one the brokers ask.
    return settings.IOTHUB_PUBLIC_URL + reverse("api:task_file_upload", args=[task_file.name])


def receive_upload(*, name: str, data: bytes) -> None:
    """Store the PUT body under `name`: one upload, within the hour, within the account's room."""
    # A name with control characters is no file's (and PostgreSQL refuses NUL in a query).
    if has_control_characters(name):
        raise NotFound(FILE_NOT_EXIST_CODE, UNKNOWN_UPLOAD)
    with transaction.atomic():
        task_file = TaskFile.objects.select_for_update().filter(name=name).first()
        if task_file is None:
            raise NotFound(FILE_NOT_EXIST_CODE, UNKNOWN_UPLOAD)
        if task_file.uploaded_at is not None:
            raise ServiceError(FILE_NOT_MATCH_CODE, ALREADY_UPLOADED)
        if timezone.now() - task_file.created > UPLOAD_WINDOW:
            raise ServiceError(FILE_NOT_MATCH_CODE, UPLOAD_EXPIRED)
        if storage_used(task_file.owner) + len(data) > STORAGE_LIMIT_BYTES:
            raise ServiceError(STORAGE_FULL_CODE, STORAGE_FULL.format(limit=STORAGE_LIMIT_BYTES))
        task_file.data, task_file.size, task_file.uploaded_at = data, len(data), timezone.now()
        task_file.save(update_fields=["data", "size", "uploaded_at"])


def take_task_file(*, owner: User, product: Product, name: str, size: int, md5: str) -> bytes:
    """The uploaded file's bytes, if FileSize and Hash describe it; the file is then deleted.

    Call inside the transaction that starts the batch, so a file feeds one task.
    """
    task_file = (
        TaskFile.objects.select_for_update()
        .filter(owner=owner, product=product, name=name, uploaded_at__isnull=False)
        .first()
    )
    if task_file is None:
        raise NotFound(FILE_NOT_EXIST_CODE, FILE_NOT_FOUND.format(name=name))
    data = bytes(task_file.data)
    actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if size != len(data) or md5.lower() != actual:
        raise ServiceError(
            FILE_NOT_MATCH_CODE, FILE_NOT_MATCHED.format(name=name, size=len(data), md5=actual)
        )
    task_file.delete()
    return data


def _forget_expired(owner: User) -> None:
    # An address that was never used, or a file no task read, stops taking room after a day.
    TaskFile.objects.filter(owner=owner, created__lt=timezone.now() - timedelta(days=1)).delete()
