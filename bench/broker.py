"""6. The device link service: Mosquitto with the console's plugin, the console under granian (make run).

- connects per second of Key devices (TLS, Tencent username and HMAC password) through the
  plugin, against the same Mosquitto with the same TLS listeners and no plugin (which lets
  everyone in: the limit of the broker and the load generator on this machine);
- the time from Disable (the console's service, as the device page calls it) until the
  device's connection is closed, with 100,000 devices in the console;
- the broker's CPU time and resident memory for the same work with 1,000 and with 100,000
  devices in the console (the plugin keeps only connected clients: it must not grow).

It runs in a process of its own on a scratch database that starts empty, so that the
1,000-device figures are taken before the 100,000 devices are inserted. The load generator
is a pool of processes speaking raw MQTT 3.1.1 over TLS (paho costs more per connect than
the broker does). Standalone: `python -m bench.broker [--quick]`; exits 1 on a MISS.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .environment import free_port
from .report import BenchError, Sample, heading, target_line, times

CONNECT_CONCURRENCY = 4  # load-generator processes, each connecting one client at a time
SERVER_WORKERS = 2  # run-console's defaults: 2 worker processes
SERVER_THREADS = 4  # of 4 threads (8 by default; the brokers use two connections)
START_TIMEOUT = 60.0
KICK_TIMEOUT = 10.0  # a disconnect slower than this counts as this long
SMALL_FLEET = 1_000
LARGE_FLEET = 100_000


@dataclass(frozen=True)
class BrokerScale:
    connects: int  # per repetition
    repetitions: int
    kick_samples: int


# Five interleaved repetitions: the ratio of two medians of three moved by ±0.05 between runs.
FULL = BrokerScale(connects=1_500, repetitions=5, kick_samples=60)
QUICK = BrokerScale(connects=300, repetitions=1, kick_samples=10)


# ---- The load generator: raw MQTT CONNECT over TLS ----


def _remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def _field(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def connect_packet(client_id: str, username: str, password: str, keepalive: int = 60) -> bytes:
    """MQTT 3.1.1 CONNECT with a clean session, a username and a password."""
    variable = _field("MQTT") + bytes([4, 0xC2]) + keepalive.to_bytes(2, "big")
    payload = _field(client_id) + _field(username) + _field(password)
    body = variable + payload
    return b"\x10" + _remaining_length(len(body)) + body


DISCONNECT = b"\xe0\x00"


def open_session(port: int, context: ssl.SSLContext, packet: bytes) -> ssl.SSLSocket:
    """TLS handshake, CONNECT, and a CONNACK that accepts; the socket stays open."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
    sock.sendall(packet)
    connack = b""
    while len(connack) < 4:
        chunk = sock.recv(4 - len(connack))
        if not chunk:
            sock.close()
            raise ConnectionError("closed before CONNACK")
        connack += chunk
    if connack[0] != 0x20 or connack[3] != 0:
        sock.close()
        raise ConnectionError(f"CONNACK refused: {connack[3]}")
    return sock


def _client_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False  # the server certificate names 127.0.0.1 as an IP
    return context


def _connect_many(port: int, ca_file: str, packets: list[bytes]) -> int:
    """One load-generator process: connect and disconnect each client in turn."""
    context = _client_context(ca_file)
    for packet in packets:
        sock = open_session(port, context, packet)
        sock.sendall(DISCONNECT)
        sock.close()
    return len(packets)


def connects_per_second(pool: ProcessPoolExecutor, port: int, ca_file: str, packets: list[bytes]) -> float:
    shares = [packets[index::CONNECT_CONCURRENCY] for index in range(CONNECT_CONCURRENCY)]
    started = time.perf_counter()
    done = sum(
        future.result() for future in [pool.submit(_connect_many, port, ca_file, share) for share in shares]
    )
    return done / (time.perf_counter() - started)


# ---- Processes: the console under granian (make run), brokers ----


