"""The Chinchilla-optimal baselines a plan is compared with: the compute-optimal model of
the same loss (closed form, or a 1-D solve with a quantisation penalty or repeated data), costed
plainly (16-bit weights, no speculation) or with the budget's serving options."""

from __future__ import annotations

from dataclasses import replace

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
    if like is not None:
        same_hw = [c for c in cands if (c.train_hardware, c.serve_hardware)
                   == (like.train_hardware, like.serve_hardware)]
        if len(same_hw) < 2:
            return None
        index = {id(c): k for k, c in enumerate(cands)}
        best = _same_options(same_hw)
        return None if best is None else (best[0], best[1], index[id(same_hw[best[2]])])
    return _same_options(cands)


def _same_options(cands) -> tuple[float, float, int] | None:
    train_only = [replace(c.scenario, objective=flops_items(0.0)[:1], constraints=())
                  for c in cands]
    points = []
    try:  # one stacked 1-D solve when the candidates share a structure
        from planner.optimize.iso_loss import solve_iso_loss
        from planner.optimize.scenario import stack_scenarios

        sol = solve_iso_loss(stack_scenarios(train_only))
        points = list(zip(np.atleast_1d(sol.params), np.atleast_1d(sol.tokens)))
    except ValueError:  # structures differ, or a law that is not a posynomial
        points = [chinchilla_point(sc) for sc in train_only]
    best = None
    for k, (c, (n, d)) in enumerate(zip(cands, points)):
        n, d = float(n), float(d)
        if not (np.isfinite(n) and np.isfinite(d)):
            continue
        sc = c.scenario
        if any(float(con.slack(n, d)) < -1e-9 for con in sc.constraints):
            continue
        cost = float(sc.objective_value(n, d))
        if best is None or cost < best[0]:
            best = (cost, n, d, k)
    return None if best is None else best[1:]
