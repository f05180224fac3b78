"""Repetitions, their summary, and how a figure is printed beside its target."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


class BenchError(RuntimeError):
    """A measurement did not do what it claims to measure (a batch failed, a page was wrong)."""


@dataclass(frozen=True)
class Sample:
    """Repeated measurements of one thing: a rate, a time or a size."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def __len__(self) -> int:
        return len(self.values)


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def rate(sample: Sample, unit: str) -> str:
    """`1,234 devices/s (1,100–1,300, n=5)`: median, then min–max of the repetitions."""
    return f"{sample.median:>9,.1f} {unit} ({sample.low:,.1f}–{sample.high:,.1f}, n={len(sample)})"


def milliseconds(sample: Sample) -> str:
    return (
        f"{sample.median * 1000:7.2f} ms ({sample.low * 1000:.2f}–{sample.high * 1000:.2f}, n={len(sample)})"
    )


def times(ratio: float) -> str:
    """A ratio with enough digits that a MISS never prints as its target (99.7×, not 100×)."""
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def target_line(label: str, value: str, target: str, passed: bool) -> str:
    return f"  {label:<46} {value:>14}   target {target:<12} {verdict(passed)}"


def heading(text: str) -> list[str]:
    return ["", text, "-" * len(text)]
