"""`make run`'s scripts/run-console: granian and WhiteNoise serve the console, the task worker
runs beside it, and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest

from tests.mqtt_client import free_port
from tests.programs import manage_py

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60
STOP_TIMEOUT = 40


def console_environment(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_STATIC_ROOT=str(tmp_path / "staticfiles"),
        DJANGO_DEBUG="false",
        IOTHUB_WEB_WORKERS="1",
        IOTHUB_WEB_THREADS="2",
    )
    return env


def manage(*args: str, env: dict[str, str]) -> None:
    result = manage_py(*args, env=env)
    assert result.returncode == 0, result.stderr


def get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers (looked up regardless of case: granian sends them lower-case) and body."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers, response.read()


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> tuple[int, Message, bytes]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            return get(url)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    pytest.fail(f"the console did not answer {url} within {START_TIMEOUT} s")


def wait_for_line(log: Path, text: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while text not in log.read_text():
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} never appeared in the console's output:\n{log.read_text()}")
        time.sleep(0.2)


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found.add(child)
            pending.append(child)
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def as_a_terminal_starts_it() -> None:
    """In the child, before exec: Ctrl-C not ignored, even if this test run ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Console:
    process: subprocess.Popen
    port: int
    log: Path
    children: set[int] = field(default_factory=set)

    def command_lines(self) -> dict[int, bytes]:
        return {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ") for pid in self.children}


@pytest.fixture
def console(tmp_path) -> Iterator[Console]:
    """scripts/run-console on a free loopback port, serving and with its worker up."""
    env = console_environment(tmp_path)
    manage("migrate", "--noinput", "-v0", env=env)
    manage("collectstatic", "--noinput", "-v0", env=env)
    port = free_port()
    log = tmp_path / "console.log"
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run-console"), f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the one a terminal's Ctrl-C reaches
        preexec_fn=as_a_terminal_starts_it,  # noqa: PLW1509  (restores one signal, nothing else)
    )
    started = Console(process, port, log)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/accounts/login/", process, log)
        wait_for_line(log, "Starting worker")  # the task worker is up too
        started.children = descendants(process.pid)
        yield started
    finally:
        # Found before the script goes: its children would then belong to init.
        leftovers = started.children | descendants(process.pid)
        for pid in [process.pid, *leftovers]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_make_run_serves_with_granian_and_whitenoise_and_stops_on_ctrl_c(console):
    status, headers, page = get(f"http://127.0.0.1:{console.port}/accounts/login/")
    assert status == 200
    assert headers["Server"] == "granian"
    assert b"Sign in to IoT Hub Console" in page
    status, headers, stylesheet = get(f"http://127.0.0.1:{console.port}/static/css/console.css")
    assert status == 200 and stylesheet == (ROOT / "static" / "css" / "console.css").read_bytes()
    assert "max-age" in headers["Cache-Control"]  # WhiteNoise, not Django, served it
    commands = list(console.command_lines().values())
    assert any(b"db_worker" in command for command in commands), commands
    assert any(b"granian" in command for command in commands), commands

    os.killpg(console.process.pid, signal.SIGINT)  # Ctrl-C

    assert console.process.wait(timeout=STOP_TIMEOUT) == 0
    output = console.log.read_text()
    assert "Granian shutdown completed" in output, output
    # Told once: a second signal would have made it abandon a running task.
    assert output.count("shutting down gracefully") == 1, output
    assert "terminating current task" not in output, output
    assert not [pid for pid in console.children if running(pid)]


def test_when_the_server_dies_the_worker_and_the_servers_own_workers_are_stopped_too(console):
    (master,) = [
        pid
        for pid, command in console.command_lines().items()
        if b"granian" in command and parent(pid) == console.process.pid
    ]
    server_workers = [pid for pid in console.children if parent(pid) == master]
    assert server_workers  # granian's worker processes, which outlive a killed main process

    os.kill(master, signal.SIGKILL)

    assert console.process.wait(timeout=STOP_TIMEOUT) == 128 + signal.SIGKILL
    output = console.log.read_text()
    assert "A child exited (status 137); stopping the other." in output, output
    assert output.count("shutting down gracefully") == 1, output
    deadline = time.monotonic() + STOP_TIMEOUT
    while [pid for pid in console.children if running(pid)] and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not [pid for pid in console.children if running(pid)]
    # No orphaned worker of the server still listens on the port (SO_REUSEADDR: a
    # connection in TIME_WAIT there does not count, a listening socket does).
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", console.port))
