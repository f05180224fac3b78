"""9. Status writes under a connect storm: Mosquitto with the plugin, the console under granian (make run).

Distinct Key devices connect as fast as the broker accepts them and stay connected; the
plugin batches their connect events to /broker/v1/events from its background thread.

- connects per second with status recording (the console, broker/status.py) against the
  same plugin and console with the events accepted and dropped (bench/unrecorded_console.py,
  served only by the bench), each through a broker of its own, in interleaved storms;
- the time from the first connect until the console's product shows every device online
  (Product.online_count, which the Devices tab shows), polled every POLL_SECONDS.

Between storms every client disconnects and the run waits, untimed, until the console
shows none online. Standalone: `python -m bench.link_status [--quick]`; exits 1 on a MISS.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path

from .broker import (
    CONNECT_CONCURRENCY,
    DISCONNECT,
    Brokers,
    Console,
    _client_context,
    _connect_many,
    open_session,
)
from .report import BenchError, Sample, heading, target_line, times

POLL_SECONDS = 0.05
ONLINE_TIMEOUT = 180.0  # all online (or all offline again) later than this is a failed storm
WARM_UP_CONNECTS = 40
PSK = "bGluay1zdGF0dXMtYmVuY2g="
UNRECORDED_APPLICATION = "bench.unrecorded_console:application"
MINIMUM_RATIO = 0.8


@dataclass(frozen=True)
class StormScale:
    devices: int
    repetitions: int  # storms of each kind


FULL = StormScale(devices=5_000, repetitions=3)
QUICK = StormScale(devices=500, repetitions=1)


# ---- The storm: every client connects, then holds its connection ----


def _hold_many(
    port: int, ca_file: str, packets: list[bytes], results: multiprocessing.Queue, release: Event
) -> None:
    """One load-generator process: connect each client in turn and keep every connection open
    until `release`, so that the devices stay online; reports when its first connect began
    and its last CONNACK came (perf_counter is the machine's monotonic clock in every process)."""
    context = _client_context(ca_file)
    sockets = []
    try:
        started = time.perf_counter()
        for packet in packets:
            sockets.append(open_session(port, context, packet))
        results.put((started, time.perf_counter(), len(sockets)))
        release.wait()
    except (OSError, ConnectionError) as error:
        results.put(repr(error))
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):  # a connection the broker already closed
                sock.sendall(DISCONNECT)
            sock.close()


@dataclass(frozen=True)
class Storm:
    connects_per_second: float
    all_online_seconds: float  # from the first connect until the product's count read all
    online_rows: int  # the devices' own rows marked online at that moment


def recorded_storm(port: int, ca_file: str, packets: list[bytes], online: OnlineCount) -> Storm:
    """A storm whose status the console records: timed until it shows every device online,
    then, untimed, until it shows none (the next storm starts with every device offline)."""
    rate, first, all_online_at, rows = storm(port, ca_file, packets, online)
    if all_online_at is None or rows is None:
        raise BenchError(
            f"the console did not show {len(packets):,} devices online in {ONLINE_TIMEOUT:.0f} s"
        )
    if online.wait_for(0) is None:
        raise BenchError(f"the console still showed devices online {ONLINE_TIMEOUT:.0f} s after the storm")
    return Storm(rate, all_online_at - first, rows)


def storm(
    port: int, ca_file: str, packets: list[bytes], online: OnlineCount | None
) -> tuple[float, float, float | None, int | None]:
    """All `packets` connect through the broker on `port`; with `online`, the console is
    watched until it shows every device online. Every client has disconnected on return.

    Returns connects/s, when the first connect began, and with `online` when the count read
    all (None: not within ONLINE_TIMEOUT) and how many device rows were online then."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    release = context.Event()
    workers = [
        context.Process(
            target=_hold_many, args=(port, ca_file, packets[index::CONNECT_CONCURRENCY], results, release)
        )
        for index in range(CONNECT_CONCURRENCY)
    ]
    for worker in workers:
        worker.start()
    try:
        all_online_at = online_rows = None
        if online is not None:
            all_online_at = online.wait_for(len(packets))
            online_rows = online.device_rows()
        reports = [results.get(timeout=ONLINE_TIMEOUT) for _ in workers]
    finally:
        release.set()
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
                worker.join()
    failures = [report for report in reports if isinstance(report, str)]
    if failures:
        raise BenchError(f"a client of the storm was not let in: {failures[0]}")
    first = min(report[0] for report in reports)
    last = max(report[1] for report in reports)
    connected = sum(report[2] for report in reports)
    return connected / (last - first), first, all_online_at, online_rows


class OnlineCount:
    """The product's online count as the console shows it, read from the scratch database."""

    def __init__(self, product_pk: int) -> None:
        self.product_pk = product_pk

    def now(self) -> int:
        from products.models import Product

        return Product.objects.values_list("online_count", flat=True).get(pk=self.product_pk)

    def device_rows(self) -> int:
        from products.models import Device

        return Device.objects.filter(product_id=self.product_pk, online=True).count()

    def wait_for(self, count: int) -> float | None:
        """perf_counter when the count first read `count`; None after ONLINE_TIMEOUT."""
        deadline = time.perf_counter() + ONLINE_TIMEOUT
        while time.perf_counter() < deadline:
            if self.now() == count:
                return time.perf_counter()
            time.sleep(POLL_SECONDS)
        return None


# ---- The measurement ----


@dataclass(frozen=True)
class StatusResult:
    devices: int
    recorded: Sample  # connects/s
    unrecorded: Sample
    all_online: Sample  # seconds from the first connect
    online_rows: tuple[int, ...]  # devices marked online when the product's count read all, by storm

    @property
    def ratio(self) -> float:
        return self.recorded.median / self.unrecorded.median


