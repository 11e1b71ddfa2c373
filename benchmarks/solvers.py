"""Solver throughput, measured in one run (no targets asserted: read the ratios).

(a) vectorised 1-D iso-loss solver, FLOPs objective, 10^5 scenarios in one call;
(b) cvxpy DPP re-solves of one cached problem; (c) a fresh cvxpy problem per scenario;
(d) dollar objective (roofline, h100-sxm) through both solvers;
(e) the ``auto`` weight bits + ``auto`` draft length case, whole ``optimize()`` calls.
Last line: one JSON object with the figures.

    python benchmarks/solvers.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.budget import load_budget  # noqa: E402
from planner.laws import get_preset  # noqa: E402
from planner.optimize import optimize, prepare  # noqa: E402
from planner.optimize.build import flops_items  # noqa: E402
from planner.optimize.gp import solve_gp  # noqa: E402
from planner.optimize.iso_loss import solve_iso_loss  # noqa: E402
from planner.optimize.scenario import Scenario  # noqa: E402

DOLLAR = """schema_version: 1
law: epoch2024
target: {{loss: {loss}}}
inference: {{requests: {requests}, tokens_per_request: {{input: 1000, output: 250}}}}
train: {{hardware: h100-sxm, gpus: 1024, mfu: 0.4}}
serve: {{hardware: h100-sxm, batch_size: 64, weight_bits: {bits}{spec}}}
objective: usd
"""


def rate(fn, n, repeat=3):
    """Best-of-``repeat`` scenarios per second of ``fn`` solving ``n`` scenarios."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best, best


def main(quick: bool = False) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one core, as the issue asks
    law = get_preset("epoch2024")
    rng = np.random.default_rng(0)
    n = 10**5
    demand = 10 ** rng.uniform(6, 15, n)
    loss = law.E + rng.uniform(0.1, 0.6, n)
    sc = Scenario(loss=law.posynomial(loss), objective=flops_items(demand))
    one_d, t_one_d = rate(lambda: solve_iso_loss(sc), n)

    k = 50 if quick else 300
    scalars = [Scenario(loss=law.posynomial(float(loss[i])),
                        objective=flops_items(float(demand[i]))) for i in range(k)]
    solve_gp(scalars[0])  # build + cache the parametrised problem (and import cvxpy)
    dpp, _ = rate(lambda: [solve_gp(s) for s in scalars], k, repeat=1)
    kf = 10 if quick else 30
    fresh, _ = rate(lambda: [solve_gp(s, cache=False) for s in scalars[:kf]], kf, repeat=1)

    # dollar objective: one configuration (16-bit weights), many demands/targets
    kd = 10**4
    problem = prepare(load_budget(DOLLAR.format(loss=2.1, requests="1B", bits=16, spec="")))
    cand = problem.candidates[0].scenario
    reqs = 10 ** rng.uniform(7, 12, kd)
    # scale the serving items by demand: every serving term is ∝ requests
    base_req = 1e9
    objective = []
    for item in cand.objective:
        scale = 1.0 if item.name in ("train", "draft_train") else reqs / base_req
        objective.append(item.scaled(scale))
    dollar_batch = replace(cand, objective=tuple(objective),
                           loss=law.posynomial(law.E + rng.uniform(0.15, 0.5, kd)))
    usd_1d, _ = rate(lambda: solve_iso_loss(dollar_batch), kd)
    ks = 50 if quick else 200
    singles = [replace(cand, objective=tuple(it.scaled(1.0 if it.name in ("train",
                                                                          "draft_train")
                                                       else r / base_req)
                                             for it in cand.objective))
               for r in reqs[:ks]]
    solve_gp(singles[0])
    usd_gp, _ = rate(lambda: [solve_gp(s) for s in singles], ks, repeat=1)

    # auto bits × auto γ (6 × 9 configurations × 4 GPU counts), whole optimize() calls
    auto = load_budget(DOLLAR.format(
        loss=2.1, requests="10B", bits="auto",
        spec=", speculative: {acceptance: 0.8, draft_params: 100M, gamma: auto}"))
    n_cand = len(prepare(auto).candidates)
    ka = 2 if quick else 5
    auto_1d, t_auto_1d = rate(lambda: [optimize(auto) for _ in range(ka)], ka, repeat=1)
    kg = 1
    auto_gp, t_auto_gp = rate(lambda: [optimize(auto, solver="gp") for _ in range(kg)], kg,
                              repeat=1)
    out = {
        "one_d_per_s": one_d,
        "one_d_batch": n,
        "one_d_batch_seconds": t_one_d,
        "dpp_per_s": dpp,
        "fresh_per_s": fresh,
        "dpp_over_fresh": dpp / fresh,
        "one_d_over_dpp": one_d / dpp,
        "usd_one_d_per_s": usd_1d,
        "usd_gp_dpp_per_s": usd_gp,
        "auto_bits_gamma_candidates": n_cand,
        "auto_optimize_iso_loss_seconds": 1.0 / auto_1d,
        "auto_optimize_gp_seconds": 1.0 / auto_gp,
    }
    print(f"(a) 1-D solver, FLOPs objective: {one_d:,.0f} scenarios/s "
          f"({n:,} in {t_one_d * 1e3:.1f} ms, one core)")
    print(f"(b) cvxpy DPP re-solves:         {dpp:,.0f} scenarios/s")
    print(f"(c) fresh cvxpy problem each:    {fresh:,.1f} scenarios/s "
          f"(DPP is {dpp / fresh:.1f}x faster; the 1-D solver {one_d / dpp:,.0f}x faster "
          "than DPP)")
    print(f"(d) dollar objective: 1-D {usd_1d:,.0f} scenarios/s, GP (DPP) {usd_gp:,.0f}/s")
    print(f"(e) auto bits + auto gamma ({n_cand} configurations): optimize() "
          f"{1 / auto_1d:.2f} s with the 1-D solver, {1 / auto_gp:.2f} s with the GP")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
