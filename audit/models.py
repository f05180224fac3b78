from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

APPEND_ONLY = "Audit Log entries are append-only: they are never changed or deleted."


class AppendOnlyError(Exception):
    pass


class AuditEntryQuerySet(models.QuerySet):
    """Reads and inserts only: a queryset cannot change or remove entries either."""

    def update(self, **kwargs):
        raise AppendOnlyError(APPEND_ONLY)

    def delete(self):
        raise AppendOnlyError(APPEND_ONLY)

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(APPEND_ONLY)

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise AppendOnlyError(APPEND_ONLY)


class AuditEntry(models.Model):
    """One change, or one secret handed out, as the Audit Log lists it.

    Written by `audit.services.record()` inside the transaction of the change it
    describes, and never changed or deleted afterwards.
    """

    class Source(models.TextChoices):
        CONSOLE = "console", "Console"
        API = "api", "API"
        BROKER = "broker", "Broker"
        SYSTEM = "system", "System"

    class ObjectType(models.TextChoices):
        CA_CERTIFICATE = "ca", "CA certificate"
        PRODUCT = "product", "Product"
        DEVICE = "device", "Device"
        BATCH = "batch", "Batch"
        API_KEY = "api_key", "API key"
        ACCOUNT = "account", "Account"

    class Action(models.TextChoices):
        CA_REGISTERED = "ca_registered", "CA registered"
        CA_UPDATED = "ca_updated", "CA updated"
        CA_DELETED = "ca_deleted", "CA deleted"
        CRL_UPLOADED = "crl_uploaded", "CRL uploaded"
        PRODUCT_CREATED = "product_created", "Product created"
        PRODUCT_DELETED = "product_deleted", "Product deleted"
        PRODUCT_FORBIDDEN = "product_forbidden", "Product forbidden"
        PRODUCT_ALLOWED = "product_allowed", "Product enabled"
        SECOND_CA_ADDED = "second_ca_added", "Second CA added"
        SECOND_CA_REMOVED = "second_ca_removed", "Second CA removed"
        PRODUCT_CA_SWAPPED = "product_ca_swapped", "Second CA made the product's CA"
        DEVICE_ADDED = "device_added", "Device added"
        DEVICE_ENABLED = "device_enabled", "Device enabled"
        DEVICE_DISABLED = "device_disabled", "Device disabled"
        DEVICE_DELETED = "device_deleted", "Device deleted"
        CERTIFICATE_REVOKED = "certificate_revoked", "Certificate revoked"
        CERTIFICATE_RENEWED = "certificate_renewed", "Certificate renewed"
        BATCH_STARTED = "batch_started", "Batch Add started"
        PRIVATE_KEY_DOWNLOADED = "private_key_downloaded", "Private key downloaded"
        BUNDLE_DOWNLOADED = "bundle_downloaded", "Bundle downloaded"
        PSK_SHOWN = "psk_shown", "PSK shown"
        PSK_CHANGED = "psk_changed", "PSK changed"
        API_KEY_CREATED = "api_key_created", "API key created"
        API_KEY_ENABLED = "api_key_enabled", "API key enabled"
        API_KEY_DISABLED = "api_key_disabled", "API key disabled"
        API_KEY_DELETED = "api_key_deleted", "API key deleted"
        SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
        CONNECTION_REFUSED = "connection_refused", "Connection refused"

    time = models.DateTimeField(default=timezone.now)
    # No database constraint and nothing done on delete: the record of what an
    # account did outlives the account. Null for a failed sign-in with an unknown username.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor = models.CharField(max_length=150)
    source = models.CharField(max_length=8, choices=Source.choices)
    ip = models.GenericIPAddressField("IP", null=True, blank=True)
    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    # The object's key where it has one a user knows (a Product ID, a SecretId), else its id;
    # the label is its name when the entry was written, so a deleted object still reads.
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    detail = models.CharField(max_length=255, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "audit entries"
        # Newest first by id: entries are only ever inserted, with the time of insertion.
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "-id"], name="audit_account_newest"),
            models.Index(fields=["account", "object_type", "-id"], name="audit_account_type_newest"),
            models.Index(fields=["account", "action", "-id"], name="audit_account_action_newest"),
            models.Index(fields=["account", "time"], name="audit_account_time"),
            # One object's history; the broker's refusal summary looks here.
            models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_label}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError(APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(APPEND_ONLY)