class Console:
    """The console served by scripts/run-console, as `make run` serves it, on the scratch database.

    `application` is the WSGI application it serves: the console's own unless a bench
    section serves a variant of it (bench/unrecorded_console.py).
    """

    def __init__(self, token: str, application: str = "iothub_console.wsgi:application") -> None:
        from .environment import PROJECT_DIR

        self.port = free_port()
        self.process = subprocess.Popen(
            [str(PROJECT_DIR / "scripts" / "run-console"), f"127.0.0.1:{self.port}", application],
            cwd=PROJECT_DIR,
            # run-console keeps database connections (DATABASE_CONN_MAX_AGE), which the scratch
            # set-up turns off for the bench's own process.
            env={
                **os.environ,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "IOTHUB_WEB_WORKERS": str(SERVER_WORKERS),
                "IOTHUB_WEB_THREADS": str(SERVER_THREADS),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        request = urllib.request.Request(
            f"{self.url}/broker/v1/commands?broker=bench", headers={"Authorization": f"Bearer {token}"}
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"scripts/run-console exited with status {self.process.returncode}")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        self.stop()
        raise BenchError(f"the console did not answer {self.url} within {START_TIMEOUT:.0f} s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PlainMosquitto:
    """The same Mosquitto and TLS listeners without the plugin: everyone is let in."""

    def __init__(self, directory: Path, conf_with_plugin: str, port: int) -> None:
        lines = [
            "allow_anonymous true" if line == "allow_anonymous false" else line
            for line in conf_with_plugin.splitlines()
            if not line.startswith("plugin")
        ]
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "plain.conf"
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o644)
        from broker.services import mosquitto_executable

        self.log = open(directory / "plain.log", "ab")  # noqa: SIM115  (open for the broker's lifetime)
        self.process = subprocess.Popen(
            [mosquitto_executable(), "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise BenchError(f"plain Mosquitto exited; see {directory / 'plain.log'}") from None
                time.sleep(0.05)
        raise BenchError("plain Mosquitto did not listen")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.close()


def _process_usage(pid: int) -> tuple[float, int, int]:
    """CPU seconds (user + system), current and peak resident KiB of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = {
        line.split(":")[0]: line.split(":")[1].strip()
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    }
    return cpu, int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0])


# ---- The measurement ----


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    peak_kib: int


@dataclass(frozen=True)
class BrokerResult:
    plugin_rate: dict[int, Sample]  # connects/s by devices in the console
    plain_rate: Sample
    kick_seconds: tuple[float, ...]
    usage: dict[int, Usage]  # by devices in the console

    @property
    def plugin_over_plain(self) -> float:
        return self.plugin_rate[SMALL_FLEET].median / self.plain_rate.median

    @property
    def kick_median(self) -> float:
        return statistics.median(self.kick_seconds)

    @property
    def kick_p99(self) -> float:
        ordered = sorted(self.kick_seconds)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


class KeyFleet:
    """A Key product of SMALL_FLEET devices made through the console's services, and their CONNECTs."""

    PSK = "YnJva2VyLWJlbmNoLWtleQ=="

    def __init__(self, owner) -> None:
        from products import services as product_services
        from products.models import Product

        self.product = product_services.create_product(
            owner=owner, name="broker_bench", auth_method=Product.AuthMethod.KEY, ca_certificate=None
        )
        self.names = [f"pump-{number:04d}" for number in range(SMALL_FLEET)]
        for name in self.names:
            product_services.create_device(
                product=self.product, name=name, credentials=product_services.DeviceCredentials(psk=self.PSK)
            )
        self.expiry = int(time.time()) + 24 * 3600

    def packet(self, name: str) -> bytes:
        from products import bundles

        credentials = bundles.key_credentials(f"{self.product.product_id}{name}", self.PSK, self.expiry)
        return connect_packet(credentials.client_id, credentials.username, credentials.password)

    def packets(self, count: int) -> list[bytes]:
        return [self.packet(self.names[number % len(self.names)]) for number in range(count)]


class Brokers:
    """Plugin brokers on free ports asking one console; each stopped by PID at the end."""

    def __init__(self, scratch: Path, console: Console) -> None:
        from broker.services import build_plugin

        self.scratch = scratch
        self.console = console
        self.plugin = build_plugin()
        self.started: list = []

    def start(self, label: str):
        from broker.config import BrokerOptions
        from broker.services import Broker

        options = BrokerOptions("127.0.0.1", free_port(), free_port(), self.console.url, f"bench-{label}")
        broker = Broker(self.scratch / f"broker-{label}", options, host="127.0.0.1")
        self.started.append(broker)
        broker.start(self.plugin)
        return broker

    @staticmethod
    def stop(broker) -> Usage:
        """Stop `broker`; what it used, from start-up to now."""
        cpu, _, peak = _process_usage(broker.process.pid)
        broker.stop()
        return Usage(cpu, peak)

    def stop_all(self) -> None:
        for broker in self.started:
            broker.stop()


def measure(scale: BrokerScale, scratch: Path) -> BrokerResult:
    from django.conf import settings

    from products import platform

    from .device_list import make_product_with_devices
    from .fixtures import make_owner

    owner = make_owner("broker-bench")
    fleet = KeyFleet(owner)
    packets = fleet.packets(scale.connects)
    ca_file = str(scratch / "root-ca.crt")
    Path(ca_file).write_text(platform.root_ca().certificate_pem)
    console = Console(settings.IOTHUB_BROKER_TOKEN)
    brokers = Brokers(scratch, console)
    plain = None
    try:
        with ProcessPoolExecutor(CONNECT_CONCURRENCY, mp_context=multiprocessing.get_context("fork")) as pool:
            small = brokers.start("small")
            plain_port = free_port()
            conf = (small.directory / "mosquitto.conf").read_text()
            conf = conf.replace(f"listener {small.options.key_port} ", f"listener {plain_port} ")
            conf = conf.replace(f"listener {small.options.port} ", f"listener {free_port()} ")
            plain = PlainMosquitto(scratch / "plain", conf, plain_port)
            # Untimed: the server's workers load the console and open the database first.
            connects_per_second(pool, small.options.key_port, ca_file, packets[:100])
            connects_per_second(pool, plain_port, ca_file, packets[:100])
            plugin_small, plain_rates = [], []
            for _ in range(scale.repetitions):  # interleaved: a busy moment falls on both
                plugin_small.append(connects_per_second(pool, small.options.key_port, ca_file, packets))
                plain_rates.append(connects_per_second(pool, plain_port, ca_file, packets))
            plain.stop()
            plain = None
            usage = {SMALL_FLEET: brokers.stop(small)}

            print(f"[bench] 6. inserting {LARGE_FLEET - SMALL_FLEET:,} devices…", file=sys.stderr, flush=True)
            make_product_with_devices(owner, "broker_fleet", LARGE_FLEET - SMALL_FLEET)
            large = brokers.start("large")
            plugin_large = [
                connects_per_second(pool, large.options.key_port, ca_file, packets)
                for _ in range(scale.repetitions)
            ]
            usage[LARGE_FLEET] = brokers.stop(large)
        kick_seconds = _disable_to_disconnect(brokers.start("kick"), fleet, scale.kick_samples, ca_file)
    finally:
        if plain is not None:
            plain.stop()
        brokers.stop_all()
        console.stop()
    return BrokerResult(
        plugin_rate={SMALL_FLEET: Sample(tuple(plugin_small)), LARGE_FLEET: Sample(tuple(plugin_large))},
        plain_rate=Sample(tuple(plain_rates)),
        kick_seconds=tuple(kick_seconds),
        usage=usage,
    )


def _disable_to_disconnect(broker, fleet: KeyFleet, samples: int, ca_file: str) -> list[float]:
    """Per device: connected, then Disable through the console's service, until the socket closes."""
    from products import services as product_services

    context = _client_context(ca_file)
    seconds = []
    for name in fleet.names[:samples]:
        sock = open_session(broker.options.key_port, context, fleet.packet(name))
        sock.settimeout(KICK_TIMEOUT)
        started = time.perf_counter()
        product_services.set_devices_enabled(product=fleet.product, names=[name], enabled=False)
        try:
            while sock.recv(1024):
                pass
        except (TimeoutError, ssl.SSLError, OSError):
            pass
        seconds.append(min(time.perf_counter() - started, KICK_TIMEOUT))
        sock.close()
    return seconds


def report_lines(result: BrokerResult, verdicts: list[bool]) -> list[str]:
    lines = heading(
        "6. Device link service: Mosquitto 2.0 with the plugin, the console under granian (make run)"
    )
    lines.append(
        f"  Key devices (TLS 1.2, HMAC-SHA256 password), {CONNECT_CONCURRENCY} load-generator processes, "
        "connect + CONNACK + DISCONNECT"
    )
    for fleet, sample in result.plugin_rate.items():
        lines.append(
            f"  through the plugin, {fleet:>7,} devices in the console "
            f"{sample.median:8,.0f} connects/s ({sample.low:,.0f}–{sample.high:,.0f}, n={len(sample)})"
        )
    plain = result.plain_rate
    lines.append(
        f"  same Mosquitto and TLS, no plugin (the limit)        "
        f"{plain.median:8,.0f} connects/s ({plain.low:,.0f}–{plain.high:,.0f}, n={len(plain)})"
    )
    passed = result.plugin_over_plain >= 0.5
    verdicts.append(passed)
    lines.append(
        target_line("connects/s, plugin / no plugin", times(result.plugin_over_plain), "≥ 0.50×", passed)
    )

    lines.append(
        f"  Disable → connection closed, {LARGE_FLEET:,} devices in the console, n={len(result.kick_seconds)}: "
        f"min {min(result.kick_seconds) * 1000:.0f} ms, max {max(result.kick_seconds) * 1000:.0f} ms"
    )
    for label, value in (("median", result.kick_median), ("p99", result.kick_p99)):
        passed = value <= 1.0
        verdicts.append(passed)
        lines.append(
            target_line(f"Disable → disconnect, {label}", f"{value * 1000:.0f} ms", "≤ 1000 ms", passed)
        )

    small, large = result.usage[SMALL_FLEET], result.usage[LARGE_FLEET]
    for fleet, usage in result.usage.items():
        lines.append(
            f"  broker for the connects above, {fleet:>7,} devices in the console: "
            f"CPU {usage.cpu_seconds:.2f} s, peak RSS {usage.peak_kib / 1024:.1f} MiB"
        )
    cpu_ratio = large.cpu_seconds / max(small.cpu_seconds, 0.01)
    rss_ratio = large.peak_kib / small.peak_kib
    for label, ratio, limit in (("broker CPU time", cpu_ratio, 1.5), ("broker peak RSS", rss_ratio, 1.2)):
        passed = ratio <= limit
        verdicts.append(passed)
        lines.append(
            target_line(
                f"{label}, {LARGE_FLEET:,} / {SMALL_FLEET:,} devices", times(ratio), f"≤ {limit:.2f}×", passed
            )
        )
    return lines


def run_standalone(quick: bool) -> tuple[list[str], list[bool]]:
    """Everything on a scratch database of its own; returns the report lines and verdicts."""
    from . import environment

    with environment.scratch_django("iothub-bench-broker-") as scratch:
        result = measure(QUICK if quick else FULL, scratch)
    verdicts: list[bool] = []
    return report_lines(result, verdicts), verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.broker", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer connects and samples: a smoke run")
    parser.add_argument("--result", type=Path, help="write the report lines and verdicts here as JSON")
    arguments = parser.parse_args(argv)
    from . import environment

    lines, verdicts = run_standalone(arguments.quick)
    return environment.finish_section(lines, verdicts, arguments.result)


if __name__ == "__main__":
    sys.exit(main())
