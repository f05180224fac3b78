from __future__ import annotations

import secrets
import string

from django.conf import settings
from django.db import models

from iothub_console.encryption import EncryptedTextField

ALPHABET = string.ascii_letters + string.digits


def new_secret_id() -> str:
    return "AKID" + "".join(secrets.choice(ALPHABET) for _ in range(32))


def new_secret_key() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(32))


class APIKey(models.Model):
    """A SecretId/SecretKey pair that signs Tencent Cloud API 3.0 requests for one account.

    The SecretKey is encrypted at rest rather than hashed: TC3-HMAC-SHA256 needs the
    key itself on the server to recompute each request's signature.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    secret_id = models.CharField("SecretId", max_length=36, unique=True, default=new_secret_id)
    secret_key = EncryptedTextField(default=new_secret_key)
    enabled = models.BooleanField(default=True)
    last_used = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.secret_id


class SeenSignature(models.Model):
    """The signature of a request already answered.

    Tencent's clients sign only `content-type;host`, not the action, so a captured
    signature could be sent again, even as another action, while its timestamp is in
    the 5-minute window. A changing request needs a signature not seen before (the
    unique column decides, even between racing requests); reads are recorded but may
    repeat. Rows whose timestamp has left the window are pruned: such a request is
    refused as expired anyway.
    """

    signature = models.CharField(max_length=64, unique=True)
    timestamp = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return self.signature


class RequestCounter(models.Model):
    """How many requests one API key made for one action in the current second."""

    key = models.ForeignKey(APIKey, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=64)
    window = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "action"], name="one_request_counter_per_key_action")
        ]

    def __str__(self) -> str:
        return f"{self.key_id} {self.action} @{self.window}: {self.count}"


def new_task_file_name() -> str:
    return f"{secrets.token_hex(16)}.csv"


class TaskFile(models.Model):
    """A CSV of device names for CreateMultiDevicesTask, put to the URL CreateTaskFileUrl gave.

    The random name is the upload's only credential, as in a presigned URL: it takes
    one upload, within an hour. The file is deleted once a task has read it.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64, unique=True, default=new_task_file_name)
    data = models.BinaryField(blank=True, default=b"")
    size = models.PositiveIntegerField(default=0)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
