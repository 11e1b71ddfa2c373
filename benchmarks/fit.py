"""Fit timings on Epoch's Chinchilla data (240 runs), measured in one run.

Single fit (one L-BFGS-B start), the multi-start fit (the 4,500-point grid evaluated at once,
its 64 best starts refined), a bootstrap of N resamples, and plan uncertainty over 1,000 law
samples.  Last line: one JSON object.

    python benchmarks/fit.py [--bootstrap 1000]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.fit.law_fit import (  # noqa: E402
    _fit_chinchilla_theta,
    chinchilla_objective,
    epoch_grid,
    fit_law,
    grid_objectives,
)
from planner.fit.runs import read_runs  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> dict:
    from threadpoolctl import threadpool_limits

    n_boot = int(sys.argv[sys.argv.index("--bootstrap") + 1]) if "--bootstrap" in sys.argv \
        else 1000
    runs = read_runs(ROOT / "tests/data/epoch_chinchilla_fig4.csv",
                     "params=N_params,tokens=D_tokens,loss=loss", exclude="epoch_excluded")
    grid = epoch_grid()
    args = (np.log(runs.params), np.log(runs.tokens), np.log(runs.loss), runs.weights)
    import scipy.optimize  # noqa: F401  (import once, outside the timings)

    with threadpool_limits(1):
        best = grid[np.argmin(grid_objectives(grid, *args))]
        (_, f1), t_single = timed(lambda: _fit_chinchilla_theta(runs, 0, grid, (best,)))
        _, t_grid = timed(lambda: grid_objectives(grid, *args))
        _, t_obj = timed(lambda: [chinchilla_objective(best, *args) for _ in range(1000)])
    fit, t_multi = timed(lambda: fit_law(runs, starts=64))
    boot, t_boot = timed(lambda: fit_law(runs, starts=64, bootstrap=n_boot, seed=0,
                                         bootstrap_starts=1))
    # plan uncertainty over 1,000 samples (the bootstrap's, resampled if fewer)
    from dataclasses import replace

    from planner.analysis.uncertainty import plan_uncertainty
    from planner.budget import load_budget
    from planner.optimize import optimize, prepare
    from planner.optimize.scenario import Solution

    budget = load_budget("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\n"
                         "inference: {tokens: 10T}\n")
    problem = prepare(budget)
    samples = boot.samples[np.random.default_rng(0).integers(0, len(boot.samples), 1000)]
    problem = replace(problem, law=replace(boot.law, samples=samples))
    plan = optimize(budget).plan
    sol = Solution(plan.params, plan.train_tokens, plan.objective, "optimal", "iso_loss")
    u, t_unc = timed(lambda: plan_uncertainty(problem, sol, samples=1000))
    out = {
        "single_fit_s": t_single, "grid_eval_4500_s": t_grid,
        "objective_plus_gradient_us": t_obj * 1e3, "multistart_fit_s": t_multi,
        "bootstrap_samples": n_boot, "bootstrap_s": t_boot,
        "bootstrap_per_sample_ms": 1e3 * (t_boot - t_multi) / n_boot,
        "plan_uncertainty_1000_s": t_unc,
        "stderr": boot.stderr, "objective": fit.objective,
    }
    print(f"single fit (1 start):          {t_single * 1e3:.0f} ms (objective {f1:.10g})")
    print(f"grid of 4,500 starts, at once: {t_grid * 1e3:.0f} ms; objective+gradient "
          f"{t_obj * 1e3:.0f} µs per call")
    print(f"multi-start fit (64 starts):   {t_multi:.2f} s")
    print(f"bootstrap ({n_boot} resamples):   {t_boot:.1f} s "
          f"({out['bootstrap_per_sample_ms']:.0f} ms per refit, warm-started)")
    print(f"plan uncertainty, 1,000 law samples: {t_unc * 1e3:.0f} ms")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
