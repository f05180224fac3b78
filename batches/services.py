"""Batch device creation: queue a batch, run it in chunks, report, and hand out the results.

Every row goes through `products.services.prepare_device`, the same checks as a
single Add Device; what a batch adds is doing the database work a chunk at a time.
A chunk's devices and its rows' results are written in one transaction, so a batch
that dies half-way leaves every finished chunk complete and every other row pending.
"""

from __future__ import annotations

import io
import logging
import secrets
import tempfile
import time
import zipfile
from collections.abc import Iterable

from cryptography import x509 as cx509
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.locking import lock_account
from audit import services as audit
from certificates import x509
from iothub_console.errors import ServiceError
from iothub_console.spreadsheet import SpreadsheetWriter
from iothub_console.validators import printable
from lifecycle import services as lifecycle
from products import bundles, platform
from products import selectors as product_selectors
from products import services as product_services
from products.models import Device, Product

from .models import BatchRow, DeviceBatch

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
ROW_INSERT_BATCH = 1000
RESULTS_SPOOL_BYTES = 64 * 1024 * 1024

INVALID_VALUE_CODE = "InvalidParameterValue"
CERTIFICATES_NEED_CUSTOM_CA = (
    "Only products bound to your own CA take a ZIP of device certificates. This product's devices get "
    "{what}: auto-generate them or upload a CSV of names instead."
)
NAMES_NEED_ISSUER = (
    'This product\'s devices need certificates issued by "{ca}": upload a ZIP of those certificates '
    "(each certificate's Common Name is the Product ID followed by the device name)."
)
DUPLICATE_IN_BATCH = (
    'The device name "{name}" appears more than once in this batch; only its first row is used.'
)
CERTIFICATE_FOR_OTHER_PRODUCT = (
    'The certificate\'s Common Name "{common_name}" does not start with the Product ID {product_id}, '
    "so it does not name a device of this product."
)
RENEWAL_NEEDS_PLATFORM_CA = (
    "Only devices whose certificates the Platform CA issues are renewed in a batch; renew the others "
    "one by one with a replacement certificate issued by your CA (Renew Certificate on the device page)."
)
BATCH_FAILED = "The batch stopped at an unexpected error ({error}); the devices created before it are kept."
BATCH_INTERRUPTED = (
    "The batch was interrupted ({error}: its worker was stopped); the devices created before it are kept. "
    "Resume finishes it."
)
BATCH_NOT_RESUMABLE_CODE = "FailedOperation.BatchNotResumable"
BATCH_NOT_RESUMABLE = (
    "Only a batch that stopped can be resumed: this one is queued, running or finished. "
    "A running batch whose worker died can be resumed {seconds} seconds after its last progress."
)
BATCH_STALLED = (
    "No progress for more than {seconds} seconds: the worker running this batch has stopped. "
    "Resume queues it again; it carries on without repeating the devices already created."
)
BATCH_RESUMED = "Batch queued again: it carries on from the rows not yet done."


class _Superseded(Exception):
    """The batch was queued again (Resume) while this task ran: the newer task carries on."""


def start_batch(
    *,
    owner: User,
    product: Product,
    kind: str,
    names: Iterable[str] = (),
    certificates: Iterable[tuple[str, bytes]] = (),
    source_name: str = "",
) -> DeviceBatch:
    """Store the batch and its rows, then queue the task that creates the devices."""
    _check_kind_fits_product(kind, product)
    if product.forbidden:
        raise ServiceError(
            product_services.PRODUCT_FORBIDDEN_CODE,
            product_services.PRODUCT_IS_FORBIDDEN.format(name=product.name),
        )
    with transaction.atomic():
        batch = DeviceBatch.objects.create(
            owner=owner, product=product, kind=kind, source_name=source_name[:255], lease=_new_lease()
        )
        if kind == DeviceBatch.Kind.CERTIFICATES:
            rows = [
                _certificate_row(batch, number, file_name, data)
                for number, (file_name, data) in enumerate(certificates, start=1)
            ]
        else:
            rows = [
                BatchRow(batch=batch, number=number, device_name=printable(name)[:255])
                for number, name in enumerate(names, start=1)
            ]
        BatchRow.objects.bulk_create(rows, batch_size=ROW_INSERT_BATCH)
        batch.total = len(rows)
        batch.processed = batch.failed = sum(1 for row in rows if row.result == BatchRow.Result.FAILED)
        batch.save(update_fields=["total", "processed", "failed", "last_updated"])
        audit.record_batch(batch, product)
        transaction.on_commit(lambda: _enqueue(batch.pk, batch.lease))
    return batch


