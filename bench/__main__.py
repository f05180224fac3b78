"""`python -m bench [--quick]`: every measurement, in one run, on a throwaway database.

1. Platform-CA batch issuance (EC P-256 and RSA-2048) against bare `cryptography`
   and against the console page's OpenSSL recipe;
2. the Devices tab at 100,000 devices against a minimal signed-in page;
3. a batch upload of device certificates against a bare load-and-verify loop;
4. the peak memory of a 10,000-device EC batch, in a child process;
5. pages/s of the Devices tab by wrk, served by granian (`make run`) against runserver;
6. the device link service: connects/s through the broker plugin against no plugin, Disable to
   disconnect at 100,000 devices, broker CPU and memory at 1,000 and 100,000 devices;
7. Certificate Health and the Audit Log's first page at 1,000 and 100,000 devices (ten
   entries per device) against a minimal signed-in page;
8. Tencent Cloud API reads (DescribeDevices, DescribeProduct) at 1,000 and 100,000 devices
   against a signed no-op action, by the server's CPU time per request;
9. status writes under a connect storm: 5,000 Key devices connecting with their status recorded
   against the same with the events dropped, and the time until the console shows all online.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from . import environment
from .memory import MemoryChild
from .scales import FULL, QUICK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller counts and fewer repetitions: a smoke run of under a minute",
    )
    scale = QUICK if parser.parse_args(argv).quick else FULL
    with tempfile.TemporaryDirectory(prefix="iothub-bench-") as directory:
        scratch = Path(directory)
        database = scratch / "bench.sqlite3"
        environment.configure(scratch, database)
        start = environment.Snapshot.now()
        # Before Django is loaded: see bench/memory.py for why the child must start now.
        child = MemoryChild(scale.memory_devices)
        try:
            import django
            from django.core.management import call_command
            from django.db import connections

            django.setup()
            # WhiteNoise warns when collectstatic has not run; the pages measured serve no static file.
            warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
            call_command("migrate", interactive=False, verbosity=0)
            connections.close_all()
            child_database = scratch / "memory-child.sqlite3"
            shutil.copyfile(database, child_database)
            # Measurement 4 runs first, while no other child has ended; it is printed last.
            print("[bench] 4. memory of one batch, in a child process…", file=sys.stderr, flush=True)
            memory_result = child.measure(child_database)
            # The measurement modules import models, which needs django.setup() first.
            from .run import run

            try:
                return run(scale, start, database, memory_result)
            finally:
                connections.close_all()
        finally:
            child.stop()


if __name__ == "__main__":
    sys.exit(main())
