"""`manage.py run_broker` (what `make broker` runs) as a user runs it, from a fresh clone.

The runner is a separate process reading the same database and secrets as the live
console, so its broker asks the console the tests drive.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from broker import config
from broker.services import FALLBACK_ROOT, state_directory
from tests.broker.devices import platform_device
from tests.mqtt_client import free_port
from tests.programs import require_program

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

START_TIMEOUT = 60.0


def database_url() -> str:
    """The test database, as DATABASE_URL names it, for a process outside this one."""
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    return (
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST'] or 'localhost'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def runner_environment(live_server, port: int, key_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "IOTHUB_ENCRYPTION_KEY": settings.IOTHUB_ENCRYPTION_KEY,
        "IOTHUB_BROKER_TOKEN": settings.IOTHUB_BROKER_TOKEN,
        "IOTHUB_CONSOLE_URL": live_server.url,
        "IOTHUB_MQTT_HOST": "127.0.0.1",
        "IOTHUB_MQTT_PORT": str(port),
        "IOTHUB_MQTT_KEY_PORT": str(key_port),
    }


class Runner:
    """`run_broker` in a child process; its output is collected as it comes."""

    def __init__(self, repository: Path, environment: dict[str, str], *arguments: str) -> None:
        self.lines: list[str] = []
        self.listening = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_broker", "--skip-checks", *arguments],
            cwd=repository,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Mosquitto listens on"):
                self.listening.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=5)
        return self.process.returncode


@pytest.fixture
def private_clone() -> Iterator[Path]:
    """A clone of this repository under a directory only root may enter, like /root."""
    require_program("git", "the runner is tried from a fresh clone")
    parent = Path(tempfile.mkdtemp(prefix="private-home-"))
    parent.chmod(0o700)
    repository = parent / "iothub-console"
    try:
        subprocess.run(
            ["git", "clone", "--quiet", str(settings.BASE_DIR), str(repository)],
            check=True,
            capture_output=True,
        )
        yield repository
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_runner_from_a_clone_under_a_private_directory_serves_devices(
    plugin, live_server, private_clone, user
):
    require_program("make", "make broker builds the plugin")
    build = subprocess.run(
        ["make", "-s", "-C", str(private_clone / "broker" / "plugin")],
        capture_output=True,
        check=False,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    port, key_port = free_port(), free_port()
    device = platform_device(user, "from-clone")
    expected = state_directory(private_clone / "broker-config")
    runner = Runner(private_clone, runner_environment(live_server, port, key_port), "--broker-id", "clone")
    try:
        assert runner.listening.wait(START_TIMEOUT), runner.output
        # The clone's directory is out of the mosquitto user's reach, so the files went elsewhere.
        assert expected.parent == FALLBACK_ROOT
        assert str(expected) in runner.output
        assert (expected / config.CONF_FILE).exists()
        assert not (private_clone / "broker-config").exists()

        client = device.connect_to(port)
        assert client.connected, client.error
        client.close()
    finally:
        code = runner.stop()
        shutil.rmtree(expected, ignore_errors=True)
    assert code == 0, runner.output


def test_runner_stops_with_mosquittos_own_error_when_mosquitto_cannot_start(plugin, live_server):
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    directory = Path(tempfile.mkdtemp(prefix="iothub-broker-", dir="/tmp"))
    runner = Runner(
        settings.BASE_DIR, runner_environment(live_server, port, free_port()), "--dir", str(directory)
    )
    try:
        runner.process.wait(timeout=START_TIMEOUT)
    finally:
        runner.stop()
        taken.close()
        shutil.rmtree(directory, ignore_errors=True)
    assert runner.process.returncode != 0
    assert "Mosquitto exited with code" in runner.output
    assert "Address already in use" in runner.output
    assert runner.output.count("Mosquitto exited") == 1  # said once: it does not restart


def test_broker_token_command_prints_the_token_the_endpoints_take(live_server, user):
    printed = subprocess.run(
        [sys.executable, "manage.py", "broker_token", "--skip-checks"],
        cwd=settings.BASE_DIR,
        env=runner_environment(live_server, free_port(), free_port()),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert printed == settings.IOTHUB_BROKER_TOKEN
    device = platform_device(user, "tokened")
    request = urllib.request.Request(
        f"{live_server.url}/broker/v1/authenticate",
        data=json.dumps({"clientid": device.client_id, "cert_pem": None}).encode(),
        headers={"Authorization": f"Bearer {printed}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read())["result"] == "deny"  # a certificate device sent no certificate
