"""A background thread that polls clocks and power while a benchmark runs.

A GPU that hits its power or thermal limit lowers its clocks; a matmul figure measured that way
is the throttled one.  Sampling during the run makes that visible in the written profile
(``clocks_mhz``, ``power_watts``) and in the table (``slowdown:`` reasons NVML reported).

``read`` is any function returning a dict of numbers (and optionally ``"throttle"``: a list of
reason names); :func:`planner.bench.nvml.device_reader` makes one for a GPU, :func:`cpu_reader`
for the CPU.  A reading that raises is skipped: the sampler never stops the benchmark.

Readings are tagged with the phase the benchmark is in (``with sampler.phase("decode"): ...``),
so the board power of each phase comes out separately: ``idle`` (CUDA context open, no kernel),
``decode`` (the HBM copy and triad: memory-bound like LLM decode) and ``compute`` (the matmuls:
compute-bound like prefill and training).  NVML's ``nvmlDeviceGetPowerUsage`` averages over one
second on Ampere-and-newer parts other than GA100 (NVIDIA NVML API Reference Manual), so the
readings of a phase's first ``settle_s`` seconds, which still average in the previous phase,
are left out of its median (kept when nothing else remains).
"""

from __future__ import annotations

import statistics
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

#: seconds at the start of a phase whose power readings still average in the previous one
SETTLE_S = 1.0


class Sampler:
    """``with Sampler(read, interval_s=0.1) as s: ...`` then ``s.summary()``."""

    def __init__(self, read: Optional[Callable[[], dict]], interval_s: float = 0.1,
                 settle_s: float = SETTLE_S, clock: Callable[[], float] = time.perf_counter):
        self.read = read
        self.clock = clock
        self.interval_s = interval_s
        self.settle_s = settle_s
        self.samples: list[dict] = []
        self.errors = 0
        self._phase: Optional[tuple[str, float]] = None  # (name, start time)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Tag the readings taken inside the block with ``name``."""
        prev = self._phase
        self._phase = (name, self.clock())
        try:
            yield
        finally:
            self._phase = prev

    def _poll_once(self) -> None:
        phase = self._phase
        try:
            s = dict(self.read())  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a failed reading is skipped, never raised
            self.errors += 1
            return
        s["t"] = self.clock()
        if phase is not None:
            s["phase"], s["phase_t"] = phase[0], s["t"] - phase[1]
        self.samples.append(s)

    def _run(self) -> None:
        while True:
            self._poll_once()
            if self._stop.wait(self.interval_s):
                break

    def __enter__(self) -> "Sampler":
        if self.read is not None:
            self._thread = threading.Thread(target=self._run, name="planner-bench-sampler",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._poll_once()  # one reading at the very end

    def summary(self) -> dict[str, Any]:
        """``{"samples": n, "<key>": {"min", "median", "max"}, ..., "throttle": [reasons]}``
        for every numeric key seen in at least one reading."""
        out: dict[str, Any] = {"samples": len(self.samples), "interval_s": self.interval_s}
        keys = sorted({k for s in self.samples for k, v in s.items()
                       if k not in ("t", "phase_t") and isinstance(v, (int, float))
                       and not isinstance(v, bool)})
        for k in keys:
            vals = [float(s[k]) for s in self.samples
                    if isinstance(s.get(k), (int, float)) and not isinstance(s.get(k), bool)]
            if vals:
                out[k] = {"min": min(vals), "median": statistics.median(vals), "max": max(vals)}
        reasons = sorted({r for s in self.samples for r in s.get("throttle") or ()})
        if any("throttle" in s for s in self.samples):
            out["throttle"] = reasons
        phases = self.phase_power()
        if phases:
            out["phases"] = phases
        return out

    def phase_power(self) -> dict[str, dict[str, float]]:
        """``{phase: {"power_watts": median, "samples": n}}`` over the readings of each phase
        with a power figure, less the first ``settle_s`` seconds of the phase (all of them
        when none is later)."""
        out: dict[str, dict[str, float]] = {}
        names = dict.fromkeys(s["phase"] for s in self.samples if "phase" in s)
        for name in names:
            got = [s for s in self.samples if s.get("phase") == name
                   and isinstance(s.get("power_watts"), (int, float))
                   and not isinstance(s.get("power_watts"), bool)]
            settled = [s for s in got if s["phase_t"] >= self.settle_s] or got
            if settled:
                out[name] = {"power_watts": statistics.median(float(s["power_watts"])
                                                              for s in settled),
                             "samples": len(settled)}
        return out


def cpu_reader() -> Optional[Callable[[], dict]]:
    """Mean current CPU clock in MHz (Linux ``cpufreq`` or ``/proc/cpuinfo``), or ``None``
    where neither exists.  CPU power is not read (RAPL counters usually need root)."""
    freq = sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_cur_freq"))
    cpuinfo = Path("/proc/cpuinfo")
    if freq:
        def read() -> dict:
            khz = [float(p.read_text()) for p in freq]
            return {"cpu_clock_mhz": sum(khz) / len(khz) / 1000.0}
        return read
    if cpuinfo.is_file() and "cpu MHz" in cpuinfo.read_text(errors="replace"):
        def read_info() -> dict:
            mhz = [float(line.split(":")[1]) for line in cpuinfo.read_text().splitlines()
                   if line.startswith("cpu MHz")]
            return {"cpu_clock_mhz": sum(mhz) / len(mhz)}
        return read_info
    return None
