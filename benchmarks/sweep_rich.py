"""A sweep of a rich budget, as a user runs it: ``planner sweep examples/chat-assistant.yaml``
(216 serving configurations per point) over lifetime demand.

Prints, in one run:

* the command line (a subprocess, interpreter start-up and JSON output included): wall seconds
  and peak memory (the largest process of the run, workers included);
* the library call ``sweep()`` in one process (``jobs=1``) and in one process per CPU;
* the baseline measured in the same run: the previous algorithm (every configuration of every
  point built in Python, one point at a time: ``optimize_many`` with the stacked path off), on
  a sample of the points, as seconds per point, and the floor ``python -c "import numpy"``;
* ratios: baseline / stacked per point, CLI / floor.

    python benchmarks/sweep_rich.py [--points 1000] [--sample 24]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import timed_python  # noqa: E402

from planner.analysis.sweep import grid_points, parse_vary, sweep  # noqa: E402
from planner.budget import budget_from_data  # noqa: E402
from planner.budget.edit import vary_budget  # noqa: E402
from planner.optimize.batch import optimize_many  # noqa: E402
from planner.optimize.problem import prepare  # noqa: E402
from planner.yaml_io import read_yaml_file  # noqa: E402

BUDGET = ROOT / "examples" / "chat-assistant.yaml"


def cli(args: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    wall, _, proc = timed_python(["-m", "planner", *args], check=False)
    return wall, proc


def main(points: int, sample: int) -> dict:
    spec = f"inference.requests_per_month=1e8:1e10:{points}"
    out: dict = {"budget": BUDGET.name, "points": points}
    out["floor_import_numpy_s"] = timed_python(["-c", "import numpy"])[0]

    # the command line, as a user runs it
    tmp = Path(tempfile.mkdtemp(prefix="planner-bench-"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall, proc = cli(["sweep", str(BUDGET), "--vary", spec, "--csv", str(tmp / "s.csv"),
                      "--json"])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ok = proc.returncode == 0 and len(json.loads(proc.stdout)["points"]) == points
    out["cli"] = {"seconds": wall, "ok": ok, "peak_rss_mb": peak_kb / 1024,
                  "peak_rss_mb_before": before / 1024, "vs_floor": wall / out[
                      "floor_import_numpy_s"]}

    # the library, one process and one per CPU
    axes = [parse_vary(spec)]
    for jobs in (1, None):
        t = time.perf_counter()
        res = sweep(BUDGET, axes, jobs=jobs)
        dt = time.perf_counter() - t
        stacked = sum(bool(p.result and p.result.diagnostics.get("stacked"))
                      for p in res.points)
        out[f"library_jobs_{jobs or 'cpus'}"] = {"seconds": dt, "per_point_s": dt / points,
                                                 "stacked_points": stacked}

    # the previous algorithm on a sample: every configuration built per point
    data, marks = read_yaml_file(BUDGET)
    base = budget_from_data(data, marks, str(BUDGET))
    grid = grid_points(axes)[:: max(1, points // sample)][:sample]
    budgets = [vary_budget(data, marks, str(BUDGET), g, base) for g in grid]
    t = time.perf_counter()
    # every configuration of every point built on its own (prepare without the batch build),
    # then the one-point-at-a-time path (details requested)
    old = optimize_many(budgets, problems=[prepare(b, lazy=False) for b in budgets],
                        details={})
    per_old = (time.perf_counter() - t) / len(budgets)
    assert all(r.ok for r in old)
    one = out["library_jobs_1"]["per_point_s"]
    out["baseline_previous"] = {"sampled_points": len(budgets), "per_point_s": per_old,
                                "projected_seconds": per_old * points,
                                "speedup_one_process": per_old / one,
                                "speedup_cpus": per_old / out["library_jobs_cpus"]["per_point_s"]}
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=24)
    a = ap.parse_args()
    r = main(a.points, a.sample)
    c, b = r["cli"], r["baseline_previous"]
    print(f"floor (python -c 'import numpy'): {r['floor_import_numpy_s']:.2f} s")
    print(f"CLI sweep of {r['budget']}, {r['points']:,} points × 216 configurations: "
          f"{c['seconds']:.1f} s ({c['vs_floor']:.0f}x the floor), peak {c['peak_rss_mb']:.0f} MB, "
          f"ok={c['ok']}")
    for key in ("library_jobs_1", "library_jobs_cpus"):
        x = r[key]
        print(f"library sweep ({key}): {x['seconds']:.1f} s = {x['per_point_s'] * 1e3:.1f} ms "
              f"per point ({x['stacked_points']} stacked)")
    print(f"previous algorithm (sample of {b['sampled_points']}): "
          f"{b['per_point_s'] * 1e3:.0f} ms per point, {b['projected_seconds']:.0f} s projected; "
          f"speed-up {b['speedup_one_process']:.1f}x in one process, "
          f"{b['speedup_cpus']:.1f}x with one process per CPU")
    print(json.dumps(r))
