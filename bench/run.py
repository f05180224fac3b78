"""Runs the measurements at one scale and prints each figure beside its target.

The report goes to stdout once everything has run, in the order of the brief;
progress goes to stderr meanwhile. The measurements run in another order: the
certificate upload before the device list, so that no batch is timed against a
database already holding the list's 100,000 devices (its indexes no longer fit
SQLite's page cache, which makes every insert a little slower).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from . import api, certificate_upload, device_list, environment, health_audit, issuance, serving
from .fixtures import make_owner
from .memory import MemoryResult
from .report import heading, milliseconds, rate, target_line, times
from .scales import Scale

# Above this share of the CPUs taken by others, the figures are not the machine's own: the run says so.
BUSY_SHARE = 0.10


def run(scale: Scale, start: environment.Snapshot, database: Path, memory_result: MemoryResult) -> int:
    machine = environment.describe_machine()
    title = f"IoT Hub Console bench: {scale.name} run ({scale.note})"
    lines = [title, "=" * len(title), f"Machine: {machine.line()}"]
    lines.append(f"Scratch database: {database} on {environment.filesystem_of(database)} (deleted at exit)")
    # The load average lags by a minute; the CPU share in the summary is what the run really shared.
    lines.append(
        f"Load average at start: {' '.join(f'{value:.2f}' for value in start.load)} on {machine.logical_cpus} CPUs"
    )
    lines.append(
        "Each figure: median of the repetitions (min–max, n = repetitions); ratios are ratios of medians."
    )

    verdicts: list[bool] = []
    owner = make_owner("bench")
    _progress(start, "1. batch issuance (EC P-256, then RSA-2048)")
    issuance_lines = _issuance(owner, scale, database.parent, verdicts)
    _progress(start, "3. certificate upload")
    upload_lines = _certificate_upload(owner, scale, verdicts)
    _progress(start, f"2. device list ({scale.list_devices:,} devices to insert first)")
    list_lines = _device_list(owner, scale, verdicts)
    _progress(start, f"8. API reads ({scale.list_devices:,} devices to insert first)")
    api_lines = _api(owner, scale, verdicts)
    memory_lines = _memory(memory_result, verdicts)
    _progress(start, "5. serving the Devices tab with wrk: granian against runserver")
    serving_lines = _serving(owner, scale)
    _progress(start, "6. the device link service: Mosquitto with the plugin, in a process of its own")
    # bench/broker.py needs a database that starts empty (its 1,000-device figures come first).
    broker_lines = _section_process("bench.broker", "6. Device link service", scale, verdicts)
    _progress(start, f"7. Certificate Health and Audit Log ({scale.list_devices * 10:,} entries first)")
    health_lines = _health_audit(owner, scale, verdicts)
    _progress(start, "9. status writes under a connect storm: two consoles and brokers of their own")
    status_lines = _section_process(
        "bench.link_status", "9. Status writes under a connect storm", scale, verdicts
    )

    end = environment.Snapshot.now()
    wall = end.wall - start.wall
    capacity = wall * machine.logical_cpus
    others = max(0.0, (end.cpu.machine_busy - start.cpu.machine_busy) - (end.cpu.own - start.cpu.own))
    steal = end.cpu.machine_steal - start.cpu.machine_steal
    summary = heading("Summary")
    summary.append(
        f"  {verdicts.count(True)} PASS, {verdicts.count(False)} MISS ({scale.name} run, {wall:.0f} s)"
    )
    summary.append(
        f"  Other processes used {others / capacity:.0%} of the machine's CPU time during the run; "
        f"hypervisor steal {steal / capacity:.0%}."
    )
    if (others + steal) / capacity > BUSY_SHARE:
        summary.append(
            "  WARNING: the machine was shared during the run; rates are low and ratios noisy. Re-run when it is idle."
        )
    print(
        "\n".join(
            lines
            + issuance_lines
            + list_lines
            + upload_lines
            + memory_lines
            + serving_lines
            + broker_lines
            + health_lines
            + api_lines
            + status_lines
            + summary
        )
    )
    return 0 if all(verdicts) else 1


def _progress(start: environment.Snapshot, what: str) -> None:
    print(f"[bench {time.perf_counter() - start.wall:5.0f} s] {what}…", file=sys.stderr, flush=True)


def _issuance(owner: AbstractBaseUser, scale: Scale, scratch: Path, verdicts: list[bool]) -> list[str]:
    lines = heading(
        "1. Batch issuance by the Platform CA: start_batch untimed, run_batch timed, as the worker does"
    )
    for algorithm, devices, openssl_devices, repetitions in (
        (issuance.EC, scale.ec_devices, scale.openssl_ec_devices, scale.ec_repetitions),
        (issuance.RSA, scale.rsa_devices, scale.openssl_rsa_devices, scale.rsa_repetitions),
    ):
        result = issuance.measure(owner, algorithm, devices, openssl_devices, repetitions, scratch)
        lines.append(
            f"{algorithm}: {devices:,} devices per repetition; OpenSSL recipe {openssl_devices} devices per repetition"
        )
        lines.append(f"  run_batch                              {rate(result.batch, 'devices/s')}")
        lines.append(f"  bare cryptography loop (the limit)     {rate(result.bare, 'devices/s')}")
        if result.openssl is None:
            lines.append(
                "  OpenSSL recipe                         not measured: the openssl command is not installed"
            )
        else:
            lines.append(f"  OpenSSL recipe, 3 commands per device  {rate(result.openssl, 'devices/s')}")
        lines.append(
            f"  batch/bare of each repetition: {result.paired_ratios.low:.2f}–{result.paired_ratios.high:.2f}×"
        )
        minimum = 0.3 if algorithm == issuance.EC else 0.9
        passed = result.batch_over_bare >= minimum
        verdicts.append(passed)
        lines.append(
            target_line(
                f"{algorithm} batch / bare", times(result.batch_over_bare), f"≥ {minimum:.2f}×", passed
            )
        )
        over_openssl = result.batch_over_openssl
        if algorithm == issuance.EC:
            passed = over_openssl is not None and over_openssl >= 100
            verdicts.append(passed)
            value = "not measured" if over_openssl is None else times(over_openssl)
            lines.append(target_line(f"{algorithm} batch / OpenSSL recipe", value, "≥ 100×", passed))
        elif over_openssl is not None:
            lines.append(
                f"  {algorithm + ' batch / OpenSSL recipe':<46} {times(over_openssl):>14}   (no target)"
            )
    return lines


def _device_list(owner: AbstractBaseUser, scale: Scale, verdicts: list[bool]) -> list[str]:
    lines = heading("2. Devices tab: server time of the WSGI handler (test Client, signed in)")
    products = {}
    for count in (scale.list_small, scale.list_devices):
        started = time.perf_counter()
        products[count] = device_list.make_product_with_devices(owner, f"list-{count}", count)
        lines.append(
            f"  {count:,} devices inserted with bulk_create in {time.perf_counter() - started:.1f} s (not timed)"
        )
    client = Client()
    client.force_login(owner)
    small = device_list.measure(client, products[scale.list_small], scale.list_small, scale.list_requests)
    large = device_list.measure(client, products[scale.list_devices], scale.list_devices, scale.list_requests)
    lines.append(
        f"  {'page':<36} {f'at {scale.list_small:,} devices':<16} {f'at {scale.list_devices:,} devices':<34} queries"
    )
    for label, page in large.pages.items():
        lines.append(
            f"  {label:<36} {small.pages[label].server_time.median * 1000:7.2f} ms      "
            f"{milliseconds(page.server_time):<34} {small.pages[label].queries} → {page.queries}"
        )
        if label != device_list.MINIMAL_PAGE:
            lines.append(f"      {page.url}")
    for label in device_list.PAGE_LABELS:
        ratio = large.ratio(label)
        verdicts.append(ratio <= 2)
        lines.append(
            target_line(
                f"{label} / minimal page at {scale.list_devices:,}", times(ratio), "≤ 2.00×", ratio <= 2
            )
        )
    constant = all(small.pages[label].queries == large.pages[label].queries for label in large.pages)
    verdicts.append(constant)
    counts = ", ".join(str(page.queries) for page in large.pages.values())
    lines.append(
        target_line(
            f"queries per page, {scale.list_small:,} vs {scale.list_devices:,}", counts, "constant", constant
        )
    )
    return lines


def _api(owner: AbstractBaseUser, scale: Scale, verdicts: list[bool]) -> list[str]:
    lines = heading("8. Tencent Cloud API reads: server CPU time per request, each request freshly signed")
    products = {}
    for count in (scale.list_small, scale.list_devices):
        products[count] = device_list.make_product_with_devices(owner, f"api-{count}", count)
    results = api.measure(owner, products, scale.list_requests * 4)
    small, large = results[scale.list_small], results[scale.list_devices]
    lines.append(
        f"  {'call':<36} {f'at {scale.list_small:,} devices':<16} {f'at {scale.list_devices:,} devices':<34} queries"
    )
    rows = [("signed no-op action", small.no_op, large.no_op)]
    rows += [(label, small.calls[label], large.calls[label]) for label in api.CALLS]
    for label, at_small, at_large in rows:
        lines.append(
            f"  {label:<36} {at_small.server_time.median * 1000:7.2f} ms      "
            f"{milliseconds(at_large.server_time):<34} {at_small.queries} → {at_large.queries}"
        )
        lines.append(
            f"      {at_large.requests_per_second:,.0f} requests per CPU-second at {scale.list_devices:,} devices"
        )
    for label in api.TARGETED:
        ratio = large.ratio(label)
        verdicts.append(ratio <= 2)
        lines.append(
            target_line(f"{label} / no-op at {scale.list_devices:,}", times(ratio), "≤ 2.00×", ratio <= 2)
        )
    lines.append(
        f"  {api.CALLS[2] + ' / no-op':<46} {times(large.ratio(api.CALLS[2])):>14}   (no target: Offset is a scan)"
    )
    constant = all(small.calls[label].queries == large.calls[label].queries for label in api.CALLS)
    verdicts.append(constant)
    counts = ", ".join(str(large.calls[label].queries) for label in api.CALLS)
    lines.append(
        target_line(
            f"queries per call, {scale.list_small:,} vs {scale.list_devices:,}", counts, "constant", constant
        )
    )
    return lines


def _certificate_upload(owner: AbstractBaseUser, scale: Scale, verdicts: list[bool]) -> list[str]:
    lines = heading("3. Batch upload of device certificates (own CA): start_batch untimed, run_batch timed")
    result = certificate_upload.measure(owner, scale.upload_certificates, scale.upload_repetitions)
    lines.append(f"EC P-256 client certificates: {result.certificates:,} per repetition")
    lines.append(f"  run_batch                              {rate(result.batch, 'certificates/s')}")
    lines.append(f"  bare load_certificate + verify loop    {rate(result.bare, 'certificates/s')}")
    lines.append(
        f"  batch/bare of each repetition: {result.paired_ratios.low:.2f}–{result.paired_ratios.high:.2f}×"
    )
    passed = result.batch_over_bare >= 0.3
    verdicts.append(passed)
    lines.append(target_line("certificate batch / bare", times(result.batch_over_bare), "≥ 0.30×", passed))
    return lines


def _memory(result: MemoryResult, verdicts: list[bool]) -> list[str]:
    lines = heading(
        "4. Peak memory of one EC batch, in a child process (run first, while the parent was small)"
    )
    lines.append(
        f"  {result.devices:,} EC P-256 devices in {result.seconds:.1f} s ({result.devices / result.seconds:,.0f} devices/s)"
    )
    lines.append(
        f"  child RSS after django.setup(), before the batch   {result.baseline_kib / 1024:7.1f} MiB"
    )
    lines.append(
        f"  child peak RSS (RUSAGE_CHILDREN ru_maxrss)          {result.peak_kib / 1024:7.1f} MiB"
        f"  (its own VmHWM {result.own_peak_kib / 1024:.1f} MiB; parent when it started it"
        f" {result.parent_kib_at_start / 1024:.1f} MiB)"
    )
    passed = result.peak_mb < 300
    verdicts.append(passed)
    lines.append(
        target_line(
            f"peak RSS of a {result.devices:,}-device batch", f"{result.peak_mb:.0f} MB", "< 300 MB", passed
        )
    )
    return lines


def _section_process(module: str, title: str, scale: Scale, verdicts: list[bool]) -> list[str]:
    """A section run by `python -m module` on a scratch database of its own, for its report lines."""
    with tempfile.TemporaryDirectory(prefix="iothub-bench-section-") as directory:
        result = Path(directory) / "result.json"
        command = [sys.executable, "-m", module, "--result", str(result)]
        if scale.name == "QUICK":
            command.append("--quick")
        completed = subprocess.run(command, cwd=environment.PROJECT_DIR, check=False)
        if completed.returncode not in (0, 1) or not result.exists():
            verdicts.append(False)
            return [*heading(title), f"  did not run: {module} exited {completed.returncode}"]
        report = json.loads(result.read_text())
    verdicts.extend(report["verdicts"])
    return report["lines"]


def _health_audit(owner: AbstractBaseUser, scale: Scale, verdicts: list[bool]) -> list[str]:
    """The large account is the one the sections before filled, with ten Audit Log entries per device."""
    lines = heading("7. Certificate Health and the Audit Log's first page: server time (test Client)")
    small_owner = make_owner("bench-health-small")
    small_fleet = device_list.make_product_with_devices(small_owner, "health-small", scale.list_small)
    # The small fleet is ten hours old, too young for an expired certificate: give it some, so
    # that both accounts have findings of the same kinds and make the same queries.
    health_audit.expire_some(small_fleet, 10)
    results, sizes = {}, {}
    for account, devices in ((small_owner, scale.list_small), (owner, scale.list_devices)):
        started = time.perf_counter()
        newest = health_audit.insert_entries(account, devices * 10)
        fleet = health_audit.fleet_size(account)
        sizes[devices] = f"{fleet:,} devices, {devices * 10:,} entries"
        lines.append(
            f"  {sizes[devices]}: entries inserted with bulk_create in {time.perf_counter() - started:.1f} s"
            " (not timed)"
        )
        results[devices] = health_audit.measure(account, newest, scale.list_requests)
    small, large = results[scale.list_small], results[scale.list_devices]
    lines.append(f"  {'page':<36} {'small account':<16} {sizes[scale.list_devices]:<34} queries")
    for label, page in large.pages.items():
        lines.append(
            f"  {label:<36} {small.pages[label].server_time.median * 1000:7.2f} ms      "
            f"{milliseconds(page.server_time):<34} {small.pages[label].queries} → {page.queries}"
        )
    for label in health_audit.PAGE_LABELS:
        ratio = large.ratio(label)
        verdicts.append(ratio <= 2)
        lines.append(target_line(f"{label} / minimal page", times(ratio), "≤ 2.00×", ratio <= 2))
    constant = all(small.pages[label].queries == large.pages[label].queries for label in large.pages)
    verdicts.append(constant)
    counts = ", ".join(str(page.queries) for page in large.pages.values())
    lines.append(target_line("queries per page, small vs large", counts, "constant", constant))
    return lines


def _serving(owner: AbstractBaseUser, scale: Scale) -> list[str]:
    lines = heading("5. Serving the Devices tab: pages/s by wrk, granian (make run) against runserver")
    product = device_list.make_product_with_devices(owner, "serving", scale.list_small)
    result = serving.measure(owner, product, scale.serving_seconds, scale.serving_repetitions)
    return lines + serving.report_lines(result)
