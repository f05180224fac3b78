"""`products.bundles`: the device bundle zip built from plain values, with no database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import stat
import zipfile

import pytest

from products import bundles

CERT = bundles.DeviceBundleInput(
    product_id="U58ABC2YLJ",
    device_name="dev_01",
    auth_mode="CERT",
    mqtt_host="mqtt.example.test",
    mqtt_port=8883,
    certificate_pem="-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n",
    private_key_pem="-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n",
    device_ca_pem="-----BEGIN CERTIFICATE-----\ndevice ca\n-----END CERTIFICATE-----\n",
    root_ca_pem="-----BEGIN CERTIFICATE-----\nroot ca\n-----END CERTIFICATE-----\n",
)
KEY_EXPIRY = 1798761600  # 2027-01-01T00:00:00Z
KEY = bundles.DeviceBundleInput(
    product_id="U58ABC2YLJ",
    device_name="sensor-7",
    auth_mode="KEY",
    mqtt_host="127.0.0.1",
    mqtt_port=8884,
    root_ca_pem="-----BEGIN CERTIFICATE-----\nroot ca\n-----END CERTIFICATE-----\n",
    psk="c2l4dGVlbiBieXRlIGtleQ==",
    key_expiry=KEY_EXPIRY,
)
USERNAME = re.compile(r"(?P<client_id>[^;]+);12010126;(?P<connid>[A-Za-z0-9]{5});(?P<expiry>\d+)")


def unzip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def replace(bundle: bundles.DeviceBundleInput, **changes) -> bundles.DeviceBundleInput:
    return bundles.DeviceBundleInput(**{**bundle.__dict__, **changes})


def test_certificate_bundle_holds_exactly_the_six_files():
    archive = unzip(bundles.build_device_bundle(CERT))

    assert archive.namelist() == [
        "dev_01_cert.crt",
        "dev_01_private.key",
        "device-ca.crt",
        "root-ca.crt",
        "device_info.json",
        "README.txt",
    ]
    assert archive.read("dev_01_cert.crt").decode() == CERT.certificate_pem
    assert archive.read("dev_01_private.key").decode() == CERT.private_key_pem
    assert archive.read("device-ca.crt").decode() == CERT.device_ca_pem
    assert archive.read("root-ca.crt").decode() == CERT.root_ca_pem
    assert archive.testzip() is None


def test_private_key_is_owner_only_when_unzipped():
    entry = unzip(bundles.build_device_bundle(CERT)).getinfo("dev_01_private.key")

    assert stat.S_IMODE(entry.external_attr >> 16) == 0o600


def test_without_a_key_the_key_file_is_left_out():
    archive = unzip(bundles.build_device_bundle(replace(CERT, private_key_pem="")))

    assert "dev_01_private.key" not in archive.namelist()
    assert len(archive.namelist()) == 5
    assert "dev_01_private.key  not included" in archive.read("README.txt").decode()


def test_device_info_has_every_key_tencents_sdks_read():
    info = json.loads(
        unzip(bundles.build_device_bundle(CERT, connection_id="a1B2c")).read("device_info.json")
    )

    assert info == {
        "auth_mode": "CERT",
        "productId": "U58ABC2YLJ",
        "productSecret": "",
        "deviceName": "dev_01",
        "key_deviceinfo": {"deviceSecret": ""},
        "cert_deviceinfo": {
            "devCaFile": "root-ca.crt",
            "devCertFile": "dev_01_cert.crt",
            "devPrivateKeyFile": "dev_01_private.key",
        },
        "region": "china",
        "mqtt": {
            "host": "mqtt.example.test",
            "port": 8883,
            "client_id": "U58ABC2YLJdev_01",
            "username": f"U58ABC2YLJdev_01;12010126;a1B2c;{bundles.USERNAME_EXPIRY}",
            "topic_prefix": "U58ABC2YLJ/dev_01/",
        },
    }


def test_key_bundle_holds_root_ca_device_info_and_readme():
    archive = unzip(bundles.build_device_bundle(KEY))

    assert archive.namelist() == ["root-ca.crt", "device_info.json", "README.txt"]
    assert archive.read("root-ca.crt").decode() == KEY.root_ca_pem
    info = json.loads(archive.read("device_info.json"))
    assert info["auth_mode"] == "KEY"
    assert info["key_deviceinfo"] == {"deviceSecret": "c2l4dGVlbiBieXRlIGtleQ=="}
    assert info["cert_deviceinfo"] == {"devCaFile": "", "devCertFile": "", "devPrivateKeyFile": ""}
    assert info["mqtt"]["client_id"] == "U58ABC2YLJsensor-7"
    assert info["mqtt"]["port"] == 8884
    assert "pre-shared key" in archive.read("README.txt").decode()


def test_key_bundle_username_and_password_are_tencents_hmac_until_the_expiry():
    archive = unzip(bundles.build_device_bundle(KEY, connection_id="Qw3rt"))

    mqtt = json.loads(archive.read("device_info.json"))["mqtt"]
    username = f"U58ABC2YLJsensor-7;12010126;Qw3rt;{KEY_EXPIRY}"
    key = base64.b64decode(KEY.psk)
    assert mqtt["username"] == username
    assert mqtt["password"] == hmac.new(key, username.encode(), hashlib.sha256).hexdigest() + ";hmacsha256"
    assert mqtt["password"] == bundles.mqtt_password(username, KEY.psk)
    readme = archive.read("README.txt").decode()
    assert f"Password:   {mqtt['password']}" in readme
    assert "the username expires on 2027-01-01." in readme


def test_key_bundle_readme_commands_sign_in_on_the_key_port_with_one_connection():
    archive = unzip(bundles.build_device_bundle(KEY, connection_id="Qw3rt"))
    readme = archive.read("README.txt").decode()
    mqtt = json.loads(archive.read("device_info.json"))["mqtt"]

    (publish,) = [line for line in readme.splitlines() if line.startswith("mosquitto_pub ")]
    (round_trip,) = [line for line in readme.splitlines() if line.startswith("mosquitto_rr ")]
    sign_in = (
        "-h 127.0.0.1 -p 8884 --cafile root-ca.crt -i 'U58ABC2YLJsensor-7' "
        f"-u '{mqtt['username']}' -P '{mqtt['password']}'"
    )
    assert (
        publish == f"mosquitto_pub {sign_in} -t 'U58ABC2YLJ/sensor-7/data' -m '{{\"hello\":\"world\"}}' -q 1"
    )
    # Publishes and waits for the echo on the same connection: nothing to kick.
    assert round_trip == (
        f"mosquitto_rr {sign_in} -t 'U58ABC2YLJ/sensor-7/data' -e 'U58ABC2YLJ/sensor-7/data' "
        '-m \'{"hello":"world"}\' -q 1 -W 10'
    )
    assert "--cert" not in readme
    assert "One connection per device at a time" in readme


def test_a_psk_given_for_a_certificate_device_is_not_written():
    archive = unzip(bundles.build_device_bundle(replace(CERT, psk="c2VjcmV0")))

    assert json.loads(archive.read("device_info.json"))["key_deviceinfo"] == {"deviceSecret": ""}
    assert not any(b"c2VjcmV0" in archive.read(name) for name in archive.namelist())


def test_username_has_tencents_shape_with_a_random_connection_id():
    first = bundles.mqtt_username("U58ABC2YLJdev_01")
    others = {bundles.mqtt_username("U58ABC2YLJdev_01") for _ in range(20)}

    match = USERNAME.fullmatch(first)
    assert match
    assert match["client_id"] == "U58ABC2YLJdev_01"
    assert int(match["expiry"]) == bundles.USERNAME_EXPIRY
    assert len({USERNAME.fullmatch(name)["connid"] for name in others}) > 1


def test_readme_mosquitto_pub_line_names_the_bundles_files():
    archive = unzip(bundles.build_device_bundle(CERT, connection_id="zZ9y8"))
    readme = archive.read("README.txt").decode()

    (publish,) = [line for line in readme.splitlines() if line.startswith("mosquitto_pub ")]
    assert publish == (
        "mosquitto_pub -h mqtt.example.test -p 8883 --cafile root-ca.crt --cert dev_01_cert.crt "
        "--key dev_01_private.key -i 'U58ABC2YLJdev_01' "
        f"-u 'U58ABC2YLJdev_01;12010126;zZ9y8;{bundles.USERNAME_EXPIRY}' "
        "-t 'U58ABC2YLJ/dev_01/data' -m '{\"hello\":\"world\"}' -q 1"
    )
    named = {name for name in re.findall(r"--(?:cafile|cert|key) (\S+)", publish)}
    assert named <= set(archive.namelist())
    # The username in the README is the one in device_info.json.
    assert json.loads(archive.read("device_info.json"))["mqtt"]["username"] in publish


@pytest.mark.parametrize(
    ("product_id", "device_name", "expected"),
    [
        ("U58ABC2YLJ", "dev_01", "U58ABC2YLJ_dev_01.zip"),
        ("U58ABC2YLJ", "aa:bb:cc", "U58ABC2YLJ_aa_bb_cc.zip"),
    ],
)
def test_bundle_filename(product_id, device_name, expected):
    assert bundles.bundle_filename(product_id, device_name) == expected


def test_bundles_module_imports_nothing_from_django():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(bundles.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "django" not in imported
