"""The downloaded bundle's README commands work as printed, from the unzipped folder."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import pytest

from products.models import Device
from tests.broker.devices import PSK, download_bundle, key_product
from tests.product_console import make_device, make_product
from tests.programs import require_program

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30.0


def readme_commands(bundle: Path) -> dict[str, list[str]]:
    """The mosquitto_* commands the README prints, by program."""
    readme = (bundle / "README.txt").read_text()
    commands = {}
    for line in readme.splitlines():
        if line.startswith("mosquitto_"):
            arguments = shlex.split(line)
            commands.setdefault(arguments[0], arguments)
    assert "mosquitto_pub" in commands, f"the README prints no mosquitto_pub command:\n{readme}"
    return commands


def run_readme(bundle: Path, device: Device) -> None:
    """Each command the README prints, as printed, from the unzipped folder.

    mosquitto_pub and mosquitto_rr (publish, then wait for the message to come back) end
    by themselves; mosquitto_sub runs until stopped, so it is stopped once the console
    has heard that the device connected.
    """
    require_program(
        "mosquitto_pub", "the bundle's README prints mosquitto_pub, mosquitto_rr and mosquitto_sub"
    )
    commands = readme_commands(bundle)
    published = subprocess.run(
        commands["mosquitto_pub"], cwd=bundle, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert published.returncode == 0, published.stderr
    if "mosquitto_rr" in commands:
        echoed = subprocess.run(
            commands["mosquitto_rr"], cwd=bundle, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        assert echoed.returncode == 0, echoed.stderr
        assert '{"hello":"world"}' in echoed.stdout
    if "mosquitto_sub" in commands:
        Device.objects.filter(pk=device.pk).update(online=False)
        subscriber = subprocess.Popen(
            commands["mosquitto_sub"], cwd=bundle, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            while not Device.objects.get(pk=device.pk).online and time.monotonic() < deadline:
                time.sleep(0.2)
            assert subscriber.poll() is None, subscriber.stdout.read()
        finally:
            subscriber.kill()
            subscriber.wait()
        assert Device.objects.get(pk=device.pk).online
    device.refresh_from_db()
    assert device.last_refusal_reason == ""


def test_certificate_bundle_readme_commands_work_as_printed(broker, user, signed_in_client):
    product = make_product(user, "readme_product")
    device = make_device(product, "sensor-1")
    bundle = download_bundle(signed_in_client, product, "sensor-1")
    assert f"-p {broker.options.port} " in (bundle / "README.txt").read_text()
    run_readme(bundle, device)


def test_key_bundle_readme_commands_work_as_printed(broker, user, signed_in_client):
    product = key_product(user)
    device = make_device(product, "pump", psk=PSK)
    bundle = download_bundle(signed_in_client, product, "pump")
    assert (bundle / "root-ca.crt").exists()
    assert f"-p {broker.options.key_port} " in (bundle / "README.txt").read_text()
    run_readme(bundle, device)
