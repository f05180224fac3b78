"""`python -m bench.profile WHAT`: where the console's time goes in one measurement, by pyinstrument.

WHAT is `issuance-ec` or `issuance-rsa` (a Platform-CA batch), `upload` (a batch of
device certificates from an own CA) or `list` (Devices-tab requests at 100,000 devices).
Only the part `make bench` times is profiled; set-up runs first, unprofiled, on the
same kind of throwaway database. Prints the functions by their own time and by
their time including callees, as percentages of the profiled time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import environment

TOP_LINES = 30
PROFILE_INTERVAL = 0.0005


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["issuance-ec", "issuance-rsa", "upload", "list"])
    parser.add_argument("--count", type=int, help="devices or certificates (default: as in make bench)")
    parser.add_argument("--tree", action="store_true", help="also print the call tree")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="iothub-profile-") as directory:
        scratch = Path(directory)
        environment.configure(scratch, scratch / "profile.sqlite3")

        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        try:
            action = _prepare(arguments.what, arguments.count)
            _profile(action, arguments.tree)
        finally:
            connections.close_all()
    return 0


def _prepare(what: str, count: int | None) -> Callable[[], object]:
    """Set up, unprofiled, and return the action `make bench` times."""
    from django.test import Client

    from batches.inputs import generated_names
    from batches.models import DeviceBatch
    from batches.services import run_batch, start_batch
    from products import platform
    from products.models import Product

    from . import certificate_upload, device_list, fixtures
    from .scales import FULL

    owner = fixtures.make_owner("profile")
    if what.startswith("issuance-"):
        algorithm = Product.KeyAlgorithm.EC_P256 if what == "issuance-ec" else Product.KeyAlgorithm.RSA_2048
        product = fixtures.platform_product(owner, "profile-issuance", algorithm)
        platform.device_ca()
        default = FULL.ec_devices if what == "issuance-ec" else FULL.rsa_devices
        names = generated_names(count or default, "p-")
        batch = start_batch(owner=owner, product=product, kind=DeviceBatch.Kind.AUTO, names=names)
        return lambda: run_batch(batch.pk)
    if what == "upload":
        own_ca = fixtures.custom_ca_product(owner, "profile-upload")
        files = certificate_upload.device_certificates(own_ca, count or FULL.upload_certificates)
        batch = start_batch(
            owner=owner, product=own_ca.product, kind=DeviceBatch.Kind.CERTIFICATES, certificates=files
        )
        return lambda: run_batch(batch.pk)
    devices = count or FULL.list_devices
    product = device_list.make_product_with_devices(owner, "profile-list", devices)
    client = Client()
    client.force_login(owner)
    urls = device_list.page_urls(client, product, devices)

    def requests() -> None:
        for _ in range(FULL.list_requests):
            for url, _names in urls.values():
                client.get(url)

    return requests


def _profile(action: Callable[[], object], tree: bool) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=PROFILE_INTERVAL)
    profiler.start()
    action()
    profiler.stop()
    session = profiler.last_session
    print(
        f"Profiled {session.duration:.2f} s wall, {session.cpu_time:.2f} s CPU, {session.sample_count} samples"
    )
    for heading, flat_time in (("own time", "self"), ("time including callees", "total")):
        print(f"\nTop functions by {heading} (% of profiled time)")
        print(
            "\n".join(
                _body(profiler.output_text(flat=True, flat_time=flat_time, time="percent_of_total"))[
                    :TOP_LINES
                ]
            )
        )
    if tree:
        print("\nCall tree (% of profiled time)")
        print("\n".join(_body(profiler.output_text(time="percent_of_total"))))


def _body(text: str) -> list[str]:
    """pyinstrument's report without its banner."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("Profile at")) + 1
    return [line for line in lines[start:] if line.strip()]


if __name__ == "__main__":
    sys.exit(main())
