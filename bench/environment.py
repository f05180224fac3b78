"""The scratch set-up a bench run works in, and the description of the machine it ran on.

Pure standard library: this runs before Django is configured, and the memory child
imports it before `django.setup()` too.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CLIENT_HOST = "testserver"


def configure(scratch: Path, database: Path) -> None:
    """Point the real settings at `database` before Django starts.

    Everything settings.py would otherwise read from, or create beside, the developer's
    checkout (db.sqlite3, .secret_key, .encryption_key, broker-config/) comes from
    here instead, so a bench run neither reads nor changes the developer's data.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "iothub_console.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.pop("DATABASE_CONN_MAX_AGE", None)
    os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    # A Fernet key is 32 random bytes in url-safe base64; made here to keep this module free of cryptography.
    os.environ["IOTHUB_ENCRYPTION_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["DJANGO_ALLOWED_HOSTS"] = CLIENT_HOST
    # The manifest storage needs an up-to-date collectstatic; the plain one renders the
    # same {% static %} URLs without depending on what the developer last collected.
    os.environ["DJANGO_STATICFILES_STORAGE"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    os.environ["IOTHUB_BROKER_DIR"] = str(scratch / "broker-config")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"


def free_port() -> int:
    """A loopback TCP port nobody listens on now, for a server the bench starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_kib() -> tuple[int, int]:
    """This process's current and peak resident set size (VmRSS, VmHWM) in KiB."""
    status = Path("/proc/self/status").read_text()
    values = {
        key: int(re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE).group(1))
        for key in ("VmRSS", "VmHWM")
    }
    return values["VmRSS"], values["VmHWM"]


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    logical_cpus: int
    cpu_mhz: float
    ram_gib: float
    kernel: str
    python: str
    django: str
    cryptography: str
    cryptography_openssl: str
    sqlite: str
    openssl_cli: str

    def line(self) -> str:
        """One line for the README: the machine and every version the figures depend on."""
        return (
            f"{self.cpu_model}, {self.logical_cpus} CPUs (logical) at {self.cpu_mhz / 1000:.1f} GHz, "
            f"{self.ram_gib:.1f} GiB RAM, Linux {self.kernel}; {self.python}, Django {self.django}, "
            f"cryptography {self.cryptography} ({self.cryptography_openssl}), SQLite {self.sqlite}, "
            f"openssl CLI {self.openssl_cli}"
        )


def describe_machine() -> Machine:
    import cryptography
    import django
    from cryptography.hazmat.backends.openssl.backend import backend

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE).group(1))
    return Machine(
        cpu_model=model.group(1).strip() if model else platform.processor() or "unknown CPU",
        logical_cpus=os.cpu_count() or 1,
        cpu_mhz=float(mhz.group(1)) if mhz else 0.0,
        ram_gib=total_kib / 1024 / 1024,
        kernel=platform.release(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        django=django.get_version(),
        cryptography=cryptography.__version__,
        cryptography_openssl=" ".join(backend.openssl_version_text().split()[:2]),
        sqlite=sqlite3.sqlite_version,
        openssl_cli=openssl_cli_version(),
    )


def openssl_cli_version() -> str:
    program = shutil.which("openssl")
    if program is None:
        return "not installed"
    result = subprocess.run([program, "version"], capture_output=True, text=True, check=False)
    # "OpenSSL 3.0.19 27 Jan 2026 (Library: …)": the version is the second word.
    words = result.stdout.split()
    return words[1] if len(words) > 1 else "unknown"


def filesystem_of(path: Path) -> str:
    """The type of the file system holding `path` (ext4, tmpfs…): fsync costs differ a lot."""
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        mount_point = fields[1].replace("\\040", " ")
        if str(path).startswith(mount_point) and len(mount_point) > len(best):
            best, kind = mount_point, fields[2]
    return kind


@dataclass(frozen=True)
class CpuTimes:
    """Machine-wide busy and steal time, and this process's own CPU time (with its children)."""

    machine_busy: float
    machine_steal: float
    own: float

    @classmethod
    def now(cls) -> CpuTimes:
        fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        ticks = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        times = os.times()
        return cls(
            machine_busy=(user + nice + system + irq + softirq) / ticks,
            machine_steal=steal / ticks,
            own=times.user + times.system + times.children_user + times.children_system,
        )


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


@dataclass(frozen=True)
class Snapshot:
    """When a run started, and how busy the machine was then: to judge the figures by."""

    wall: float
    cpu: CpuTimes
    load: tuple[float, float, float]

    @classmethod
    def now(cls) -> Snapshot:
        return cls(wall=time.perf_counter(), cpu=CpuTimes.now(), load=load_average())


@contextmanager
def scratch_django(prefix: str) -> Iterator[Path]:
    """A migrated scratch database for a section run in a process of its own.

    Its directory is mode 0755: Mosquitto drops to the mosquitto user, and the broker
    sections put its files there.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        scratch = Path(directory)
        scratch.chmod(0o755)
        configure(scratch, scratch / "bench.sqlite3")
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        try:
            yield scratch
        finally:
            connections.close_all()


def finish_section(lines: list[str], verdicts: list[bool], result: Path | None) -> int:
    """Hand a section's report to the parent run (`--result`) or print it; 1 on a missed target."""
    if result is not None:
        result.write_text(json.dumps({"lines": lines, "verdicts": verdicts}))
    else:
        print("\n".join(lines))
    return 0 if all(verdicts) else 1