def _certificate_row(batch: DeviceBatch, number: int, file_name: str, data: bytes) -> BatchRow:
    row = BatchRow(batch=batch, number=number, source_file=file_name[:255], certificate_data=data)
    # x509.load_certificate's own test, made here because the row is stored before it
    # runs: a private key zipped by mistake must not reach the database ("It was not stored").
    if x509.holds_private_key(data):
        row.certificate_data = b""
        _fail(row, product_services.CERT_INVALID_CODE, f"{row.source_file}: {x509.PRIVATE_KEY_REFUSED}")
    return row


def _check_kind_fits_product(kind: str, product: Product) -> None:
    if kind == DeviceBatch.Kind.RENEWAL:
        if not product.uses_platform_ca:
            raise ServiceError(product_services.WRONG_AUTH_TYPE_CODE, RENEWAL_NEEDS_PLATFORM_CA)
        return
    if kind == DeviceBatch.Kind.CERTIFICATES and not product.ca_certificate_id:
        what = "keys (PSK)" if not product.uses_certificates else "certificates from the Platform CA"
        raise ServiceError(
            product_services.WRONG_AUTH_TYPE_CODE, CERTIFICATES_NEED_CUSTOM_CA.format(what=what), "method"
        )
    if kind != DeviceBatch.Kind.CERTIFICATES and product.ca_certificate is not None:
        raise ServiceError(
            product_services.WRONG_AUTH_TYPE_CODE,
            NAMES_NEED_ISSUER.format(ca=product.ca_certificate.name),
            "method",
        )


def _new_lease() -> str:
    return secrets.token_hex(16)


def _enqueue(batch_id: int, lease: str) -> None:
    from .tasks import run_device_batch

    result = run_device_batch.enqueue(batch_id, lease)
    DeviceBatch.objects.filter(pk=batch_id, lease=lease).update(task_id=str(result.id)[:64])


def resume_batch(*, batch: DeviceBatch) -> DeviceBatch:
    """Queue a stopped batch again; its task carries on from the pending rows.

    The new lease retires the task that ran it before: if that task is only slow,
    not dead, it stops at its next write instead of racing the new one.
    """
    with transaction.atomic():
        locked = DeviceBatch.objects.select_for_update().get(pk=batch.pk)
        if not locked.can_resume:
            raise ServiceError(
                BATCH_NOT_RESUMABLE_CODE,
                BATCH_NOT_RESUMABLE.format(seconds=settings.IOTHUB_BATCH_STALLED_SECONDS),
            )
        lease = _new_lease()
        DeviceBatch.objects.filter(pk=locked.pk).update(
            status=DeviceBatch.Status.QUEUED,
            lease=lease,
            heartbeat_at=None,
            error="",
            finished_at=None,
            last_updated=timezone.now(),
        )
        transaction.on_commit(lambda: _enqueue(locked.pk, lease))
    locked.refresh_from_db()
    return locked


def resume_stalled_batches() -> list[int]:
    """Queue again every running batch whose worker has given no sign of life (what workers look for)."""
    resumed = []
    for batch in DeviceBatch.objects.stalled().only("pk"):
        try:
            resume_batch(batch=batch)
        except ServiceError:  # it came back to life, or another worker resumed it first
            continue
        logger.warning("Batch %s had stalled (its worker died); queued again", batch.pk)
        resumed.append(batch.pk)
    return resumed


class _Heartbeat:
    """Shows the batch is alive every quarter of the stall interval, and notices when it was superseded."""

    def __init__(self, batch_id: int, lease: str) -> None:
        self.batch_id = batch_id
        self.lease = lease
        self.interval = settings.IOTHUB_BATCH_STALLED_SECONDS / 4
        self.last = time.monotonic()

    def beat(self) -> None:
        if time.monotonic() - self.last < self.interval:
            return
        if not self.batch().update(heartbeat_at=timezone.now()):
            raise _Superseded
        self.last = time.monotonic()

    def batch(self) -> QuerySet[DeviceBatch]:
        """The batch, as long as this task's lease holds."""
        return DeviceBatch.objects.filter(pk=self.batch_id, lease=self.lease)


