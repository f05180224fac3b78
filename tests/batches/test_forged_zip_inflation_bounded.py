"""Certificate ZIPs are inflated with bounded memory: a forged size, a bomb, too much in total, too many entries."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from django.urls import reverse

from batches import forms, inputs
from batches.models import BatchRow, DeviceBatch
from products.models import Device
from tests.product_console import assert_field_error, custom_ca, make_product, register_ca, upload

INFLATED_BYTES = 40 * 1024 * 1024
DECLARED_BYTES = 1_000


def forged_size_zip() -> bytes:
    """One .crt entry that inflates to 40 MiB while both its headers say 1,000 bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dev_01.crt", b"A" * INFLATED_BYTES)
    data = bytearray(buffer.getvalue())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, DECLARED_BYTES)  # uncompressed size, local header
    struct.pack_into("<I", data, central + 24, DECLARED_BYTES)  # uncompressed size, central directory
    forged = bytes(data)
    assert zipfile.ZipFile(io.BytesIO(forged)).getinfo("dev_01.crt").file_size == DECLARED_BYTES
    return forged


class CountingInflater:
    """zlib's inflater, counting what each call hands back."""

    def __init__(self, inflater, calls: list[int]) -> None:
        self._inflater = inflater
        self._calls = calls

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = self._inflater.decompress(data, max_length)
        self._calls.append(len(out))
        return out

    def flush(self, *args) -> bytes:
        out = self._inflater.flush(*args)
        self._calls.append(len(out))
        return out

    def __getattr__(self, name: str):
        return getattr(self._inflater, name)


@pytest.fixture
def inflated(monkeypatch) -> list[int]:
    """The sizes of every piece zipfile inflates during the test."""
    calls: list[int] = []
    decompressobj = zlib.decompressobj
    monkeypatch.setattr(zlib, "decompressobj", lambda *args: CountingInflater(decompressobj(*args), calls))
    return calls


def refusal(data: bytes) -> str:
    with pytest.raises(inputs.InputError) as raised:
        inputs.read_certificate_zip(data)
    return raised.value.message


def test_a_forged_size_entry_is_refused_after_inflating_no_more_than_its_stated_size(inflated):
    data = forged_size_zip()

    message = refusal(data)

    assert message == inputs.ENTRY_DAMAGED.format(name="dev_01.crt")
    assert message == (
        '"dev_01.crt" in the ZIP file is damaged: it does not inflate to the size and checksum the '
        "archive states. Make the ZIP again and upload it."
    )
    assert inflated, "the entry was never inflated"
    assert max(inflated) <= inputs.INFLATE_CHUNK_BYTES
    assert sum(inflated) <= inputs.MAX_CERTIFICATE_BYTES  # of the 40 MiB the stream holds


def test_entries_inflate_a_chunk_at_a_time(inflated):
    certificate = bytes(range(256)) * 200  # 51,200 bytes: several chunks, under 64 KiB
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dev_01.crt", certificate)

    files = inputs.read_certificate_zip(buffer.getvalue())

    assert files == [inputs.CertificateFile("dev_01.crt", certificate)]
    assert sum(inflated) == len(certificate)
    assert max(inflated) <= inputs.INFLATE_CHUNK_BYTES


def test_an_archive_over_32_mib_in_total_is_refused_before_inflating(inflated):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number in range(513):  # 513 × 64 KiB: one entry over 32 MiB
            archive.writestr(f"dev_{number:03d}.crt", b"\0" * inputs.MAX_CERTIFICATE_BYTES)

    message = refusal(buffer.getvalue())

    assert message == inputs.ARCHIVE_TOO_LARGE
    assert message == (
        "The certificates in the ZIP file add up to more than 32 MiB uncompressed; a batch ZIP may hold "
        "at most 32 MiB. Split it into several batches."
    )
    assert sum(inflated) == 0


def test_an_archive_listing_too_many_entries_is_refused_before_its_directory_is_read(monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for number in range(inputs.MAX_ARCHIVE_ENTRIES + 1):
            archive.writestr(f"{number}.txt", b"")
    monkeypatch.setattr(zipfile, "ZipFile", lambda *args: pytest.fail("the directory was read"))

    message = refusal(buffer.getvalue())

    assert message == inputs.TOO_MANY_ENTRIES
    assert message == (
        "The ZIP file lists more than 20,000 entries; a batch ZIP may list at most 20,000. "
        "Split it into several batches."
    )


def test_an_entry_compressed_other_than_by_deflate_is_refused_unread(inflated):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("dev_01.crt", b"certificate")

    assert refusal(buffer.getvalue()) == inputs.ENTRY_COMPRESSION_UNSUPPORTED.format(name="dev_01.crt")


@pytest.mark.django_db
def test_batch_page_refuses_a_forged_size_zip_and_stores_nothing(
    signed_in_client, user, inflated, django_capture_on_commit_callbacks
):
    product = make_product(user, "meters", ca_certificate=register_ca(user, custom_ca()))

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.UPLOAD, "certificates_file": upload("devices.zip", forged_size_zip())},
        )

    assert response.status_code == 200
    assert_field_error(response, "certificates_file", inputs.ENTRY_DAMAGED.format(name="dev_01.crt"))
    assert sum(inflated) <= inputs.MAX_CERTIFICATE_BYTES
    assert not DeviceBatch.objects.exists()
    assert not BatchRow.objects.exists()
    assert not Device.objects.exists()
