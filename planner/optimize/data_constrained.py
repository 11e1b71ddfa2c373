"""Planning under a data-constrained law (Muennighoff et al. 2023, arXiv 2305.16264): the nested 1-D solve.

For each N, D(N) is the smallest token count whose loss (with repetition decay) reaches the
target: a root in log D (the loss decreases in D and saturates at D' = U·(1 + R_D*)).  The cost
along that curve is then minimised over log N: a dense log grid (vectorised: every grid point's
D by bisection at once) to find the basin, refined by a bounded scalar search.  Constraints
exclude points; the cheapest candidate configuration wins.
"""

from __future__ import annotations

import numpy as np

from planner.errors import InputError
from planner.optimize.scenario import Solution

GRID = 2001


def _tokens_for(law, params, target, iterations=80):
    """Smallest D reaching ``target`` at each N (inf where unreachable), by bisection in log D."""
    params = np.asarray(params, dtype=float)
    u = law.unique_tokens
    lo = np.full(params.shape, np.log(1e3))
    hi = np.full(params.shape, np.log(u) + np.log(1.0 + law.R_D_star) + 60.0)
    reachable = law.loss(params, np.exp(hi)) <= target
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = law.loss(params, np.exp(mid)) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.where(reachable, np.exp(hi), np.inf)


def _cost(scenario, params, tokens):
    """Objective, with inf where D is infinite or a constraint fails."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(tokens)
        d = np.where(finite, tokens, 1.0)
        cost = np.asarray(scenario.objective_value(params, d), dtype=float)
        ok = finite.copy()
        for c in scenario.constraints:
            ok &= np.asarray(c.item.value(params, d)) <= np.asarray(c.limit) * (1 + 1e-9)
    return np.where(ok, cost, np.inf)


def solve_data_constrained(problem) -> Solution:
    """Cheapest (N, D) reaching the target under the data-constrained law, over candidates."""
    from scipy.optimize import minimize_scalar

    law, target = problem.law, problem.target_loss
    if law.unique_tokens is None:
        raise InputError(f"{problem.budget.where('law')}: law {law.name} plans repeated epochs "
                         "from data.unique_tokens; add data: {unique_tokens: ...}")
    sc0 = problem.candidates[0].scenario
    lo, hi = (np.log(x) for x in sc0.params_range)
    grid = np.linspace(lo, hi, GRID)
    best = None
    for k, cand in enumerate(problem.candidates):
        sc = cand.scenario
        cost = _cost(sc, np.exp(grid), _tokens_for(law, np.exp(grid), target))
        i = int(np.argmin(cost))
        if not np.isfinite(cost[i]):
            continue

        def f(u, sc=sc):
            n = np.exp(np.array([u]))
            return float(_cost(sc, n, _tokens_for(law, n, target))[0])

        a, b = grid[max(i - 1, 0)], grid[min(i + 1, GRID - 1)]
        res = minimize_scalar(f, bounds=(a, b), method="bounded",
                              options={"xatol": 1e-10})
        u = res.x if res.fun <= cost[i] else grid[i]
        val = min(res.fun, cost[i])
        if best is None or val < best[0]:
            best = (val, u, k)
    if best is None:
        names = tuple(c.name for c in sc0.constraints)
        return Solution(np.nan, np.nan, np.nan, "infeasible", "data_constrained",
                        message=f"target loss {target:.4g} is out of reach with "
                                f"{law.unique_tokens:.3g} unique tokens"
                                + (" under the constraints" if names else ""),
                        binding=names)
    val, u, k = best
    n = float(np.exp(u))
    d = float(_tokens_for(law, np.array([n]), target)[0])
    n_eff, d_eff = law.effective(n, d)
    sc = problem.candidates[k].scenario
    active = tuple(c.name for c in sc.constraints if abs(float(c.slack(n, d))) < 1e-5)
    return Solution(n, d, float(val), "optimal", "data_constrained", active=active,
                    diagnostics={"candidate": k, "epochs": d / law.unique_tokens,
                                 "unique_tokens": law.unique_tokens,
                                 "effective_tokens": float(d_eff),
                                 "effective_params": float(n_eff)})
