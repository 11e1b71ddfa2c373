"""Sweep and report speed, end to end (no targets asserted: read the numbers).

(a) a 10^4-point sweep of examples/chinchilla-flops.yaml over two fields (inference demand ×
    target loss, 100 × 100), batched through the 1-D solver, with its CSV and JSON written;
(b) the same through the command line (``planner sweep ... --csv --json``, interpreter start-up
    included);
(c) a 10^3-point dollar sweep of examples/code-model.yaml (hardware cost model, 4 serving
    configurations per point) over demand × training MFU;
(d) one-at-a-time ``optimize()`` on a sample of the points of (a), for the batching speed-up;
(e) ``planner report`` of examples/chinchilla-flops.yaml (Markdown, HTML, 4 figures × PNG + SVG).

Last line: one JSON object with the timings.

    python benchmarks/sweep.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.analysis.sweep import parse_vary, sweep  # noqa: E402
from planner.budget import load_budget  # noqa: E402
from planner.budget.edit import set_field  # noqa: E402
from planner.optimize import optimize  # noqa: E402
from planner.render.csv_table import csv_text  # noqa: E402
from planner.render.review import report  # noqa: E402
from planner.render.terminal import to_json  # noqa: E402
from planner.yaml_io import read_yaml_file  # noqa: E402

FLOPS = ROOT / "examples" / "chinchilla-flops.yaml"
DOLLAR = ROOT / "examples" / "code-model.yaml"


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(quick: bool = False) -> dict:
    side = 30 if quick else 100
    out: dict = {"quick": quick}
    tmp = Path(tempfile.mkdtemp(prefix="planner-bench-"))

    # (a) library, end to end: grid → budgets → batched solve → plans → CSV + JSON
    axes = [parse_vary(f"inference.tokens=1e10:1e15:{side}"),
            parse_vary(f"target.loss=lin:2.0:2.3:{side}")]
    t0 = time.perf_counter()
    res, t_sweep = timed(lambda: sweep(FLOPS, axes))
    _, t_csv = timed(lambda: (tmp / "sweep.csv").write_text(csv_text(res.rows())))
    _, t_json = timed(lambda: (tmp / "sweep.json").write_text(to_json(res)))
    t_total = time.perf_counter() - t0
    n = len(res.points)
    out["flops_sweep"] = {
        "points": n, "batched_points": res.diagnostics["batched_points"],
        "budgets_s": res.diagnostics["budgets_seconds"],
        "solve_and_plans_s": res.diagnostics["solve_seconds"], "sweep_s": t_sweep,
        "csv_s": t_csv, "json_s": t_json, "end_to_end_s": t_total, "points_per_s": n / t_total,
        "json_mb": (tmp / "sweep.json").stat().st_size / 1e6,
    }

    # (b) the command line, interpreter start-up included
    cmd = [sys.executable, "-m", "planner", "sweep", str(FLOPS), "--vary",
           f"inference.tokens=1e10:1e15:{side}", "--vary", f"target.loss=lin:2.0:2.3:{side}",
           "--csv", str(tmp / "cli.csv"), "--json"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    out["cli_sweep_s"] = time.perf_counter() - t
    out["cli_ok"] = proc.returncode == 0 and len(json.loads(proc.stdout)["points"]) == n

    # (c) dollar cost model, 4 serving configurations per point
    dside = 10 if quick else 32
    daxes = [parse_vary(f"inference.tokens=1e11:1e15:{dside}"),
             parse_vary(f"train.mfu=lin:0.3:0.55:{dside}")]
    dres, t_d = timed(lambda: sweep(DOLLAR, daxes))
    ddata, _ = read_yaml_file(DOLLAR)
    dbase = load_budget(DOLLAR)
    dsample = dres.points[:: max(1, len(dres.points) // 30)]
    t = time.perf_counter()
    for p in dsample:
        d = ddata
        for k, v in p.inputs.items():
            d = set_field(d, k, v, dbase)
        optimize(d)
    t_done = (time.perf_counter() - t) / len(dsample)
    out["usd_sweep"] = {"points": len(dres.points), "scenarios": 4 * len(dres.points),
                        "batched_points": dres.diagnostics["batched_points"], "sweep_s": t_d,
                        "points_per_s": len(dres.points) / t_d,
                        "one_at_a_time_points_per_s": 1.0 / t_done,
                        "batched_speedup": len(dres.points) / t_d * t_done}

    # (d) one optimize() per point, on a sample of (a): the batching speed-up (FLOPs points
    # are cheap to solve, so budget validation and plan assembly dominate both ways)
    data, _ = read_yaml_file(FLOPS)
    base = load_budget(FLOPS)
    sample = res.points[:: max(1, n // 200)]
    t = time.perf_counter()
    worst = 0.0
    for p in sample:
        d = data
        for k, v in p.inputs.items():
            d = set_field(d, k, v, base)
        try:
            ref = optimize(d)
        except Exception:  # noqa: BLE001 - infeasible points are infeasible in both
            continue
        worst = max(worst, abs(ref.plan.params / p.result.plan.params - 1))
    t_one = (time.perf_counter() - t) / len(sample)
    out["one_at_a_time"] = {"sampled": len(sample), "seconds_per_point": t_one,
                            "points_per_s": 1.0 / t_one,
                            "batched_speedup": (n / t_total) * t_one,
                            "max_rel_diff_params": worst}

    # (e) the review report of the base budget
    files, t_rep = timed(lambda: report(FLOPS, tmp / "review"))
    out["report"] = {"seconds": t_rep, "figures": len(files.figures),
                     "markdown_kb": files.markdown.stat().st_size / 1e3}
    out["sweep_plus_report_s"] = t_total + t_rep
    return out


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    r = main(quick)
    f, u, o = r["flops_sweep"], r["usd_sweep"], r["one_at_a_time"]
    print(f"(a) FLOPs sweep, {f['points']:,} points (two fields), end to end "
          f"{f['end_to_end_s']:.2f} s = {f['points_per_s']:,.0f} points/s "
          f"(budgets {f['budgets_s']:.2f} s, solve + plans {f['solve_and_plans_s']:.2f} s, "
          f"CSV {f['csv_s']:.2f} s, JSON {f['json_s']:.2f} s, {f['json_mb']:.1f} MB)")
    print(f"(b) same through the CLI (start-up, CSV and JSON included): "
          f"{r['cli_sweep_s']:.2f} s, ok={r['cli_ok']}")
    print(f"(c) dollar sweep, {u['points']:,} points × 4 configurations: {u['sweep_s']:.2f} s "
          f"= {u['points_per_s']:,.0f} points/s; one optimize() per point "
          f"{u['one_at_a_time_points_per_s']:,.0f} points/s: batching speed-up "
          f"{u['batched_speedup']:.1f}x")
    print(f"(d) one optimize() per point: {o['points_per_s']:,.0f} points/s; batching speed-up "
          f"{o['batched_speedup']:.1f}x; max relative difference in N "
          f"{o['max_rel_diff_params']:.1e}")
    print(f"(e) report (md + html + {r['report']['figures']} figure files): "
          f"{r['report']['seconds']:.2f} s; sweep + report {r['sweep_plus_report_s']:.2f} s")
    print(json.dumps(r))
