"""5. Pages per second of the Devices tab, served as `make run` serves it (scripts/run-console:
granian with threads, WhiteNoise, the task worker beside it) against the old `runserver`.

Both servers run side by side on the scratch database, each on its own loopback port,
and `wrk` (Debian's) loads the same signed-in URL on each in turn, repetitions
interleaved so that a busy moment of the machine falls on both. `wrk` shares the
machine's CPUs with the server it loads, as a load generator on the same host does.
Beside pages/s, the CPU time the server's processes spent per page (user + system,
from /proc): on a shared machine it moves much less than the rate does.

Standalone: `python -m bench.serving [--quick]` (a product of 1,000 devices).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .environment import PROJECT_DIR, free_port
from .report import BenchError, Sample

WRK_THREADS = 2
WRK_CONNECTIONS = 8
START_TIMEOUT = 60
MAKE_RUN = "granian (make run)"
RUNSERVER = "runserver (before)"


@dataclass(frozen=True)
class ServingResult:
    url: str
    pages_per_second: dict[str, Sample]  # by server label
    cpu_per_page: dict[str, Sample]  # seconds of the server's processes' CPU time per page
    seconds: int

    @property
    def make_run_over_runserver(self) -> float:
        return self.pages_per_second[MAKE_RUN].median / self.pages_per_second[RUNSERVER].median


def measure(owner, product, seconds: int, repetitions: int) -> ServingResult:
    """Both servers on the current settings' database, loaded by wrk in turn."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (Debian package wrk; scripts/install-system-packages)")
    cookie = f"sessionid={_session_key(owner)}"
    path = f"/products/{product.product_id}/devices/"
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    try:
        for label, command in ((RUNSERVER, _runserver_command), (MAKE_RUN, _run_console_command)):
            port = free_port()
            process = subprocess.Popen(
                command(port),
                cwd=PROJECT_DIR,
                env={**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            servers[label] = (process, f"http://127.0.0.1:{port}{path}")
        for label, (process, url) in servers.items():
            _wait_for_devices_tab(process, url, cookie, product, label)
        rates: dict[str, list[float]] = {label: [] for label in servers}
        cpu: dict[str, list[float]] = {label: [] for label in servers}
        for _ in range(repetitions):
            for label, (process, url) in servers.items():
                before = _cpu_seconds(process.pid)
                pages, per_second = _wrk(wrk, url, cookie, seconds)
                cpu[label].append((_cpu_seconds(process.pid) - before) / pages)
                rates[label].append(per_second)
    finally:
        for process, _ in servers.values():
            _stop(process)
    return ServingResult(
        url=path,
        pages_per_second={label: Sample(tuple(values)) for label, values in rates.items()},
        cpu_per_page={label: Sample(tuple(values)) for label, values in cpu.items()},
        seconds=seconds,
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` and every process under it so far, the task
    worker that run-console starts beside granian excepted (it serves no page)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            if b"db_worker" in Path(f"/proc/{current}/cmdline").read_bytes():
                continue
        except FileNotFoundError:  # ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        pending.extend(int(child) for child in children)
    return total / ticks


def _session_key(owner) -> str:
    """A signed-in session for `owner`, stored where both servers read sessions."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(owner.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    session.create()
    return session.session_key


def _runserver_command(port: int) -> list[str]:
    return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


def _run_console_command(port: int) -> list[str]:
    return [str(PROJECT_DIR / "scripts" / "run-console"), f"127.0.0.1:{port}"]


def _wait_for_devices_tab(process: subprocess.Popen, url: str, cookie: str, product, label: str) -> None:
    """Until the server answers with the product's Devices tab (not the sign-in page)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{label} exited with status {process.returncode} before serving")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                page = response.read().decode()
                if response.url != url or product.name not in page:
                    raise BenchError(f"{label} did not serve the signed-in Devices tab at {url}")
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise BenchError(f"{label} did not answer {url} within {START_TIMEOUT} s")


def _wrk(wrk: str, url: str, cookie: str, seconds: int) -> tuple[int, float]:
    """The pages served and the pages per second of one wrk run."""
    result = subprocess.run(
        [wrk, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url],
        check=False,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if result.returncode != 0:
        raise BenchError(f"wrk failed: {result.stderr.strip()}")
    if "Non-2xx or 3xx responses" in result.stdout or "Socket errors" in result.stdout:
        raise BenchError(f"wrk saw failed requests on {url}:\n{result.stdout}")
    served = re.search(r"(\d+) requests in", result.stdout)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if served is None or rate is None or int(served.group(1)) == 0:
        raise BenchError(f"no request count or rate in wrk's output:\n{result.stdout}")
    return int(served.group(1)), float(rate.group(1))


def _stop(process: subprocess.Popen) -> None:
    """SIGINT to the server's own process group, as Ctrl-C would; SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def report_lines(result: ServingResult) -> list[str]:
    lines = [
        f"GET {result.url} (20 rows) signed in; wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, "
        f"{result.seconds} s per repetition, repetitions interleaved"
    ]
    for label, sample in result.pages_per_second.items():
        cpu = result.cpu_per_page[label]
        lines.append(
            f"  {label:<22} {sample.median:>8,.0f} pages/s ({sample.low:,.0f}–{sample.high:,.0f}, n={len(sample)})"
            f"   server CPU {cpu.median * 1000:5.1f} ms/page ({cpu.low * 1000:.1f}–{cpu.high * 1000:.1f})"
        )
    lines.append(f"  granian / runserver    {result.make_run_over_runserver:>8.2f}×   (no target)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serving", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per repetition, one repetition")
    quick = parser.parse_args(argv).quick
    from . import environment

    load_at_start = environment.load_average()
    with tempfile.TemporaryDirectory(prefix="iothub-bench-serving-") as directory:
        scratch = Path(directory)
        environment.configure(scratch, scratch / "bench.sqlite3")
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        from .device_list import make_product_with_devices
        from .fixtures import make_owner

        owner = make_owner("bench")
        product = make_product_with_devices(owner, "serving", 1_000)
        connections.close_all()
        result = measure(owner, product, seconds=3 if quick else 10, repetitions=1 if quick else 3)
        connections.close_all()
    machine = environment.describe_machine()
    print(f"Machine: {machine.line()}")
    print(
        f"Load average at start: {' '.join(f'{value:.2f}' for value in load_at_start)} on {machine.logical_cpus} CPUs"
    )
    print("\n".join(report_lines(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