def make_fleet(owner, devices: int):
    """A Key product of `devices` devices, inserted in bulk (section 6 times the service's adds)."""
    from django.db import transaction
    from django.utils import timezone

    from products import services as product_services
    from products.models import Device, Product

    product = product_services.create_product(
        owner=owner, name="status_storm", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )
    now = timezone.now()
    with transaction.atomic():
        Device.objects.bulk_create(
            [
                Device(
                    product=product,
                    name=f"meter-{number:05d}",
                    key_origin=Device.KeyOrigin.PSK,
                    psk=PSK,
                    psk_updated=now,
                )
                for number in range(devices)
            ],
            batch_size=1_000,
        )
        product_services.count_devices(product, devices)
    return product


def packets_for(product, devices: int) -> list[bytes]:
    from products import bundles

    from .broker import connect_packet

    expiry = int(time.time()) + 24 * 3600
    packets = []
    for number in range(devices):
        credentials = bundles.key_credentials(f"{product.product_id}meter-{number:05d}", PSK, expiry)
        packets.append(connect_packet(credentials.client_id, credentials.username, credentials.password))
    return packets


def measure(scale: StormScale, scratch: Path) -> StatusResult:
    from django.conf import settings

    from products import platform

    from .fixtures import make_owner

    product = make_fleet(make_owner("status-storm"), scale.devices)
    packets = packets_for(product, scale.devices)
    online = OnlineCount(product.pk)
    ca_file = str(scratch / "root-ca.crt")
    Path(ca_file).write_text(platform.root_ca().certificate_pem)
    consoles = [Console(settings.IOTHUB_BROKER_TOKEN)]
    consoles.append(Console(settings.IOTHUB_BROKER_TOKEN, UNRECORDED_APPLICATION))
    recording, dropping = Brokers(scratch, consoles[0]), Brokers(scratch, consoles[1])
    recorded, unrecorded, all_online, online_rows = [], [], [], []
    try:
        recording_broker = recording.start("recording")
        dropping_broker = dropping.start("dropping")
        # Untimed: the server's workers load the console and open the database first.
        for broker in (recording_broker, dropping_broker):
            _connect_many(broker.options.key_port, ca_file, packets[:WARM_UP_CONNECTS])
        if online.wait_for(0) is None:
            raise BenchError("the warm-up's devices did not go offline")
        for repetition in range(scale.repetitions):
            # Interleaved, the order swapped each time: a busy moment falls on both kinds.
            for kind in ("recorded", "unrecorded") if repetition % 2 == 0 else ("unrecorded", "recorded"):
                if kind == "recorded":
                    result = recorded_storm(recording_broker.options.key_port, ca_file, packets, online)
                    recorded.append(result.connects_per_second)
                    all_online.append(result.all_online_seconds)
                    online_rows.append(result.online_rows)
                else:
                    unrecorded.append(storm(dropping_broker.options.key_port, ca_file, packets, None)[0])
                    # Dropped for certain: not one device of the storm was recorded online.
                    if online.device_rows():
                        raise BenchError("the unrecorded console recorded a device online")
    finally:
        recording.stop_all()
        dropping.stop_all()
        for console in consoles:
            console.stop()
    return StatusResult(
        devices=scale.devices,
        recorded=Sample(tuple(recorded)),
        unrecorded=Sample(tuple(unrecorded)),
        all_online=Sample(tuple(all_online)),
        online_rows=tuple(online_rows),
    )


def report_lines(result: StatusResult, verdicts: list[bool]) -> list[str]:
    lines = heading(
        "9. Status writes under a connect storm: Mosquitto 2.0 with the plugin, the console under granian (make run)"
    )
    lines.append(
        f"  {result.devices:,} distinct Key devices (TLS 1.2, HMAC-SHA256 password) connecting and staying "
        f"connected, {CONNECT_CONCURRENCY} load-generator processes; storms interleaved"
    )
    for label, sample in (
        ("status recorded (broker/status.py)", result.recorded),
        ("events accepted and dropped (bench only)", result.unrecorded),
    ):
        lines.append(
            f"  {label:<44} {sample.median:8,.0f} connects/s "
            f"({sample.low:,.0f}–{sample.high:,.0f}, n={len(sample)})"
        )
    passed = result.ratio >= MINIMUM_RATIO
    verdicts.append(passed)
    lines.append(
        target_line("connects/s, recorded / dropped", times(result.ratio), f"≥ {MINIMUM_RATIO:.2f}×", passed)
    )
    sample = result.all_online
    lines.append(
        f"  first connect → console shows all {result.devices:,} online   {sample.median:6.2f} s "
        f"({sample.low:.2f}–{sample.high:.2f}, n={len(sample)}; polled every {POLL_SECONDS * 1000:.0f} ms)"
    )
    lines.append(
        f"  the storm's connects alone take {result.devices / result.recorded.median:.2f} s at the recorded rate"
    )
    # The product's count is what the check polls; the devices' own rows must say the same.
    fewest = min(result.online_rows)
    agreed = fewest == result.devices
    verdicts.append(agreed)
    lines.append(
        target_line(
            "devices online when the count read all", f"{fewest:,} / {result.devices:,}", "all", agreed
        )
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.link_status", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer devices and one storm of each kind")
    parser.add_argument("--result", type=Path, help="write the report lines and verdicts here as JSON")
    arguments = parser.parse_args(argv)
    from . import environment

    with environment.scratch_django("iothub-bench-status-") as scratch:
        result = measure(QUICK if arguments.quick else FULL, scratch)
    verdicts: list[bool] = []
    lines = report_lines(result, verdicts)
    return environment.finish_section(lines, verdicts, arguments.result)


if __name__ == "__main__":
    sys.exit(main())
