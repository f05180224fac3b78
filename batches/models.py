from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


def stalled_after() -> timedelta:
    return timedelta(seconds=settings.IOTHUB_BATCH_STALLED_SECONDS)


class DeviceBatchQuerySet(models.QuerySet):
    def stalled(self, now: datetime | None = None) -> DeviceBatchQuerySet:
        """Running batches whose worker has given no sign of life for the stall interval."""
        cutoff = (now or timezone.now()) - stalled_after()
        return self.filter(status=DeviceBatch.Status.RUNNING).filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, last_updated__lt=cutoff)
        )


class DeviceBatch(models.Model):
    """Many devices added to one product by a background task, row by row."""

    class Kind(models.TextChoices):
        AUTO = "auto", "Auto-generate"
        NAMES = "names", "Batch upload (CSV of device names)"
        CERTIFICATES = "certificates", "Batch upload (ZIP of device certificates)"
        RENEWAL = "renewal", "Renew certificates expiring soon"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="device_batches"
    )
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="batches")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    # Which queued task may run the batch: a new one is drawn when the batch is queued
    # again (Resume), and a task holding an older one stops before its next write.
    lease = models.CharField(max_length=32, blank=True)
    # The running task's last sign of life; a running batch without one for a while
    # lost its worker (killed, machine gone) and may be resumed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    objects = DeviceBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"Batch {self.pk} of {self.product}"

    def get_absolute_url(self) -> str:
        return reverse("batches:batch_detail", args=[self.pk])

    @property
    def succeeded(self) -> int:
        return self.processed - self.failed

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.processed / self.total)

    def is_stalled(self, now: datetime | None = None) -> bool:
        """Running, but its worker has given no sign of life for the stall interval (as `stalled()`)."""
        if self.status != self.Status.RUNNING:
            return False
        last_sign = self.heartbeat_at or self.last_updated
        return last_sign < (now or timezone.now()) - stalled_after()

    @property
    def can_resume(self) -> bool:
        """Nothing is running it: its worker died, or it stopped at an error with rows left to do."""
        return self.is_stalled() or (self.status == self.Status.FAILED and self.processed < self.total)

    def seconds_left(self, now=None) -> int | None:
        """From the rate so far; None until there is a rate to go by."""
        if self.is_finished or not self.started_at or not self.processed:
            return None
        elapsed = ((now or timezone.now()) - self.started_at) / timedelta(seconds=1)
        return max(0, round(elapsed / self.processed * (self.total - self.processed)))


class BatchRow(models.Model):
    """One device of a batch and what became of it."""

    class Result(models.TextChoices):
        PENDING = "pending", "Pending"
        CREATED = "created", "Created"
        RENEWED = "renewed", "Renewed"
        FAILED = "failed", "Failed"

    batch = models.ForeignKey(DeviceBatch, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField()
    device_name = models.CharField(max_length=255, blank=True)
    # For certificate batches: the uploaded certificate (public data) and its file name.
    source_file = models.CharField(max_length=255, blank=True)
    certificate_data = models.BinaryField(blank=True, default=b"")
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.PENDING)
    error_code = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    device = models.ForeignKey(
        "products.Device", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["batch", "number"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "number"], name="unique_row_number_per_batch")
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.number} {self.device_name}"
