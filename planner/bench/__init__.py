"""``planner bench``: measure achievable matmul throughput and memory bandwidth.

Three parts, each importable without torch:

* :mod:`planner.bench.nvml`: what the driver reports (name, UUID, clocks, power); never raises.
* :mod:`planner.bench.cuda`: the GPU backend (torch, imported lazily; extra ``gpu``: ``pip install '.[gpu]'`` in a checkout).
* :mod:`planner.bench.cpu`: the same measurements on the CPU with numpy, so the whole code path
  runs (and is tested) on any machine.

:mod:`planner.bench.calibrate` compares a result with a profile's spec and writes a calibrated
profile (``extends:`` the shipped one, plus a ``measured:`` block) that budgets can name.

The method is the one mature GPU benchmarks use (nvbench, mamf-finder, STREAM): warm-up first,
device-side timing (CUDA events), the last-level cache flushed between iterations, the output
written every iteration, several shapes, median and max reported; bandwidth from copies of at
least 1 GiB; a background thread samples clocks and power so throttling is visible; the total
run time is bounded.  This module holds the result types and the timing arithmetic both
backends share.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

#: progress callback: ``(description, cases_done, cases_total)``
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MatmulCase:
    """One timed GEMM ``C[m,n] = A[m,k] @ B[k,n]`` at one precision (2·m·n·k FLOP a call)."""

    precision: str
    m: int
    n: int
    k: int
    iterations: int
    median_tflops: float
    max_tflops: float
    min_tflops: float

    @property
    def flop(self) -> float:
        return 2.0 * self.m * self.n * self.k

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "matmul", **asdict(self)}


@dataclass(frozen=True)
class BandwidthCase:
    """One timed memory kernel: ``copy`` (b = a, 2 bytes moved per byte of array) or
    ``triad`` (a = b + s·c, STREAM's 3 bytes per byte of array)."""

    kernel: str
    array_bytes: int
    bytes_per_iteration: int
    iterations: int
    median_gb_per_s: float
    max_gb_per_s: float
    min_gb_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "bandwidth", **asdict(self)}


@dataclass(frozen=True)
class BenchResult:
    """Everything one ``planner bench`` run measured, with its provenance."""

    backend: str  # "cuda" | "cpu"
    device_name: str
    matmul: tuple[MatmulCase, ...]
    bandwidth: tuple[BandwidthCase, ...]
    method: str
    date: str  # ISO 8601, UTC
    seconds: float  # wall time of the measurements
    uuid: str = ""
    profile: Optional[str] = None  # shipped profile the device maps to, if any
    environment: dict[str, Any] = field(default_factory=dict)  # driver, torch, numpy, cc, ...
    samples: dict[str, Any] = field(default_factory=dict)  # clock/power sampler summary
    skipped: dict[str, str] = field(default_factory=dict)  # case -> reason

    # ---- what the cost model reads --------------------------------------------------------
    def tflops(self) -> dict[str, float]:
        """Achievable TFLOP/s per precision: the median of the best shape."""
        best: dict[str, float] = {}
        for c in self.matmul:
            best[c.precision] = max(best.get(c.precision, 0.0), c.median_tflops)
        return best

    def tflops_max(self) -> dict[str, float]:
        """Best single iteration per precision over all shapes."""
        best: dict[str, float] = {}
        for c in self.matmul:
            best[c.precision] = max(best.get(c.precision, 0.0), c.max_tflops)
        return best

    def best_case(self, precision: str) -> Optional[MatmulCase]:
        cases = [c for c in self.matmul if c.precision == precision]
        return max(cases, key=lambda c: c.median_tflops) if cases else None

    def kernel(self, name: str) -> Optional[BandwidthCase]:
        return next((b for b in self.bandwidth if b.kernel == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "device_name": self.device_name, "uuid": self.uuid,
            "profile": self.profile, "date": self.date, "seconds": self.seconds,
            "method": self.method, "tflops": self.tflops(), "tflops_max": self.tflops_max(),
            "matmul": [c.as_dict() for c in self.matmul],
            "bandwidth": [b.as_dict() for b in self.bandwidth],
            "environment": dict(self.environment), "samples": dict(self.samples),
            "skipped": dict(self.skipped),
        }


# ---- timing arithmetic shared by the backends ----------------------------------------------

class Deadline:
    """Splits a total time budget over the cases still to run."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.perf_counter):
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError(f"the time budget must be a positive number of seconds, "
                             f"not {seconds}")
        self.clock = clock
        self.start = clock()
        self.end = self.start + seconds

    def share(self, cases_left: int) -> float:
        """Seconds for the next case: what is left, divided evenly (0 once past the end)."""
        return max(0.0, self.end - self.clock()) / max(1, cases_left)

    def elapsed(self) -> float:
        return self.clock() - self.start


def iterations_for(budget_s: float, seconds_per_iteration: float, lo: int, hi: int) -> int:
    """How many timed iterations fit in ``budget_s``, clamped to ``[lo, hi]``."""
    if seconds_per_iteration <= 0 or not math.isfinite(seconds_per_iteration):
        return hi
    fit = math.floor(budget_s / seconds_per_iteration * (1 + 1e-9))  # 1.0/0.01 is 100
    return int(min(hi, max(lo, fit)))


def rates(work: float, seconds: list[float], unit: float) -> tuple[float, float, float]:
    """(median, max, min) of ``work / t / unit`` over the timed iterations."""
    good = [t for t in seconds if t > 0 and math.isfinite(t)]
    if not good:
        raise RuntimeError("no iteration produced a usable timing")
    r = [work / t / unit for t in good]
    return statistics.median(r), max(r), min(r)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = ["BandwidthCase", "BenchResult", "Deadline", "MatmulCase", "Progress",
           "iterations_for", "rates", "utc_now"]
