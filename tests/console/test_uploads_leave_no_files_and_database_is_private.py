"""Uploads never touch the temporary directory; a new SQLite database is readable by its owner only."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.core.handlers.wsgi import WSGIRequest
from django.db import connection
from django.http import UnreadablePostError

from certificates.models import CACertificate
from tests.programs import manage_py

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = "----console-test-boundary"
UPLOAD_BYTES = 3 * 1024 * 1024  # above Django's default 2.5 MiB, which went to disk


def multipart_head(size: int) -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="certificates_file"; filename="certs.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode() + b"\0" * size


class CutOffUpload(io.RawIOBase):
    """A request body that stops half-way, as when the client goes away.

    Just before failing it notes what the temporary directory holds, which is what
    a server killed at that moment would leave there.
    """

    def __init__(self, data: bytes, directory: Path) -> None:
        self.stream = io.BytesIO(data)
        self.directory = directory
        self.left_behind: list[str] | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        if not chunk:
            self.left_behind = os.listdir(self.directory)
            raise UnreadablePostError("client went away")
        return chunk


def post_request(body, content_length: int) -> WSGIRequest:
    return WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/upload/",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "CONTENT_LENGTH": str(content_length),
            "wsgi.input": body,
        }
    )


@pytest.fixture
def temporary_directory(tmp_path, settings, monkeypatch):
    """Both places an upload could be spooled to: FILE_UPLOAD_TEMP_DIR and tempfile's default."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


def test_uploads_are_handled_in_memory_only(settings):
    assert settings.FILE_UPLOAD_HANDLERS == ["iothub_console.uploads.MemoryOnlyUploadHandler"]
    # The largest legitimate upload, a 64 MiB certificate ZIP, still fits.
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE > 64 * 1024 * 1024


@pytest.mark.django_db
def test_a_request_too_big_to_hold_is_refused_whole_with_a_page_saying_why(
    signed_in_client, user, settings, temporary_directory
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100_000
    oversized = SimpleUploadedFile("ca.pem", b"-" * 200_000, content_type="application/x-pem-file")

    response = signed_in_client.post(
        "/certificates/add/",
        {"name": "too_big", "ca_certificate": oversized, "verification_certificate": oversized},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "This request was refused" in page
    assert "a batch's certificate ZIP at most 64 MiB" in page
    assert not CACertificate.objects.filter(owner=user).exists()
    assert os.listdir(temporary_directory) == []


def test_an_interrupted_upload_leaves_no_temporary_file(temporary_directory):
    data = multipart_head(UPLOAD_BYTES)
    body = CutOffUpload(data, temporary_directory)
    request = post_request(body, content_length=len(data) + 1024)

    with pytest.raises(UnreadablePostError):
        request.FILES  # noqa: B018  (reading it parses the body)

    assert body.left_behind == []
    assert os.listdir(temporary_directory) == []


def test_a_complete_large_upload_arrives_in_memory(temporary_directory):
    data = multipart_head(UPLOAD_BYTES) + f"\r\n--{BOUNDARY}--\r\n".encode()
    request = post_request(io.BytesIO(data), content_length=len(data))

    upload = request.FILES["certificates_file"]

    assert isinstance(upload, InMemoryUploadedFile)
    assert upload.size == UPLOAD_BYTES
    assert os.listdir(temporary_directory) == []


@pytest.mark.django_db
def test_the_test_database_file_is_owner_only():
    if connection.vendor != "sqlite":
        pytest.skip("a database file only on SQLite; the migrate test below covers SQLite on every run")
    connection.ensure_connection()
    path = Path(connection.settings_dict["NAME"])

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_migrate_creates_db_sqlite3_readable_by_its_owner_only(tmp_path):
    database = tmp_path / "db.sqlite3"
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    env["DATABASE_URL"] = f"sqlite:///{database}"

    result = manage_py("migrate", "--noinput", "-v0", env=env)

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for companion in tmp_path.glob("db.sqlite3-*"):  # journal or WAL, if any is left
        assert stat.S_IMODE(companion.stat().st_mode) == 0o600