def run_batch(batch_id: int, lease: str | None = None) -> None:
    """Create the batch's pending devices, chunk by chunk; mark the batch finished or failed.

    A task whose lease is no longer the batch's (the batch was resumed and handed to
    a newer task) does nothing; without a lease (a direct call) the batch's own is used.
    """
    batch = DeviceBatch.objects.select_related("product__ca_certificate", "owner").get(pk=batch_id)
    if batch.is_finished:
        return
    heartbeat = _Heartbeat(batch.pk, batch.lease if lease is None else lease)
    if (
        not heartbeat.batch()
        .exclude(status__in=[DeviceBatch.Status.SUCCEEDED, DeviceBatch.Status.FAILED])
        .update(
            status=DeviceBatch.Status.RUNNING,
            started_at=batch.started_at or timezone.now(),
            heartbeat_at=timezone.now(),
        )
    ):
        return
    try:
        product = batch.product
        authority = platform.device_ca() if product.uses_platform_ca else None
        issuer = (
            x509.load_certificate(product.ca_certificate.certificate_pem.encode("ascii"))
            if product.ca_certificate_id
            else None
        )
        while True:
            rows = list(batch.rows.filter(result=BatchRow.Result.PENDING).order_by("number")[:CHUNK_SIZE])
            if not rows:
                break
            if batch.kind == DeviceBatch.Kind.RENEWAL:
                _renew_chunk(batch, product, rows, heartbeat)
            else:
                _process_chunk(batch, product, rows, authority, issuer, heartbeat)
    except _Superseded:
        logger.info("Batch %s was resumed by another task; this one stops", batch_id)
        return
    # BaseException: a worker stopped by Ctrl-C or SIGTERM raises KeyboardInterrupt or
    # SystemExit here, and the batch must not be left looking as if it were running.
    except BaseException as error:
        logger.exception("Batch %s failed", batch_id)
        template = BATCH_FAILED if isinstance(error, Exception) else BATCH_INTERRUPTED
        heartbeat.batch().update(
            status=DeviceBatch.Status.FAILED,
            error=template.format(error=f"{type(error).__name__}: {error}"[:500]),
            finished_at=timezone.now(),
        )
        if not isinstance(error, Exception):
            raise
        return
    heartbeat.batch().update(status=DeviceBatch.Status.SUCCEEDED, finished_at=timezone.now())


def _process_chunk(
    batch: DeviceBatch,
    product: Product,
    rows: list[BatchRow],
    authority: platform.Authority | None,
    issuer: cx509.Certificate | None,
    heartbeat: _Heartbeat,
) -> None:
    prepared: list[tuple[BatchRow, Device]] = []
    for row in rows:
        heartbeat.beat()
        try:
            name, credentials = _device_name_and_credentials(row, product)
            device = product_services.prepare_device(
                product=product, name=name, credentials=credentials, authority=authority, issuer=issuer
            )
        except ServiceError as error:
            _fail(row, error.code, error.message)
        else:
            prepared.append((row, device))

    with transaction.atomic():
        lock_account(batch.owner)
        product.refresh_from_db(fields=["forbidden"])
        to_create = _refuse_conflicts(product, prepared)
        product_services.insert_devices(product, [device for _, device in to_create])
        product_services.count_devices(product, len(to_create))
        for row, device in to_create:
            row.result = BatchRow.Result.CREATED
            row.device = device
        for row in rows:
            # The upload has served its purpose; the device row holds the certificate now.
            row.certificate_data = b""
        _save_results(rows)
        _count_chunk(rows, heartbeat)


def _count_chunk(rows: list[BatchRow], heartbeat: _Heartbeat) -> None:
    failures = sum(1 for row in rows if row.result == BatchRow.Result.FAILED)
    now = timezone.now()
    if not heartbeat.batch().update(
        processed=F("processed") + len(rows),
        failed=F("failed") + failures,
        heartbeat_at=now,
        last_updated=now,
    ):
        raise _Superseded  # rolls back the chunk: the task that resumed the batch does these rows


