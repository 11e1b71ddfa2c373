"""``planner optimize`` as a user runs it, measured in one run (issue 12: ``planner optimize
examples/chat-assistant.yaml`` ≤ 0.5 s): each ``examples/*.yaml`` through the CLI as a
subprocess (``python -m planner optimize EX``, this tree first on the path) and through the
library (``optimize(EX)`` in this process), against the floor ``python -c "import numpy"``
measured in the same run, interleaved with the CLI runs so that a busy machine slows both
alike.  Wall and CPU (the child's user + system time, steadier on a shared machine) seconds,
median and best of ``--repeat``; ratios to the floor.  No target is asserted: read the ratios.

``--bytecode`` runs the subprocesses with a bytecode cache (a fresh ``PYTHONPYCACHEPREFIX``,
warmed by one untimed run) as an installed package runs; without it they run in the
environment as it is (with ``PYTHONDONTWRITEBYTECODE`` set, every planner module is compiled
from source on every run).  Last line: one JSON object with the figures.

    python benchmarks/cli.py [--repeat 5] [--bytecode] [--only chat-assistant]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from timing import timed_python  # noqa: E402


def run_once(args: list[str], env: dict) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``python ARGS`` subprocess in the repository root."""
    return timed_python(args, env)[:2]


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    walls, cpus = [s[0] for s in samples], [s[1] for s in samples]
    return {"wall_median_s": statistics.median(walls), "wall_best_s": min(walls),
            "cpu_median_s": statistics.median(cpus), "cpu_best_s": min(cpus)}


def library_seconds(path: Path, repeat: int) -> dict[str, float]:
    """``optimize(path)`` in this process: the first call (imports and caches included) and
    the median of ``repeat`` more."""
    t = time.perf_counter()
    from planner.optimize import optimize

    optimize(path)
    first = time.perf_counter() - t
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        optimize(path)
        times.append(time.perf_counter() - t)
    return {"first_s": first, "median_s": statistics.median(times), "best_s": min(times)}


def main(repeat: int = 5, bytecode: bool = False, only: str | None = None) -> dict:
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    if only:
        examples = [p for p in examples if p.stem == only]
        if not examples:
            raise SystemExit(f"no example named {only}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cache = None
    if bytecode:
        cache = tempfile.TemporaryDirectory(prefix="planner-pycache-")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache.name
    floor_args = ["-c", "import numpy"]
    cli_args = {p.stem: ["-m", "planner", "optimize", str(p.relative_to(ROOT))]
                for p in examples}
    for args in [floor_args, *cli_args.values()]:
        run_once(args, env)  # untimed: warms the disk cache (and the bytecode cache)
    samples: dict[str, list] = {"floor": [], **{k: [] for k in cli_args}}
    for _ in range(repeat):  # round-robin: floor and CLI runs share the machine's moods
        samples["floor"].append(run_once(floor_args, env))
        for name, args in cli_args.items():
            samples[name].append(run_once(args, env))
    floor = summary(samples["floor"])
    print(f"floor python -c 'import numpy' ({repeat} runs, "
          f"{'bytecode cache' if bytecode else 'environment as it is'}): "
          f"wall median {floor['wall_median_s']:.3f} s (best {floor['wall_best_s']:.3f}), "
          f"CPU median {floor['cpu_median_s']:.3f} s (best {floor['cpu_best_s']:.3f})")
    rows = {}
    for name in cli_args:
        cli = summary(samples[name])
        lib = library_seconds(ROOT / "examples" / f"{name}.yaml", repeat)
        ratio_wall = cli["wall_median_s"] / floor["wall_median_s"]
        ratio_cpu = cli["cpu_median_s"] / floor["cpu_median_s"]
        rows[name] = {"cli": cli, "library": lib, "cli_over_floor_wall": ratio_wall,
                      "cli_over_floor_cpu": ratio_cpu}
        print(f"planner optimize {name}: CLI wall median {cli['wall_median_s']:.3f} s "
              f"(best {cli['wall_best_s']:.3f}) = {ratio_wall:.1f}x the floor, CPU median "
              f"{cli['cpu_median_s']:.3f} s = {ratio_cpu:.1f}x; library optimize() first "
              f"call {lib['first_s']:.3f} s, then median {lib['median_s']:.3f} s")
    if cache is not None:
        cache.cleanup()
    return {"repeat": repeat, "bytecode_cache": bytecode, "floor": floor, "examples": rows}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bytecode", action="store_true",
                    help="run the subprocesses with a bytecode cache (as an installed package)")
    ap.add_argument("--only", help="one example by name (e.g. chat-assistant)")
    ns = ap.parse_args()
    print(json.dumps(main(ns.repeat, ns.bytecode, ns.only)))
