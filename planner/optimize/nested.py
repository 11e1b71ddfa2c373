"""The nested 1-D solve for laws whose loss constraint is not a posynomial.

The scenario's iso-loss curve gives D(N) (``scenario.loss_constraint``: for repeated data, a
root in log D).  The cost along the curve is minimised over u = log N:

* a dense log grid (vectorised: every grid point's D at once) finds the basin and the points
  where the constraints hold;
* ``method='brent'`` refines it by a bounded scalar search (scipy ``minimize_scalar``);
* ``method='slope'`` refines it by bisection on the sign of dCost/du along the curve
  (``Σ item.dlog(N, D, dlogD/dlogN)``), the stationarity condition.

The two refinements are independent and serve as each other's cross-check (``--check``).
"""

from __future__ import annotations

import numpy as np

from planner.optimize.scenario import Scenario, Solution

GRID = 2001
METHODS = ("brent", "slope")


def _cost(sc: Scenario, params, tokens):
    """Objective, with inf where D is infinite or a constraint fails."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(tokens)
        d = np.where(finite, tokens, 1.0)
        cost = np.asarray(sc.objective_value(params, d), dtype=float)
        ok = finite.copy()
        for c in sc.constraints:
            ok &= np.asarray(c.item.value(params, d)) <= np.asarray(c.limit) * (1 + 1e-9)
    return np.where(ok, cost, np.inf)


def _slope(sc: Scenario, u: float) -> float:
    curve = sc.loss_constraint
    n = float(np.exp(u))
    d = float(curve.tokens(n))
    s = float(curve.dlog_tokens(n))
    with np.errstate(all="ignore"):
        return float(sum(float(item.dlog(n, d, s)) for item in sc.objective))


def _feasible(sc: Scenario, u: float) -> bool:
    n = np.exp(np.array([u]))
    return bool(np.isfinite(_cost(sc, n, sc.loss_constraint.tokens(n))[0]))


def _slope_refine(sc: Scenario, grid, cost, i: int) -> float:
    """Stationary point of the cost along the curve near grid point ``i`` (bisection on the
    slope's sign), or, where a constraint cuts the basin, the feasibility edge (bisection on
    feasibility)."""
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    if _slope(sc, a) < 0 < _slope(sc, b):
        for _ in range(60):
            m = 0.5 * (a + b)
            if _slope(sc, m) < 0:
                a = m
            else:
                b = m
        u = 0.5 * (a + b)
        if _feasible(sc, u):
            return u
    # the optimum sits on a constraint: walk to the edge between grid[i] and its infeasible
    # neighbour on the side where the cost falls
    side = -1 if i > 0 and not np.isfinite(cost[i - 1]) else 1
    j = i + side
    if not (0 <= j < len(grid)) or np.isfinite(cost[j]):
        return float(grid[i])
    good, bad = grid[i], grid[j]
    for _ in range(60):
        m = 0.5 * (good + bad)
        if _feasible(sc, m):
            good = m
        else:
            bad = m
    return float(good)


def solve_nested(sc: Scenario, method: str = "brent") -> Solution:
    """Cheapest (N, D) on the scenario's iso-loss curve under its constraints."""
    curve = sc.loss_constraint
    lo, hi = (np.log(x) for x in sc.params_range)
    grid = np.linspace(lo, hi, GRID)
    cost = _cost(sc, np.exp(grid), curve.tokens(np.exp(grid)))
    i = int(np.argmin(cost))
    solver = f"nested_{method}"
    if not np.isfinite(cost[i]):
        names = tuple(c.name for c in sc.constraints)
        reach = np.isfinite(curve.tokens(np.exp(grid)))
        why = ("the target loss is out of reach at every model size" if not reach.any()
               else "constraints cannot all hold: " + ", ".join(names))
        return Solution(np.nan, np.nan, np.nan, "infeasible", solver, message=why,
                        binding=names if reach.any() else ())
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, GRID - 1)]
    if method == "brent":
        from scipy.optimize import minimize_scalar

        def f(u):
            n = np.exp(np.array([u]))
            return float(_cost(sc, n, curve.tokens(n))[0])

        res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-10})
        u = res.x if res.fun <= cost[i] else grid[i]
    elif method == "slope":
        u = _slope_refine(sc, grid, cost, i)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    n = float(np.exp(u))
    d = float(curve.tokens(np.array([n]))[0])
    val = float(sc.objective_value(n, d))
    active = tuple(c.name for c in sc.constraints if abs(float(c.slack(n, d))) < 1e-5)
    return Solution(n, d, val, "optimal", solver, active=active,
                    diagnostics={"method": method, "grid": GRID})