def _renew_chunk(batch: DeviceBatch, product: Product, rows: list[BatchRow], heartbeat: _Heartbeat) -> None:
    """Give each row's device a new key and certificate, each renewal in its own transaction.

    A device this batch already renewed (before a crash and a resume) is not renewed
    again: that would revoke at once the certificate the device still uses.
    """
    devices = {
        device.name: device
        for device in Device.objects.filter(product=product, name__in=[row.device_name for row in rows])
    }
    for row in rows:
        heartbeat.beat()
        device = devices.get(row.device_name)
        if device is None:
            _fail(
                row,
                product_selectors.DEVICE_NOT_EXIST_CODE,
                product_selectors.DEVICE_NOT_FOUND.format(name=row.device_name),
            )
            continue
        device.product = product
        try:
            if not lifecycle.renewed_since(device, batch.started_at):
                lifecycle.renew_certificate(device=device, credentials=product_services.DeviceCredentials())
        except ServiceError as error:
            _fail(row, error.code, error.message)
        else:
            row.result, row.device = BatchRow.Result.RENEWED, device
    with transaction.atomic():
        _save_results(rows)
        _count_chunk(rows, heartbeat)


def _save_results(rows: list[BatchRow]) -> None:
    """Write the chunk's row results with one prepared UPDATE run per row.

    bulk_update builds a CASE WHEN per field and row and dominated a batch's run
    time; deleting and re-inserting the rows was better, this is better still.
    """
    quote = connection.ops.quote_name
    columns = ("device_name", "result", "error_code", "message", "device_id", "certificate_data")
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    statement = f"UPDATE {quote(BatchRow._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608  (quoted names, values bound)
    with connection.cursor() as cursor:
        cursor.executemany(
            statement,
            [
                (
                    # A name or message can quote what the user sent (a CN with NUL in it):
                    # PostgreSQL stores no NUL, and no control character belongs on a page.
                    printable(row.device_name),
                    row.result,
                    row.error_code,
                    printable(row.message),
                    row.device_id,
                    bytes(row.certificate_data),
                    row.pk,
                )
                for row in rows
            ],
        )


def _device_name_and_credentials(
    row: BatchRow, product: Product
) -> tuple[str, product_services.DeviceCredentials]:
    """For certificate rows the name is the certificate's CN minus the Product ID."""
    if not row.certificate_data:
        return row.device_name, product_services.DeviceCredentials()
    data = bytes(row.certificate_data)
    try:
        certificate = x509.load_certificate(data)
    except x509.CertificateError as error:
        raise ServiceError(
            product_services.CERT_INVALID_CODE, f"{row.source_file}: {error.message}"
        ) from None
    common_name = x509.common_name(certificate.subject)
    if not common_name.startswith(product.product_id) or len(common_name) == len(product.product_id):
        raise ServiceError(
            product_services.CERT_INVALID_CODE,
            CERTIFICATE_FOR_OTHER_PRODUCT.format(common_name=common_name, product_id=product.product_id),
        )
    row.device_name = common_name[len(product.product_id) :][:255]
    return row.device_name, product_services.DeviceCredentials(
        certificate_data=data, loaded_certificate=certificate
    )


