"""Fit and law-file timings on Epoch's Chinchilla data (240 runs), measured in one run, each
row as the library call and as the CLI a user runs (a subprocess, interpreter start-up
included), against a baseline measured in the same run:

* ``planner fit --bootstrap 1000`` and ``--bootstrap 4000`` (issue 12 goals: ≤ 3 s, ≤ 6 s
  wall).  Baseline: the per-sample L-BFGS-B refits (``solver="lbfgs"``, the previous
  algorithm) on a small number of resamples, extrapolated linearly; and the floor
  ``python -c "import numpy"``.
* loading a law file with 4,000 bootstrap samples (goal ≤ 50 ms).  Baselines: the previous
  loader (the pure-Python strict YAML reader over the whole file) on the same samples in the
  version-1 layout the previous writer produced, and today's loader on that version-1 file;
  CLI: ``planner validate`` of a budget that names the file (v2 against v1).
* plan uncertainty over 1,000 law samples (library only).

Wall times depend on the machine's load: the CPU time of each CLI run (user + sys of the child)
is printed beside it.  Last line: one JSON object.

    python benchmarks/fit.py [--bootstrap 1000] [--baseline-samples 100]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from timing import best_cli  # noqa: E402

from planner.fit.law_fit import fit_law  # noqa: E402
from planner.fit.runs import read_runs  # noqa: E402

EPOCH = ROOT / "tests/data/epoch_chinchilla_fig4.csv"
COLS = ["--columns", "params=N_params,tokens=D_tokens,loss=loss", "--exclude",
        "epoch_excluded"]


def timed(fn):
    """(result, wall seconds, CPU seconds of this process)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def cli(args: list[str], repeat: int = 1) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds) of ``python ARGS``."""
    return best_cli(args, repeat)


def arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def write_v1(law_v2: Path, path: Path) -> None:
    """The same law in the version-1 layout (what the previous writer produced)."""
    import yaml

    doc = yaml.safe_load(law_v2.read_text())
    doc["law_file_version"] = 1
    doc.pop("bootstrap_count")
    doc.pop("bootstrap_sha256")
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))


def main() -> dict:
    n_boot = arg("--bootstrap", 1000)
    n_base = arg("--baseline-samples", 100)
    runs = read_runs(EPOCH, "params=N_params,tokens=D_tokens,loss=loss",
                     exclude="epoch_excluded")
    tmp = Path(tempfile.mkdtemp(prefix="planner-bench-fit-"))
    rows = []

    # ---- library: point fit, new bootstrap, old per-sample bootstrap extrapolated ----------
    fit_law(runs, starts=1, bootstrap=2)  # imports (scipy, threadpoolctl) outside the timings
    fit, t_point, c_point = timed(lambda: fit_law(runs, starts=64))
    boot, t_boot, c_boot = timed(lambda: fit_law(runs, starts=64, bootstrap=n_boot, seed=0))
    _, t_boot4, c_boot4 = timed(lambda: fit_law(runs, starts=64, bootstrap=4000, seed=0))
    _, t_old, c_old = timed(lambda: fit_law(runs, starts=64, bootstrap=n_base, seed=0,
                                            solver="lbfgs"))
    per_old, cper_old = max(t_old - t_point, 0.0) / n_base, max(c_old - c_point, 0.0) / n_base
    old = {b: (t_point + per_old * b, c_point + cper_old * b) for b in (n_boot, 4000)}
    rows.append((f"library fit_law, bootstrap {n_boot}", (t_boot, c_boot), old[n_boot],
                 f"old per-sample path, {n_base} resamples extrapolated"))
    rows.append(("library fit_law, bootstrap 4000", (t_boot4, c_boot4), old[4000],
                 f"old per-sample path, {n_base} resamples extrapolated"))

    # ---- CLI: planner fit ------------------------------------------------------------------
    floor = cli(["-c", "import numpy"], repeat=3)
    fit_cli = {}
    for b in (n_boot, 4000):
        fit_cli[b] = cli(["-m", "planner", "fit", str(EPOCH), *COLS, "--bootstrap", str(b),
                          "-o", str(tmp / f"law-{b}.yaml")])
    goal = {n_boot: 3.0 if n_boot == 1000 else None, 4000: 6.0}
    for b in (n_boot, 4000):
        rows.append((f"CLI planner fit --bootstrap {b}", fit_cli[b], old[b],
                     "old per-sample path (library, extrapolated)"))
        rows.append((f"CLI planner fit --bootstrap {b}", fit_cli[b], floor,
                     'floor: python -c "import numpy"'))

    # ---- law file with 4,000 samples: load, v2 vs v1 ------------------------------------
    from planner.laws.io import load_law_file

    v2, v1 = tmp / "law-4000.yaml", tmp / "law-v1.yaml"
    write_v1(v2, v1)
    t_v2 = min(timed(lambda: load_law_file(v2))[1:] for _ in range(5))
    t_v1 = min(timed(lambda: load_law_file(v1))[1:] for _ in range(2))
    from planner.yaml_io import read_yaml_file

    def previous_loader():  # what load_law_file did before: strict pure-Python YAML, then numpy
        data, _ = read_yaml_file(v1)
        return np.asarray(data["bootstrap_samples"], dtype=float)

    t_prev = min(timed(previous_loader)[1:] for _ in range(2))
    assert np.array_equal(load_law_file(v2).samples, load_law_file(v1).samples)
    rows.append(("library load_law_file, 4,000 samples", t_v2, t_prev,
                 "previous loader, version-1 file"))
    rows.append(("library load_law_file, 4,000 samples", t_v2, t_v1,
                 "today's loader, version-1 file"))
    budgets = {}
    for tag, law in (("v2", v2), ("v1", v1)):
        budgets[tag] = tmp / f"budget-{tag}.yaml"
        budgets[tag].write_text(f"schema_version: 1\nlaw: {{file: {law.name}}}\n"
                                "target: {loss: 2.1}\ninference: {tokens: 10T}\n")
    val = {tag: cli(["-m", "planner", "validate", str(p)], repeat=3)
           for tag, p in budgets.items()}
    rows.append(("CLI planner validate (law file, 4,000 samples)", val["v2"], val["v1"],
                 "same budget, version-1 law file"))
    rows.append(("CLI planner validate (law file, 4,000 samples)", val["v2"], floor,
                 'floor: python -c "import numpy"'))

    # ---- plan uncertainty over 1,000 samples (library) -----------------------------------
    from planner.analysis.uncertainty import plan_uncertainty
    from planner.budget import load_budget
    from planner.optimize import optimize, prepare
    from planner.optimize.scenario import Solution

    budget = load_budget("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\n"
                         "inference: {tokens: 10T}\n")
    problem = replace(prepare(budget), law=replace(boot.law, samples=boot.samples))
    plan = optimize(budget).plan
    sol = Solution(plan.params, plan.train_tokens, plan.objective, "optimal", "iso_loss")
    _, t_unc, _ = timed(lambda: plan_uncertainty(problem, sol, samples=1000))

    print(f"Epoch's 240 runs; point fit (64 starts) {t_point:.2f} s; old per-sample refit "
          f"{1e3 * per_old:.1f} ms per resample; CLI floor {floor[0]:.2f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'row':<48} {'now wall/CPU':>15} {'baseline':>15} {'ratio':>13}  baseline is")
    for name, now, base, what in rows:
        print(f"{name:<48} {now[0]:>6.3f}/{now[1]:<6.3f}s {base[0]:>6.3f}/{base[1]:<6.3f}s "
              f"{base[0] / now[0]:>5.1f}×/{base[1] / max(now[1], 1e-9):<5.1f}×  {what}")
    for b in (n_boot, 4000):
        g = f" (goal ≤ {goal[b]:.0f} s)" if goal.get(b) else ""
        print(f"CLI planner fit --bootstrap {b}: {fit_cli[b][0]:.2f} s wall, "
              f"{fit_cli[b][1]:.2f} s CPU{g}")
    print(f"CLI planner validate with the law file: {val['v2'][0]:.2f} s wall "
          f"({val['v1'][0]:.2f} s with the version-1 file); library load {1e3 * t_v2[0]:.1f} ms "
          f"wall, {1e3 * t_v2[1]:.1f} ms CPU (goal ≤ 50 ms)")
    print(f"plan uncertainty, 1,000 law samples: {t_unc * 1e3:.0f} ms")
    out = {
        "point_fit_s": t_point, f"bootstrap_{n_boot}_s": t_boot, "bootstrap_4000_s": t_boot4,
        "old_per_sample_ms": 1e3 * per_old,
        f"cli_fit_bootstrap_{n_boot}_wall_s": fit_cli[n_boot][0],
        f"cli_fit_bootstrap_{n_boot}_cpu_s": fit_cli[n_boot][1],
        "cli_fit_bootstrap_4000_wall_s": fit_cli[4000][0],
        "cli_fit_bootstrap_4000_cpu_s": fit_cli[4000][1],
        "cli_floor_import_numpy_s": floor[0],
        "law_load_4000_v2_ms": 1e3 * t_v2[0], "law_load_4000_v1_ms": 1e3 * t_v1[0],
        "law_load_4000_previous_loader_ms": 1e3 * t_prev[0],
        "cli_validate_v2_s": val["v2"][0], "cli_validate_v1_s": val["v1"][0],
        "plan_uncertainty_1000_s": t_unc, "stderr": boot.stderr, "objective": fit.objective,
        "load_average_1min": os.getloadavg()[0],
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
