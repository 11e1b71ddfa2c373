"""The numbers behind the review's figures (plain numpy, no drawing): the lifetime cost along
the iso-loss curve, the optimum as demand grows, the train-vs-inference frontier and the loss
contours.  ``planner.render.figures`` draws them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.errors import PlannerError
from planner.laws.curve import PosynomialCurve

TRAIN_ITEMS = ("train", "draft_train")
DEMAND_MULTIPLIERS = (0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)  # of the budget's demand


def _expand(sc, ndim_extra: int = 1):
    """The batch scenario with every array coefficient given trailing axes, so that a batch of
    K candidates broadcasts against a grid of P model sizes as (K, P)."""
    from planner.optimize.scenario import map_coefficients

    def col(x):
        a = np.asarray(x)
        return a.reshape(a.shape + (1,) * ndim_extra) if a.ndim else x

    return map_coefficients(sc, col)


def _costs_on_curve(sc, curve, params, shape):
    """(D, objective, training part, constraints hold) at each N of ``params`` on ``curve``."""
    with np.errstate(all="ignore"):
        n, d, _ = curve.at(np.log(params))
        n = np.broadcast_to(n, shape)
        d = np.broadcast_to(d, shape)
        obj = np.broadcast_to(sc.objective_value(n, np.where(np.isfinite(d), d, 1.0)), shape)
        obj = np.where(np.isfinite(d), obj, np.nan)
        train = np.zeros(shape)
        for it in sc.objective:
            if it.name in TRAIN_ITEMS:
                train = train + it.value(n, d)
        ok = np.isfinite(d) & np.isfinite(obj)
        for c in sc.constraints:
            ok &= np.asarray(c.item.value(n, d)) <= np.asarray(c.limit) * (1 + 1e-9)
    return d, obj, train, ok


def curve_costs(problem, params: np.ndarray, candidates=None,
                stacked=None) -> dict[str, np.ndarray]:
    """Along the iso-loss curve at each N of ``params``: the training tokens, the lifetime cost
    (objective unit), its training and inference parts, of the cheapest candidate configuration
    (of ``candidates``, default all of the problem's; or the entries of the batch scenario
    ``stacked``) whose constraints hold there (NaN where none does or the target is out of
    reach)."""
    from planner.optimize.scenario import stack_scenarios

    params = np.asarray(params, dtype=float)
    if stacked is not None:  # the configurations already stacked (planner.analysis.levels)
        k = stacked.batch_size()
        shape = (k,) + params.shape
        scs = [_expand(stacked)]
        curves = [PosynomialCurve(scs[0].loss, scs[0].loss_extra, shape)]
    else:
        cands = list(candidates) if candidates is not None else list(problem.candidates)
        k = len(cands)
        shape = (k,) + params.shape if k > 1 else params.shape
        if candidates is None and k > 1 and problem.posynomial:  # stacked once per problem
            scs = [_expand(problem.stackable)]
            curves = [PosynomialCurve(scs[0].loss, scs[0].loss_extra, shape)]
        elif all(c.scenario.posynomial for c in cands):
            scs = [_expand(stack_scenarios(c.scenario for c in cands)) if k > 1
                   else cands[0].scenario]
            curves = [PosynomialCurve(scs[0].loss, scs[0].loss_extra, shape)]
        else:  # one curve per candidate (a law that is not a posynomial does not stack)
            scs = [c.scenario for c in cands]
            curves = [sc.loss_constraint for sc in scs]
    parts = [_costs_on_curve(sc, curve, params, shape if len(scs) == 1 else params.shape)
             for sc, curve in zip(scs, curves)]
    d, obj, train, ok = (np.stack([p[i] for p in parts]) if len(parts) > 1 else parts[0][i]
                         for i in range(4))
    masked = np.where(ok, obj, np.inf)
    if len(shape) > params.ndim:  # several configurations: the cheapest that holds
        pick = np.argmin(masked, axis=0)
        take = lambda a: np.take_along_axis(np.broadcast_to(a, shape), pick[None], 0)[0]  # noqa
        best, d_best, t_best = take(masked), take(d), take(train)
    else:
        pick = np.zeros(params.shape, dtype=int)
        best, d_best, t_best = masked, d, train
    good = np.isfinite(best)
    nan = np.nan
    with np.errstate(invalid="ignore"):
        inference = np.where(good, best - t_best, nan)
    reachable = np.isfinite(d).any(axis=0) if len(shape) > params.ndim else np.isfinite(d)
    return {"params": params, "tokens": np.where(good, d_best, nan),
            "objective": np.where(good, best, nan),
            "train": np.where(good, t_best, nan), "inference": inference,
            "candidate": pick, "reachable": reachable}


def min_params(problem) -> float:
    """Smallest N that reaches the target loss with unlimited data (no extra loss terms)."""
    sc = problem.candidates[0].scenario
    if sc.curve is None:
        p = sc.loss
        return float((p.A / (p.limit - p.E)) ** (1.0 / p.alpha))
    curve = sc.loss_constraint
    lo, hi = np.log(sc.params_range[0]), np.log(sc.params_range[1])
    if np.isfinite(curve.tokens(np.exp(lo))):
        return float(np.exp(lo))
    for _ in range(60):  # the curve's reach only grows with N
        mid = 0.5 * (lo + hi)
        if np.isfinite(curve.tokens(np.exp(mid))):
            hi = mid
        else:
            lo = mid
    return float(np.exp(hi))


def _split(point) -> tuple[float, float]:
    train = sum(v for k, v in point.items.items() if k in TRAIN_ITEMS)
    return train, point.objective - train


# ---- demand study: the optimum as inference demand grows ------------------------------------
def demand_study(budget, problem=None, result=None, multipliers=None,
                 progress=None) -> dict[str, Any]:
    """Plans at lifetime inference demand = base × multipliers (or, for a budget without
    demand, at multiples of the Chinchilla model's training tokens), batched.

    Every level is solved in one stacked ``solve_problems`` call; only the budget's own level
    becomes a full ``PlanResult`` (``results``, exactly ``optimize_many``'s; none when
    ``result`` is given), the other levels keep their optimum ``(N, D, lifetime cost)``
    (``optima``: what the figures draw, equal to ``optimize()`` of that level's budget).
    Levels the batch cannot decide (infeasible, at the search cap, another solver) go through
    ``optimize_problem`` one at a time."""
    from planner.analysis.levels import Level, stack_levels
    from planner.budget import budget_from_data
    from planner.budget.edit import budget_data, set_field
    from planner.optimize import chinchilla_point, prepare
    from planner.optimize.plans import optimize_problem, solver_name

    problem = problem or prepare(budget)
    data, marks, where = budget_data(budget)
    base_total = budget.inference.total_tokens
    if multipliers is None:
        multipliers = DEMAND_MULTIPLIERS
    multipliers = np.asarray(multipliers, dtype=float)
    if base_total > 0:
        levels = base_total * multipliers
        reference = "the budget's demand"
    else:
        levels = chinchilla_point(problem.candidates[0].scenario)[1] * multipliers
        reference = "the Chinchilla model's training tokens"
    if progress:
        progress("prepare", 0, 1)
    budgets = [budget if base_total > 0 and m == 1.0 else budget_from_data(
        set_field(data, "inference.tokens", float(level), budget), marks, where)
        for m, level in zip(multipliers, levels)]
    others = [i for i, b in enumerate(budgets) if b is not budget]
    problems: list = [problem] * len(budgets)
    build = stack_levels([budgets[i] for i in others])  # the other levels built as one
    for j, i in enumerate(others):
        if build is not None:
            problems[i] = Level(build, j)
            continue
        try:
            problems[i] = prepare(budgets[i])
        except PlannerError as exc:
            problems[i] = exc
    if progress:
        progress("prepare", 1, 1)
    base_index = next((i for i, b in enumerate(budgets) if b is budget), None)
    outcome, results, optima = _solve_levels(budgets, problems,
                                             base_index if result is None else None, progress)
    if result is None:
        result = results[base_index] if base_index is not None else optimize_problem(
            problem, solver_name(budget, None))
    return {"outcome": outcome, "base_index": base_index,
            "multipliers": multipliers, "levels": levels, "reference": reference,
            "budgets": budgets, "problems": problems, "results": results, "optima": optima,
            "base_total": base_total, "base_problem": problem, "base_result": result}


def _solve_levels(budgets, problems, full_index=None, progress=None):
    """(BatchOutcome, PlanResult or None per level, (N, D, objective) or None per level): a
    PlanResult for level ``full_index`` and for the levels the batch leaves undecided.  A
    level of the stacked build is checked against its own budget (its optimum's cost to
    1e-9); a level that fails, or that the solve leaves undecided, is prepared on its own
    (``problems`` updated) and planned one at a time."""
    from planner.analysis.levels import Level
    from planner.optimize import prepare
    from planner.optimize.batch import error_result, solve_problems
    from planner.optimize.plans import (
        agrees_with_batch,
        optimize_problem,
        plan_result,
        solver_name,
    )
    from planner.optimize.problem import agrees

    usable = [p if not isinstance(p, (Exception, Level)) and solver_name(p.budget, None)
              == "iso_loss" else None for p in problems]
    outcome = solve_problems(usable, progress)
    build = next((p.levels for p in problems if isinstance(p, Level)), None)
    if build is not None:
        solved_levels = build.solve_cheapest()
    results: list = [None] * len(problems)
    optima: list = [None] * len(problems)
    for i, p in enumerate(problems):
        if isinstance(p, Level):
            found = build.optimum(p.j, solved_levels)
            if found is not None and agrees(build.own_cost(p.j, *found[:3]), found[3]):
                optima[i] = found[1:]
                continue
            try:  # infeasible, at the search cap, or its own budget disagrees: on its own
                p = problems[i] = prepare(budgets[i])
            except PlannerError as exc:
                results[i] = error_result(budgets[i], exc)
                continue
            solved = None
        else:
            solved = outcome.solutions[i]
        if isinstance(p, Exception):
            results[i] = error_result(budgets[i], p)
            continue
        if solved is not None and i != full_index:
            sol, _ = solved
            optima[i] = (float(sol.params), float(sol.tokens), float(sol.objective))
            continue
        elif solved is not None:  # the budget's own plan, as optimize_many makes it
            results[i] = plan_result(p, *solved, optima=(
                outcome.candidate_objectives[i], outcome.candidate_params[i],
                outcome.candidate_tokens[i]))
            if not agrees_with_batch(p, solved[0], results[i]):  # the batch was off
                results[i] = optimize_problem(p.eager(), solver_name(p.budget, None),
                                              uncertainty=False)
        else:
            try:
                results[i] = optimize_problem(p, solver_name(p.budget, None),
                                              uncertainty=False)
            except PlannerError as exc:
                results[i] = error_result(budgets[i], exc)
        r = results[i]
        if r.ok:
            optima[i] = (r.plan.params, r.plan.train_tokens, r.plan.objective)
    return outcome, results, optima


# ---- figure data ----------------------------------------------------------------------------
def cost_vs_params_data(study: dict, show=(0.01, 0.1, 1.0, 10.0, 100.0),
                        points: int = 160) -> dict[str, Any]:
    """Lifetime cost vs N along the iso-loss curve for a few demand levels, with each level's
    optimum (the solver's answer, to be seen at the curve's minimum)."""
    from planner.analysis.levels import Level
    from planner.optimize import chinchilla_point

    base = study["base_problem"]
    n_chin = chinchilla_point(base.candidates[0].scenario)[0]
    pick = [i for i, m in enumerate(study["multipliers"]) if any(np.isclose(m, s) for s in show)
            and study["optima"][i] is not None]
    optima = [study["optima"][i][0] for i in pick]
    lo = max(min_params(base) * 1.02, min(optima + [n_chin]) / 4.0)
    hi = max(optima + [n_chin]) * 4.0
    grid = np.logspace(np.log10(lo), np.log10(hi), points)
    curves = []
    for i in pick:
        n, d, objective = study["optima"][i]
        level = study["problems"][i]
        c = (curve_costs(level, grid) if not isinstance(level, Level)
             else curve_costs(None, grid, stacked=level.levels.level(level.j)))
        curves.append({"multiplier": float(study["multipliers"][i]),
                       "demand_tokens": float(study["levels"][i]),
                       "objective": c["objective"],
                       "opt_params": n, "opt_objective": objective, "opt_tokens": d})
    return {"params": grid, "curves": curves, "chinchilla_params": n_chin,
            "unit": study["base_result"].objective_unit, "reference": study["reference"],
            "base_total": study["base_total"]}


def _pareto(train, inference, params):
    ok = np.isfinite(train) & np.isfinite(inference) & (train > 0) & (inference > 0)
    order = np.argsort(train[ok], kind="stable")
    tr, inf, n = train[ok][order], inference[ok][order], params[ok][order]
    keep = np.zeros(len(tr), dtype=bool)
    best = np.inf
    for j in range(len(tr)):  # ascending training cost: keep strictly cheaper inference
        if inf[j] < best:
            keep[j] = True
            best = inf[j]
    return tr[keep], inf[keep], n[keep]


def frontier_data(problem, result, points: int = 300) -> dict[str, Any]:
    """Training vs inference cost along the iso-loss curve, non-dominated branch only (no
    other model of the same loss costs less to train *and* less to serve), at the plan's
    serving configuration and, when it differs, at the Chinchilla baseline's."""
    from planner.optimize import baseline_candidate, chinchilla_point, plan_candidate

    n0, d0 = chinchilla_point(problem.candidates[0].scenario)
    lo = min_params(problem) * 1.001
    hi = max(n0, result.plan.params, result.baseline.params) * 2.0
    grid = np.logspace(np.log10(lo), np.log10(hi), points)
    plan_c = plan_candidate(problem, result)
    base_c = baseline_candidate(problem, n0, d0, plan_c)  # on the plan's hardware
    branches = []
    for cand, who in ((plan_c, "plan"), (base_c, "baseline")):
        if who == "baseline" and cand is plan_c:
            continue
        c = curve_costs(problem, grid, [cand])
        cap = 5.0 * max(result.plan.objective, result.baseline.objective)
        near = c["objective"] <= cap  # drop the far tail near the smallest reachable N
        tr, inf, n = _pareto(np.where(near, c["train"], np.nan), c["inference"], grid)
        label = cand.label()
        branches.append({"who": who, "configuration": label, "train": tr, "inference": inf,
                         "params": n})
    return {"branches": branches,
            "plan": _split(result.plan), "chinchilla": _split(result.baseline),
            "plan_params": result.plan.params, "chinchilla_params": result.baseline.params,
            "unit": result.objective_unit}


def contour_data(study: dict, points: int = 160) -> dict[str, Any]:
    """Loss over a log grid of (N, D), the target, iso-FLOP lines and the optimum's path."""
    from planner.optimize import chinchilla_point

    base = study["base_problem"]
    law = base.law
    path = [(opt, lv) for opt, lv in zip(study["optima"], study["levels"]) if opt is not None]
    path_n = np.array([opt[0] for opt, _ in path])
    path_d = np.array([opt[1] for opt, _ in path])
    levels = np.array([lv for _, lv in path])
    n0, d0 = chinchilla_point(base.candidates[0].scenario)
    n_lo, n_hi = min(path_n.min(), n0) / 6.0, max(path_n.max(), n0) * 6.0
    d_lo, d_hi = min(path_d.min(), d0) / 6.0, max(path_d.max(), d0) * 6.0
    ns = np.logspace(np.log10(n_lo), np.log10(n_hi), points)
    ds = np.logspace(np.log10(d_lo), np.log10(d_hi), points)
    nn, dd = np.meshgrid(ns, ds)
    loss = np.asarray(law.loss(nn, dd), dtype=float)
    c_lo, c_hi = 6 * n_lo * d_lo, 6 * n_hi * d_hi
    flops = 10.0 ** np.arange(np.ceil(np.log10(c_lo)), np.floor(np.log10(c_hi)) + 1)
    r = study["base_result"]
    return {"params": ns, "tokens": ds, "loss": loss, "target": base.target_loss,
            "iso_flops": flops, "path_params": path_n, "path_tokens": path_d,
            "path_demand": levels, "plan": (r.plan.params, r.plan.train_tokens),
            "chinchilla": (n0, d0), "law": law.name,
            "penalised": bool(r.plan.extra.get("loss_penalty"))}
