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