def _refuse_conflicts(
    product: Product, prepared: list[tuple[BatchRow, Device]]
) -> list[tuple[BatchRow, Device]]:
    """Drop rows whose name or certificate is already taken, in the product or earlier in the batch."""
    if product.forbidden:
        for row, _ in prepared:
            _fail(
                row,
                product_services.PRODUCT_FORBIDDEN_CODE,
                product_services.PRODUCT_IS_FORBIDDEN.format(name=product.name),
            )
        return []
    names = [device.name for _, device in prepared]
    taken_names = set(Device.objects.filter(product=product, name__in=names).values_list("name", flat=True))
    fingerprints = [
        device.certificate_fingerprint for _, device in prepared if device.certificate_fingerprint
    ]
    taken_fingerprints = set(
        Device.objects.filter(certificate_fingerprint__in=fingerprints).values_list(
            "certificate_fingerprint", flat=True
        )
    )
    accepted = []
    accepted_names: set[str] = set()  # to tell a repeat within the batch from a name already in use
    for row, device in prepared:
        if device.name in taken_names:
            template = (
                DUPLICATE_IN_BATCH if device.name in accepted_names else product_services.DEVICE_NAME_TAKEN
            )
            _fail(row, product_services.DEVICE_EXISTS_CODE, template.format(name=device.name))
        elif device.certificate_fingerprint and device.certificate_fingerprint in taken_fingerprints:
            _fail(row, product_services.CERT_INVALID_CODE, product_services.CERTIFICATE_IN_USE)
        else:
            accepted.append((row, device))
            accepted_names.add(device.name)
            taken_names.add(device.name)
            if device.certificate_fingerprint:
                taken_fingerprints.add(device.certificate_fingerprint)
    return accepted


def _fail(row: BatchRow, code: str, message: str) -> None:
    row.result = BatchRow.Result.FAILED
    row.error_code = code
    row.message = message


def progress(batch: DeviceBatch) -> dict:
    return {
        "status": batch.status,
        "status_display": batch.get_status_display(),
        "total": batch.total,
        "processed": batch.processed,
        "succeeded": batch.succeeded,
        "failed": batch.failed,
        "percent": batch.percent,
        "seconds_left": batch.seconds_left(),
        "finished": batch.is_finished,
        "error": batch.error,
        "stalled": batch.is_stalled(),
        "can_resume": batch.can_resume,
    }


def results_archive(*, batch: DeviceBatch) -> tempfile.SpooledTemporaryFile:
    """The results ZIP: results.csv, the CA files, and a folder per created device.

    Generated private keys go in once: the first download takes them, as the
    single-device download does, and later downloads have certificates only.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=RESULTS_SPOOL_BYTES)  # noqa: SIM115  (returned open to the view)
    product = batch.product
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("results.csv", _results_csv(batch))
        if product.uses_certificates:
            # The same trust files as a device bundle, once for the whole batch.
            archive.writestr(bundles.DEVICE_CA_FILE, product_selectors.product_device_ca_pem(product))
            archive.writestr(bundles.CA_FILE, platform.root_ca().certificate_pem)
        created = (
            batch.rows.filter(
                result__in=[BatchRow.Result.CREATED, BatchRow.Result.RENEWED], device__isnull=False
            )
            .order_by("number")
            .values_list("device_id", flat=True)
        )
        device_ids = list(created)
        for start in range(0, len(device_ids), CHUNK_SIZE):
            _write_devices(archive, product, device_ids[start : start + CHUNK_SIZE])
    spool.seek(0)
    return spool


def _write_devices(archive: zipfile.ZipFile, product: Product, device_ids: list[int]) -> None:
    with transaction.atomic():
        devices = list(Device.objects.select_for_update().filter(pk__in=device_ids).order_by("name"))
        taken = []
        for device in devices:
            folder = device.name.replace(":", "_")
            if device.certificate_pem:
                archive.writestr(f"{folder}/{device.name}_cert.crt", device.certificate_pem)
            if device.private_key_retrievable:
                entry = zipfile.ZipInfo(f"{folder}/{device.name}_private.key")
                entry.external_attr = 0o600 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, device.private_key_pem)
                taken.append(device.pk)
            if device.psk:
                archive.writestr(f"{folder}/psk.txt", device.psk + "\n")
        if taken:
            Device.objects.filter(pk__in=taken).update(
                private_key_pem="", private_key_fetched=True, last_updated=timezone.now()
            )


def _results_csv(batch: DeviceBatch) -> str:
    """One line per row; cells a spreadsheet would run as formulas (a device named -2-3) are neutralised."""
    buffer = io.StringIO()
    writer = SpreadsheetWriter(buffer)
    writer.writerow(["row", "device_name", "source_file", "result", "error_code", "message"])
    rows = batch.rows.order_by("number").values_list(
        "number", "device_name", "source_file", "result", "error_code", "message"
    )
    for row in rows.iterator(chunk_size=2000):
        writer.writerow(row)
    return buffer.getvalue()
