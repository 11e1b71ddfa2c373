"""The CPU backend: the GPU benchmark's method, with numpy (BLAS) standing in for cuBLAS.

It exists so that the whole ``planner bench`` path (timing, statistics, sampler, comparison,
calibrated profile) runs on any machine and in the test suite.  Matmul is fp32 ``np.matmul``
into a preallocated output; the last-level cache is flushed (a buffer twice its size is
rewritten) before each timed iteration; bandwidth is ``np.copyto`` (copy, 2 bytes moved per
array byte) and a cache-blocked STREAM triad ``a = b + s·c`` (3 bytes per array byte), on
arrays of 8x the last-level cache (256 MiB to 1 GiB; less when memory is short).  Timing is
``time.perf_counter``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from planner.bench import (
    BandwidthCase,
    BenchResult,
    Deadline,
    MatmulCase,
    Progress,
    iterations_for,
    rates,
    utc_now,
)
from planner.bench.sampler import Sampler, cpu_reader

DEFAULT_SHAPES: tuple[tuple[int, int, int], ...] = ((512, 512, 512), (1024, 1024, 1024),
                                                    (2048, 2048, 2048))
GIB = 2**30
_TRIAD_CHUNK = 2**17  # float64 elements (1 MiB): the temporary stays in cache
_TRIAD_SCALAR = 3.0


def _llc_bytes() -> int:
    """Size of the largest CPU cache (Linux sysfs), default 32 MiB."""
    best = 0
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            txt = f.read_text().strip().upper()
            mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(txt[-1:], 1)
            best = max(best, int(txt.rstrip("KMG")) * mult)
        except (OSError, ValueError):
            continue
    return best or 32 * 2**20


def _available_bytes() -> Optional[int]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def total_memory_bytes() -> Optional[int]:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_array_bytes() -> int:
    """Eight times the last-level cache, at least 256 MiB and at most 1 GiB per array, and no
    more than an eighth of available memory (the triad needs three arrays).

    STREAM asks for arrays of at least 4x the caches; the GPU backend's 1 GiB would make the
    first touch of three arrays (seconds on a VM) eat most of a short CPU run."""
    size = min(GIB, max(256 * 2**20, 8 * _llc_bytes()))
    avail = _available_bytes()
    if avail is not None:
        size = min(size, avail // 8)
    return max(16 * 2**20, size)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def _blas_name() -> str:
    try:
        cfg = np.__config__.CONFIG  # numpy >= 1.26
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - provenance only
        return ""


def _time_case(step: Callable[[], object], flush: Callable[[], object], budget_s: float,
               min_iters: int, max_iters: int, min_warmup: int = 3) -> list[float]:
    """Warm up, size the iteration count to the budget, then time ``step`` alone (the flush
    runs before each timed iteration, outside the timing).

    The warm-up is timed, not counted: BLAS thread pools and CPU clocks take a while to settle
    (on a 2-core VM the first ~10 small GEMMs after a flush ran 300x slower), so it runs the
    flush-and-step loop for at least ``min_warmup`` calls and ~15% of the case's budget (at most
    0.5 s)."""
    start = time.perf_counter()
    warm_for = min(0.5, 0.15 * budget_s)
    calls = 0
    while calls < min_warmup or (time.perf_counter() - start < warm_for and calls < 1000):
        flush()
        step()
        calls += 1
    t0 = time.perf_counter()
    step()
    t1 = time.perf_counter()
    flush()
    t2 = time.perf_counter()
    left = max(0.0, budget_s - (t2 - start))
    n = iterations_for(left, (t1 - t0) + (t2 - t1), min_iters, max_iters)
    times = []
    for _ in range(n):
        flush()
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return times


def run(seconds: float = 10.0, *, shapes: Sequence[tuple[int, int, int]] = DEFAULT_SHAPES,
        array_bytes: Optional[int] = None, flush_bytes: Optional[int] = None,
        min_iters: int = 3, max_iters: int = 500, sample_interval_s: float = 0.1,
        progress: Optional[Progress] = None) -> BenchResult:
    """Measure fp32 matmul TFLOP/s over ``shapes`` and copy/triad bandwidth in about
    ``seconds`` (each case runs at least ``min_iters`` timed iterations, so tiny budgets
    overrun)."""
    deadline = Deadline(seconds)
    array_bytes = int(array_bytes or default_array_bytes())
    flush_bytes = int(flush_bytes or max(2 * _llc_bytes(), 8 * 2**20))
    rng = np.random.default_rng(0)
    flush_buf = np.empty(flush_bytes // 8, dtype=np.float64)
    fill = [0.0]

    def flush() -> None:
        fill[0] += 1.0
        flush_buf.fill(fill[0])  # rewrite the whole buffer: evicts A, B and C from the caches

    cases_total = len(shapes) + 2
    done = 0
    matmul: list[MatmulCase] = []
    bandwidth: list[BandwidthCase] = []
    skipped: dict[str, str] = {}

    def tick(desc: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(desc, done, cases_total)

    with Sampler(cpu_reader(), sample_interval_s) as sampler:
        # bandwidth first: allocating (and first touching) three large arrays is the slow part
        # of setup, and the matmul cases then share whatever time is left
        n_el = max(_TRIAD_CHUNK, array_bytes // 8 // _TRIAD_CHUNK * _TRIAD_CHUNK)
        nbytes = n_el * 8
        size = f"{nbytes / GIB:.2f} GiB"
        if progress:
            progress(f"allocating 3 x {size}", done, cases_total)
        try:
            src = np.full(n_el, 1.0)
            dst = np.full(n_el, 2.0)
            c3 = np.full(n_el, 0.5)
            tmp = np.empty(_TRIAD_CHUNK)

            def triad() -> None:
                for i in range(0, n_el, _TRIAD_CHUNK):
                    np.multiply(c3[i:i + _TRIAD_CHUNK], _TRIAD_SCALAR, out=tmp)
                    np.add(src[i:i + _TRIAD_CHUNK], tmp, out=dst[i:i + _TRIAD_CHUNK])

            kernels: tuple = (("copy", lambda: np.copyto(dst, src), 2), ("triad", triad, 3))
        except MemoryError:
            kernels = ()
            skipped["bandwidth"] = f"out of memory for three {size} arrays"
            cases_total -= 2
        for name, step, factor in kernels:
            if progress:
                progress(f"{name} {size}", done, cases_total)
            # arrays far larger than the caches: no flush; one warm-up call (pages are touched)
            times = _time_case(step, lambda: None, deadline.share(cases_total - done),
                               min_iters, max_iters, min_warmup=1)
            med, hi, lo = rates(float(factor * nbytes), times, 1e9)
            bandwidth.append(BandwidthCase(name, nbytes, factor * nbytes, len(times), med, hi, lo))
            tick(f"{name} {size}")
        if kernels:
            expect = 1.0 + _TRIAD_SCALAR * 0.5
            if not np.allclose(dst[:: max(1, n_el // 1024)], expect):
                raise RuntimeError("the triad wrote wrong values; the measurement is void")
            del src, dst, c3, tmp, kernels

        for m, n, k in shapes:
            desc = f"fp32 matmul {m}x{n}x{k}"
            if progress:
                progress(desc, done, cases_total)
            try:
                a = rng.standard_normal((m, k), dtype=np.float32)
                b = rng.standard_normal((k, n), dtype=np.float32)
                c = np.empty((m, n), dtype=np.float32)
                times = _time_case(lambda a=a, b=b, c=c: np.matmul(a, b, out=c), flush,
                                   deadline.share(cases_total - done), min_iters, max_iters)
                med, hi, lo = rates(2.0 * m * n * k, times, 1e12)
                matmul.append(MatmulCase("fp32", m, n, k, len(times), med, hi, lo))
            except MemoryError:
                skipped[desc] = "out of memory"
            tick(desc)

    return BenchResult(
        backend="cpu",
        device_name=cpu_name(),
        matmul=tuple(matmul),
        bandwidth=tuple(bandwidth),
        method=("numpy: fp32 np.matmul(out=C), warm-up, last-level cache flushed between "
                "iterations (perf_counter); copy np.copyto and cache-blocked STREAM triad "
                "a=b+s*c; median and max over iterations"),
        date=utc_now(),
        seconds=deadline.elapsed(),
        environment={"numpy_version": np.__version__, "blas": _blas_name(),
                     "cpu_count": os.cpu_count() or 1, "machine": platform.machine(),
                     "python_version": platform.python_version(),
                     "memory_total_bytes": total_memory_bytes(),
                     "flush_bytes": flush_bytes},
        samples=sampler.summary(),
        skipped=skipped,
    )
