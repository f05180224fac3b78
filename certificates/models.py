from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from .validators import CA_NAME_MAX, validate_ca_name, validate_certificate_name_text

EXPIRY_WARNING_DAYS = 30


def expiry_status(not_after, now) -> str:
    """The badge a certificate's end date earns: expired, expiring (within 30 days), valid, or none."""
    if not_after is None:
        return ""
    if not_after <= now:
        return "expired"
    if not_after <= now + timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


class CACertificateQuerySet(models.QuerySet):
    def with_product_counts(self) -> CACertificateQuerySet:
        return self.annotate(product_count=models.Count("products"))


class CACertificate(models.Model):
    """A private CA registered by an account, trusted to issue its device certificates."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ca_certificates"
    )
    name = models.CharField(max_length=CA_NAME_MAX, validators=[validate_ca_name])
    certificate_pem = models.TextField()
    fingerprint_sha256 = models.CharField(max_length=64)
    subject = models.TextField(validators=[validate_certificate_name_text])
    common_name = models.CharField(max_length=255, blank=True, validators=[validate_certificate_name_text])
    issuer = models.TextField(validators=[validate_certificate_name_text])
    serial_hex = models.CharField(max_length=64)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    key_description = models.CharField(max_length=32)
    signature_hash = models.CharField(max_length=32)
    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    objects = CACertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_ca_name_per_owner"),
            models.UniqueConstraint(
                fields=["owner", "fingerprint_sha256"], name="unique_ca_fingerprint_per_owner"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("certificates:ca_detail", args=[self.pk])

    @property
    def is_self_signed(self) -> bool:
        return self.subject == self.issuer

    @property
    def expiry_status(self) -> str:
        """`expired`, `expiring` (within 30 days) or `valid`, for the list badge."""
        return expiry_status(self.not_after, timezone.now())


def new_code() -> str:
    return secrets.token_hex(32)


class AuthenticationCode(models.Model):
    """A challenge for proof of possession of a CA's private key.

    An account has at most one current code: a registration uses it up, and a
    regeneration or 24 hours retire it. Used and retired codes are kept so that a
    verification certificate made for one gets a message saying exactly that.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authentication_codes"
    )
    code = models.CharField(max_length=64, unique=True, default=new_code)
    created = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["owner", "-created"], name="authcode_owner_created")]

    def __str__(self) -> str:
        return f"{self.code[:8]}… ({self.owner})"

    @property
    def expires_at(self):
        return self.created + timedelta(hours=settings.IOTHUB_AUTH_CODE_LIFETIME_HOURS)

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at

    def is_current(self, now=None) -> bool:
        return self.used_at is None and self.retired_at is None and not self.is_expired(now)
