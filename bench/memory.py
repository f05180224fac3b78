"""4. Peak memory of one large EC batch, in a process of its own, read from outside.

Linux charges a new process with the peak RSS of the process it was forked or
vforked from (exec records the old address space's high-water mark in ru_maxrss).
A child started by a parent that has already issued thousands of certificates and
inserted 100,000 devices would therefore "peak" at the parent's size. So the child
is started first thing, while the parent is still a bare interpreter, and waits on
its stdin; the parent hands it the migrated database, waits for it, and reads
getrusage(RUSAGE_CHILDREN) before it waits for any other child.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .environment import PROJECT_DIR, resident_kib
from .report import BenchError


@dataclass(frozen=True)
class MemoryResult:
    devices: int
    peak_kib: int  # ru_maxrss of the child, from RUSAGE_CHILDREN
    parent_kib_at_start: int  # the floor Linux puts under that reading (see the module docstring)
    own_peak_kib: int  # the child's VmHWM, as it saw it itself: a cross-check
    baseline_kib: int
    seconds: float

    @property
    def peak_mb(self) -> float:
        return self.peak_kib * 1024 / 1e6


class MemoryChild:
    """The child, started at once and told later which database to run its batch on."""

    def __init__(self, devices: int) -> None:
        self.devices = devices
        _, self.parent_kib_at_start = resident_kib()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.memory_child", str(devices)],
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def measure(self, database: Path) -> MemoryResult:
        earlier = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if earlier:
            raise BenchError(
                f"a child already ended (peak {earlier} KiB): RUSAGE_CHILDREN cannot single this one out"
            )
        stdout, stderr = self.process.communicate(f"{database}\n")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if self.process.returncode != 0:
            raise BenchError(f"the memory child exited {self.process.returncode}:\n{stderr}")
        report = json.loads(stdout.strip().splitlines()[-1])
        if report["status"] != "succeeded" or report["processed"] != self.devices or report["failed"]:
            raise BenchError(f"the memory child's batch ended {report['status']}: {report}")
        return MemoryResult(
            devices=self.devices,
            peak_kib=peak,
            parent_kib_at_start=self.parent_kib_at_start,
            own_peak_kib=report["own_peak_kib"],
            baseline_kib=report["baseline_kib"],
            seconds=report["seconds"],
        )

    def stop(self) -> None:
        """If the run broke before the child was used: end it (it is ours, by its pid)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
