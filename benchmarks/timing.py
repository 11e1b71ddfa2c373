"""One way to time the command line as a user runs it, for every benchmark: ``python ARGS`` as
a subprocess in the repository root, this tree first on the path, with its wall seconds and
the CPU seconds of the child (user + system: steadier than wall on a shared machine)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_python(args: list[str], env: dict | None = None, check: bool = True
                 ) -> tuple[float, float, subprocess.CompletedProcess]:
    """``(wall, CPU, process)`` of one ``python ARGS`` run; ``RuntimeError`` naming the
    command when it fails and ``check`` is set."""
    if env is None:
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep
               + os.environ.get("PYTHONPATH", "")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr[-500:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, proc


def best_cli(args: list[str], repeat: int, env: dict | None = None) -> tuple[float, float]:
    """Best-of-``repeat`` (wall, CPU) seconds of ``python ARGS``."""
    runs = [timed_python(args, env)[:2] for _ in range(repeat)]
    return min(w for w, _ in runs), min(c for _, c in runs)


def best_of(fn, repeat: int, warm: bool = False) -> float:
    """Best-of-``repeat`` wall seconds of the call ``fn()`` in this process (``warm``: one
    untimed call first, so imports and caches stay outside the timings)."""
    if warm:
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
