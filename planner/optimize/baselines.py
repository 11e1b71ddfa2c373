"""The Chinchilla-optimal baselines a plan is compared with: the compute-optimal model of
the same loss (closed form, or a 1-D solve with a quantisation penalty or repeated data), costed
plainly (16-bit weights, no speculation) or with the budget's serving options."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from planner.optimize.build import Candidate, flops_items
from planner.optimize.problem import Problem
from planner.optimize.scenario import Scenario
from planner.terms import compute_optimal_point


def chinchilla_point(scenario: Scenario) -> tuple[float, float]:
    """Compute-optimal (N, D) at the scenario's loss, inference ignored: the minimum of 6·N·D
    on the iso-loss curve (closed form for posynomial laws, the nested solve otherwise)."""
    penalised = any(np.any(np.asarray(t.coef) != 0) for t in scenario.loss_extra)
    if scenario.posynomial and scenario.curve is None and not penalised:
        return compute_optimal_point(scenario.loss)
    flops_only = Scenario(loss=scenario.loss, objective=flops_items(0.0)[:1],
                          loss_extra=scenario.loss_extra, params_range=scenario.params_range,
                          curve=scenario.curve)
    if flops_only.posynomial:  # a quantisation penalty: the 1-D solve on the penalised curve
        from planner.optimize.iso_loss import solve_iso_loss

        sol = solve_iso_loss(flops_only)
    else:
        from planner.optimize.nested import solve_nested

        sol = solve_nested(flops_only)
    return float(sol.params), float(sol.tokens)


def baseline_candidate(problem: Problem, params: float, tokens: float,
                       like: Candidate | None = None) -> Candidate:
    """How the Chinchilla-optimal baseline is costed: 16-bit weights, no speculation, the
    fewest GPUs per replica that hold it (among the budget's candidates when possible), on
    the hardware of ``like`` (the plan's candidate; default the first listed hardware)."""
    cands = problem.candidates
    if len(cands) == 1 or cands[0].config is None:
        return cands[0]
    like = like or cands[0]
    same_hw = [c for c in cands if (c.train_hardware, c.serve_hardware)
               == (like.train_hardware, like.serve_hardware)]
    if len(same_hw) == 1:  # one configuration on this hardware: as a single-hardware budget
        return same_hw[0]
    plain = [c for c in same_hw if c.config.weight_bits == 16 and c.config.gamma == 0]
    if not plain:
        from planner.costs.model import ServingConfig, build_cost_model
        from planner.optimize.build import bound_constraints, make_candidate
        from planner.optimize.choices import draft_options, hardware_options
        from planner.optimize.setup import cost_setup

        hw = next(h for h in hardware_options(problem.budget)
                  if (h.train_name, h.serve_name) == (like.train_hardware, like.serve_hardware))
        budget = draft_options(hw.budget)[0][2]  # no draft (or the single draft at γ = 0)
        bounds = bound_constraints(problem.budget, problem.budget.inference.total_tokens,
                                   problem.law)
        max_g = max(64, (budget.serve or like.cost_model.serve).max_gpus_per_replica)
        plain = []
        g = 1
        while g <= max_g:
            config = ServingConfig(16, 0, g)
            cm = build_cost_model(cost_setup(budget), config, hw.train_hw, hw.serve_hw)
            plain.append(make_candidate(budget, problem.law, problem.target_loss, config, cm,
                                        None, bounds, hw, "none"))
            g *= 2
    for c in sorted(plain, key=lambda c: c.config.gpus_per_replica):
        if float(c.cost_model.memory.value(params, tokens)) <= c.cost_model.memory_limit_bytes:
            return c
    return plain[-1]


def same_options_baseline(problem: Problem, like: Candidate | None = None
                          ) -> tuple[float, float, int] | None:
    """The Chinchilla-optimal model served with the budget's serving options: for each
    candidate configuration (on the hardware of ``like``, the plan's candidate: the saving
    is then not one of switching hardware), the compute-optimal (N, D) that reaches the target
    *as served* (with that configuration's quantisation penalty), costed under it; the cheapest
    one whose constraints hold.  None for budgets with a single configuration."""
    cands = problem.candidates
    if len(cands) < 2 or cands[0].config is None:
        return None
    same_hw = list(range(len(cands)))
    if like is not None:
        same_hw = [k for k, c in enumerate(cands) if (c.train_hardware, c.serve_hardware)
                   == (like.train_hardware, like.serve_hardware)]
        if len(same_hw) < 2:
            return None
    try:  # every candidate at once when they share a structure (the usual case)
        n, d, cost = same_options_points(problem.stackable, [c.config.weight_bits
                                                             for c in cands], 1)
    except ValueError:  # structures differ, or a law that is not a posynomial
        return _same_options_one_by_one(cands, same_hw)
    return cheapest_same_options(same_hw, n[:, 0], d[:, 0], cost[:, 0])


def same_options_points(stacked, bits: Sequence[int], points: int):
    """For ``stacked``, the batch scenario of every candidate at ``points`` points
    (candidate-major: entry ``k·points + j``) and ``bits``, each candidate's weight bits,
    each candidate's compute-optimal (N, D) at its own loss constraint and its objective there
    (inf where its constraints fail): arrays (candidates, points).  The compute-optimal point
    depends only on the loss constraint (the target and the weight bits' penalty), so it is
    solved once per weight-bit width."""
    from planner.optimize.iso_loss import solve_iso_loss
    from planner.optimize.scenario import map_coefficients, stack_scenarios

    k = len(bits)
    first = {b: list(bits).index(b) for b in dict.fromkeys(bits)}  # one candidate per width
    rows = {b: r for r, b in enumerate(first)}
    loss_only = replace(stacked, objective=flops_items(0.0)[:1], constraints=())
    reps = [map_coefficients(loss_only, lambda x, j=j: np.asarray(x)[j * points:(j + 1) * points]
                             if np.ndim(x) else x)  # candidate j's entries
            for j in first.values()]
    sol = solve_iso_loss(stack_scenarios(reps))
    pick = np.array([rows[b] for b in bits])
    n = np.asarray(sol.params, dtype=float).reshape(len(reps), points)[pick].reshape(-1)
    d = np.asarray(sol.tokens, dtype=float).reshape(len(reps), points)[pick].reshape(-1)
    finite = np.isfinite(n) & np.isfinite(d)
    safe_n, safe_d = np.where(finite, n, 1.0), np.where(finite, d, 1.0)
    ok = finite.copy()
    for c in stacked.constraints:
        ok &= np.asarray(c.slack(safe_n, safe_d), dtype=float) >= -1e-9
    cost = np.where(ok, np.asarray(stacked.objective_value(safe_n, safe_d), dtype=float),
                    np.inf)
    return n.reshape(k, points), d.reshape(k, points), cost.reshape(k, points)


def cheapest_same_options(which, n, d, cost) -> tuple[float, float, int] | None:
    """Among candidates ``which``, the cheapest feasible same-options point ``(N, D, k)``
    (ties: the earlier candidate); None when none is feasible."""
    costs = np.asarray(cost)[which]
    j = int(np.argmin(costs))
    if not np.isfinite(costs[j]):
        return None
    k = which[j]
    return float(n[k]), float(d[k]), k


def _same_options_one_by_one(cands, which) -> tuple[float, float, int] | None:
    """``same_options_baseline`` for candidates of different structures: one solve and one
    costing per candidate."""
    best = None
    for k in which:
        sc = cands[k].scenario
        n, d = chinchilla_point(replace(sc, objective=flops_items(0.0)[:1], constraints=()))
        if not (np.isfinite(n) and np.isfinite(d)):
            continue
        if any(float(con.slack(n, d)) < -1e-9 for con in sc.constraints):
            continue
        cost = float(sc.objective_value(n, d))
        if best is None or cost < best[0]:
            best = (cost, n, d, k)
    return None if best is None else best[1:]
