"""Reading batch inputs (pure, no database): CSV files of names, ZIPs of certificates, generated names."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from batches import inputs


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            if name.endswith("/"):
                archive.mkdir(name.rstrip("/"))
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def refusal(function, *args, **kwargs) -> str:
    with pytest.raises(inputs.InputError) as raised:
        function(*args, **kwargs)
    assert str(raised.value) == raised.value.message
    return raised.value.message


# CSV files of device names ---------------------------------------------------


def test_reads_names_past_bom_crlf_blank_lines_and_header():
    data = "\ufeffDeviceName\r\ndev_01\r\n\r\n  dev_02  \r\n,\r\ndev_03\r\n\r\n".encode()

    assert inputs.read_device_names(data) == ["dev_01", "dev_02", "dev_03"]


@pytest.mark.parametrize("header", ["DeviceName", "devicename", "device_name", "Device Name", "NAME"])
def test_skips_one_header_line_in_any_spelling(header):
    assert inputs.read_device_names(f"{header}\ndev_01\n".encode()) == ["dev_01"]


def test_reads_the_first_column_only():
    assert inputs.read_device_names(b'DeviceName,Note\ndev_01,kitchen\ndev_02,"hall, upstairs"\n') == [
        "dev_01",
        "dev_02",
    ]


def test_keeps_bad_and_repeated_names_for_the_batch_to_report():
    data = "dev_01\nhas space\na/b\ncafé\ndev_01\n".encode()

    assert inputs.read_device_names(data) == ["dev_01", "has space", "a/b", "café", "dev_01"]


def test_refuses_text_that_is_not_utf8():
    assert refusal(inputs.read_device_names, "dev_01\ncafé\n".encode("latin-1")) == inputs.NOT_UTF8


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\xef\xbb\xbf", b"DeviceName\r\n", b" , \n"])
def test_refuses_a_file_without_names(data):
    assert refusal(inputs.read_device_names, data) == inputs.NO_NAMES


def test_takes_exactly_the_limit_and_refuses_one_more():
    names = [f"dev_{number:05d}" for number in range(1, 10_002)]

    assert len(inputs.read_device_names("\n".join(names[:10_000]).encode())) == 10_000
    message = refusal(inputs.read_device_names, ("DeviceName\n" + "\n".join(names)).encode())
    assert message == inputs.TOO_MANY.format(what="CSV file", count=10_001, limit=10_000)
    assert (
        message
        == "The CSV file has 10,001 devices; a batch may have at most 10,000. Split it into several batches."
    )


# ZIPs of certificates ----------------------------------------------------------


def test_reads_certificate_files_in_name_order_and_skips_the_rest():
    data = zip_of(
        {
            "certs/": b"",
            "certs/b.pem": b"B",
            "certs/a.crt": b"A",
            "C.CER": b"C",
            "readme.txt": b"not a certificate",
            "dev_01.key": b"-----BEGIN PRIVATE KEY-----",
            "dev_01.csr": b"csr",
            ".hidden.crt": b"hidden",
            "__MACOSX/certs/._a.crt": b"resource fork",
        }
    )

    files = inputs.read_certificate_zip(data)

    assert files == [
        inputs.CertificateFile("C.CER", b"C"),
        inputs.CertificateFile("certs/a.crt", b"A"),
        inputs.CertificateFile("certs/b.pem", b"B"),
    ]


@pytest.mark.parametrize("data", [b"", b"DeviceName\ndev_01\n", b"PK\x03\x04 truncated"])
def test_refuses_what_is_not_a_zip(data):
    assert refusal(inputs.read_certificate_zip, data) == inputs.NOT_A_ZIP


def test_refuses_a_zip_without_certificate_files():
    data = zip_of({"readme.txt": b"hello", "dev_01.key": b"key", "empty/": b""})

    assert refusal(inputs.read_certificate_zip, data) == inputs.NO_CERTIFICATES


def test_refuses_more_certificate_files_than_the_limit():
    data = zip_of({f"dev_{number}.crt": b"x" for number in range(4)}, zipfile.ZIP_STORED)

    message = refusal(inputs.read_certificate_zip, data, limit=3)

    assert message == inputs.TOO_MANY.format(what="ZIP file", count=4, limit=3)


def test_refuses_an_oversized_entry_from_the_directory_without_inflating_it(monkeypatch):
    data = zip_of({"a.crt": b"A", "bomb.pem": b"\0" * (64 * 1024 + 1)})
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *args: pytest.fail("an entry was inflated"))

    message = refusal(inputs.read_certificate_zip, data)

    assert message == inputs.ENTRY_TOO_LARGE.format(name="bomb.pem", size=64 * 1024 + 1)
    assert message == '"bomb.pem" in the ZIP file is 65,537 bytes; certificate files may be at most 64 KiB.'


# Generated names ----------------------------------------------------------------


def test_random_names_are_18_unique_letters_and_digits():
    names = inputs.generated_names(500)

    assert len(names) == len(set(names)) == 500
    assert all(re.fullmatch(r"[A-Za-z0-9]{18}", name) for name in names)


def test_prefix_names_count_up_zero_padded_to_the_quantitys_width():
    assert inputs.generated_names(3, "sensor_") == ["sensor_1", "sensor_2", "sensor_3"]
    names = inputs.generated_names(12, "sensor_")
    assert names[0] == "sensor_01" and names[-1] == "sensor_12" and len(names) == 12
    assert inputs.generated_names(10_000, "s")[:2] == ["s00001", "s00002"]


@pytest.mark.parametrize("quantity", [0, -1, 10_001])
def test_refuses_a_quantity_outside_1_to_10000(quantity):
    message = refusal(inputs.generated_names, quantity)

    assert (
        message == inputs.QUANTITY_OUT_OF_RANGE.format(limit=10_000) == "Choose between 1 and 10,000 devices."
    )


def test_refuses_a_prefix_that_would_make_names_longer_than_48():
    longest = "p" * 45

    assert all(len(name) == 48 for name in inputs.generated_names(100, longest))
    message = refusal(inputs.generated_names, 100, longest + "p")
    assert message == inputs.PREFIX_TOO_LONG.format(count=100, room=45)
    assert message == "With 100 devices the prefix may be at most 45 characters, so that names fit in 48."
