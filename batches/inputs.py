"""Reading batch inputs: CSV files of device names, ZIPs of certificates, generated names.

Pure code (no Django): every refusal is an `InputError` whose message names the
problem and, where it is one line or one file, which.
"""

from __future__ import annotations

import csv
import io
import secrets
import string
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from certificates.x509 import MAX_CERTIFICATE_FILE_BYTES
from iothub_console.errors import RuleError

MAX_DEVICES = 10_000
# The console's one limit on a certificate file holds for each ZIP entry too.
MAX_CERTIFICATE_BYTES = MAX_CERTIFICATE_FILE_BYTES
# What one certificate ZIP may hold once inflated, and how many entries (certificates,
# folders and anything else) it may list: 10,000 certificates of 3 KiB fit in both.
MAX_ARCHIVE_BYTES = 32 * 1024 * 1024
MAX_ARCHIVE_ENTRIES = 20_000
INFLATE_CHUNK_BYTES = 16 * 1024
# Every record of a ZIP's central directory starts with these bytes, so their count in
# the upload bounds how many entries zipfile will build an object for.
CENTRAL_DIRECTORY_SIGNATURE = b"PK\x01\x02"
# Stored and Deflate are what ZIP tools write; zipfile inflates bzip2 and LZMA entries
# in unbounded steps, so they are refused rather than read.
READABLE_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
CERTIFICATE_SUFFIXES = {".crt", ".pem", ".cer"}
NAME_HEADERS = {"devicename", "device_name", "device name", "name"}
RANDOM_NAME_LENGTH = 18
RANDOM_NAME_ALPHABET = string.ascii_letters + string.digits

TOO_MANY = (
    "The {what} has {count:,} devices; a batch may have at most {limit:,}. Split it into several batches."
)
NOT_UTF8 = "The CSV file is not UTF-8 text. Save it as CSV UTF-8 and upload it again."
NOT_CSV = (
    "Line {line} of the CSV file cannot be read as CSV (a field longer than 131,072 characters "
    "or broken quoting). Put one device name per line."
)
NO_NAMES = "The CSV file has no device names: put one name per line (a header line DeviceName is optional)."
NOT_A_ZIP = "The file is not a ZIP archive. Upload a .zip holding one certificate file per device."
NO_CERTIFICATES = "The ZIP file holds no .crt, .pem or .cer files."
ENTRY_TOO_LARGE = '"{name}" in the ZIP file is {size:,} bytes; certificate files may be at most 64 KiB.'
ENTRY_INFLATES_TOO_LARGE = (
    '"{name}" in the ZIP file inflates to more than 64 KiB; certificate files may be at most 64 KiB.'
)
ENTRY_DAMAGED = (
    '"{name}" in the ZIP file is damaged: it does not inflate to the size and checksum the archive '
    "states. Make the ZIP again and upload it."
)
ENTRY_COMPRESSION_UNSUPPORTED = (
    '"{name}" in the ZIP file is compressed with a method other than Deflate. '
    "Make the ZIP with standard compression and upload it again."
)
ARCHIVE_TOO_LARGE = (
    "The certificates in the ZIP file add up to more than 32 MiB uncompressed; a batch ZIP may hold "
    "at most 32 MiB. Split it into several batches."
)
TOO_MANY_ENTRIES = (
    "The ZIP file lists more than 20,000 entries; a batch ZIP may list at most 20,000. "
    "Split it into several batches."
)
QUANTITY_OUT_OF_RANGE = "Choose between 1 and {limit:,} devices."
PREFIX_TOO_LONG = (
    "With {count:,} devices the prefix may be at most {room} characters, so that names fit in 48."
)


class InputError(RuleError, ValueError):
    """A batch input broke a rule; `message` names the line or file where it can."""


@dataclass(frozen=True)
class CertificateFile:
    name: str
    data: bytes


