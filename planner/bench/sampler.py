"""A background thread that polls clocks and power while a benchmark runs.

A GPU that hits its power or thermal limit lowers its clocks; a matmul figure measured that way
is the throttled one.  Sampling during the run makes that visible in the written profile
(``clocks_mhz``, ``power_watts``) and in the table (``slowdown:`` reasons NVML reported).

``read`` is any function returning a dict of numbers (and optionally ``"throttle"``: a list of
reason names); :func:`planner.bench.nvml.device_reader` makes one for a GPU, :func:`cpu_reader`
for the CPU.  A reading that raises is skipped: the sampler never stops the benchmark.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional


class Sampler:
    """``with Sampler(read, interval_s=0.1) as s: ...`` then ``s.summary()``."""

    def __init__(self, read: Optional[Callable[[], dict]], interval_s: float = 0.1):
        self.read = read
        self.interval_s = interval_s
        self.samples: list[dict] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _poll_once(self) -> None:
        try:
            s = dict(self.read())  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a failed reading is skipped, never raised
            self.errors += 1
            return
        s["t"] = time.perf_counter()
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
                       if k != "t" and isinstance(v, (int, float)) and not isinstance(v, bool)})
        for k in keys:
            vals = [float(s[k]) for s in self.samples
                    if isinstance(s.get(k), (int, float)) and not isinstance(s.get(k), bool)]
            if vals:
                out[k] = {"min": min(vals), "median": statistics.median(vals), "max": max(vals)}
        reasons = sorted({r for s in self.samples for r in s.get("throttle") or ()})
        if any("throttle" in s for s in self.samples):
            out["throttle"] = reasons
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
