"""Encryption at rest for private keys and PSKs (Fernet: AES-128-CBC + HMAC-SHA256).

`EncryptedTextField` stores ciphertext in the database and gives plaintext to
Python; the key comes from settings.IOTHUB_ENCRYPTION_KEY, never from the database.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key)


def encrypt(plaintext: str) -> str:
    return _fernet(settings.IOTHUB_ENCRYPTION_KEY).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet(settings.IOTHUB_ENCRYPTION_KEY).decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted: IOTHUB_ENCRYPTION_KEY is not the key it was stored with"
        ) from None


class EncryptedTextField(models.TextField):
    """A text column holding Fernet ciphertext; empty stays empty (no secret)."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