def read_device_names(data: bytes, limit: int = MAX_DEVICES) -> list[str]:
    """Device names from a CSV file's first column, in order, as written.

    A UTF-8 byte-order mark, CRLF line endings, blank lines and one header line are
    allowed. Names are not validated or de-duplicated here: each row is judged by the
    device rules when the batch runs, so a bad row is reported, not dropped.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(NOT_UTF8) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        names = [row[0].strip() for row in reader if row and row[0].strip()]
    except csv.Error:
        raise InputError(NOT_CSV.format(line=reader.line_num)) from None
    if names and names[0].lower() in NAME_HEADERS:
        names = names[1:]
    if not names:
        raise InputError(NO_NAMES)
    if len(names) > limit:
        raise InputError(TOO_MANY.format(what="CSV file", count=len(names), limit=limit))
    return names


def read_certificate_zip(data: bytes, limit: int = MAX_DEVICES) -> list[CertificateFile]:
    """The certificate files in a ZIP, in name order; directories and other files are skipped.

    Memory stays bounded whatever the archive claims: sizes from the directory are
    checked before anything is inflated (a ZIP bomb is refused unexpanded), and each
    entry is then inflated a chunk at a time and counted, so an entry whose header
    understates its size stops at the limit instead of being inflated whole.
    """
    if data.count(CENTRAL_DIRECTORY_SIGNATURE) > MAX_ARCHIVE_ENTRIES:
        raise InputError(TOO_MANY_ENTRIES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InputError(NOT_A_ZIP) from None
    with archive:
        entries = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and PurePosixPath(info.filename).suffix.lower() in CERTIFICATE_SUFFIXES
            and not PurePosixPath(info.filename).name.startswith(".")
            and "__MACOSX" not in PurePosixPath(info.filename).parts
        ]
        if not entries:
            raise InputError(NO_CERTIFICATES)
        if len(entries) > limit:
            raise InputError(TOO_MANY.format(what="ZIP file", count=len(entries), limit=limit))
        for info in entries:
            if info.file_size > MAX_CERTIFICATE_BYTES:
                raise InputError(ENTRY_TOO_LARGE.format(name=info.filename, size=info.file_size))
            if info.compress_type not in READABLE_COMPRESSION:
                raise InputError(ENTRY_COMPRESSION_UNSUPPORTED.format(name=info.filename))
        if sum(info.file_size for info in entries) > MAX_ARCHIVE_BYTES:
            raise InputError(ARCHIVE_TOO_LARGE)
        files = []
        budget = MAX_ARCHIVE_BYTES
        for info in sorted(entries, key=lambda entry: entry.filename):
            content = _inflate(archive, info, budget)
            budget -= len(content)
            files.append(CertificateFile(name=info.filename, data=content))
        return files


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """One entry's bytes, read a bounded chunk at a time; refused past 64 KiB or the archive's budget."""
    parts = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(INFLATE_CHUNK_BYTES):
                size += len(chunk)
                if size > MAX_CERTIFICATE_BYTES:
                    raise InputError(ENTRY_INFLATES_TOO_LARGE.format(name=info.filename))
                if size > budget:
                    raise InputError(ARCHIVE_TOO_LARGE)
                parts.append(chunk)
    # A sound directory can still hold an entry that does not inflate: zlib raises its
    # own error, a stream that ends early is an EOFError, and an entry that inflates to
    # more than its header says ends at the stated size with a wrong checksum (BadZipFile).
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError, zlib.error):
        raise InputError(ENTRY_DAMAGED.format(name=info.filename)) from None
    return b"".join(parts)


def generated_names(quantity: int, prefix: str = "", limit: int = MAX_DEVICES) -> list[str]:
    """`prefix` + a zero-padded counter, or 18 random letters and digits each."""
    if not 1 <= quantity <= limit:
        raise InputError(QUANTITY_OUT_OF_RANGE.format(limit=limit))
    if prefix:
        width = len(str(quantity))
        room = 48 - width
        if len(prefix) > room:
            raise InputError(PREFIX_TOO_LONG.format(count=quantity, room=room))
        return [f"{prefix}{number:0{width}d}" for number in range(1, quantity + 1)]
    names: set[str] = set()
    while len(names) < quantity:
        names.add("".join(secrets.choice(RANDOM_NAME_ALPHABET) for _ in range(RANDOM_NAME_LENGTH)))
    return list(names)
