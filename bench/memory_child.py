"""The child process of measurement 4: one EC batch, run as the worker runs it.

`python -m bench.memory_child DEVICES`, started by the parent before it loads Django
(see `bench.memory`), with the environment the parent prepared. It waits for one line
on stdin, the path of a migrated scratch database, then prints one JSON line: its RSS
just after `django.setup()`, its own peak, and how long the batch took.
"""

from __future__ import annotations

import json
import os
import sys
import time

from .environment import resident_kib


def main(devices: int) -> None:
    database = sys.stdin.readline().strip()
    if not database:
        return  # the parent went away before handing over a database
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"

    import django

    django.setup()
    baseline_kib, _ = resident_kib()

    from batches.inputs import generated_names
    from batches.models import DeviceBatch
    from batches.services import run_batch, start_batch
    from products.models import Product

    from .fixtures import make_owner, platform_product

    owner = make_owner("bench-memory")
    product = platform_product(owner, "bench-memory", Product.KeyAlgorithm.EC_P256)
    batch = start_batch(
        owner=owner, product=product, kind=DeviceBatch.Kind.AUTO, names=generated_names(devices, "mem-")
    )
    start = time.perf_counter()
    run_batch(batch.pk)
    elapsed = time.perf_counter() - start
    batch.refresh_from_db()
    _, peak_kib = resident_kib()
    print(
        json.dumps(
            {
                "baseline_kib": baseline_kib,
                "own_peak_kib": peak_kib,
                "seconds": elapsed,
                "status": batch.status,
                "processed": batch.processed,
                "failed": batch.failed,
                "error": batch.error,
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
