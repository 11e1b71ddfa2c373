"""The GP solver as it was before issue 12 (cvxpy's DGP mode, validated parameter assignments),
kept unchanged as the test and benchmark oracle of ``planner.optimize.gp``.  Not used by plans.

Exact solve of a scenario as a geometric program (cvxpy DGP, Clarabel).

One parametrised problem is built per *structure* (exponents and which terms exist) and cached;
re-solves only change ``cp.Parameter`` values (DPP), ~2 ms a solve instead of ~20 ms.  N and D
are scaled by the Chinchilla-optimal point of the same loss and the objective by its value there,
so the conic problem is O(1).  cvxpy is imported lazily.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import SolverError
from planner.optimize.scenario import Scenario, Solution
from planner.terms import CostItem, Term, compute_optimal_point

_CACHE: dict[tuple, "_Built"] = {}
# tighter than the defaults (1e-8): the tests hold the GP to the 1-D solver at 1e-6 in cost
_CLARABEL_TOL = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)


@dataclass
class _Built:
    problem: Any
    n: Any
    d: Any
    params: list  # cp.Parameter, in the order of _coefficients()
    constraint_exprs: list


def _scale(sc: Scenario) -> tuple[float, float]:
    """Scale of N and D: the Chinchilla-optimal point of the loss posynomial."""
    if float(sc.loss.limit) - float(sc.loss.E) <= 0:
        return 1e9, 1e9
    return compute_optimal_point(sc.loss)


def _item_terms(item: CostItem):
    return [t for posy in item.alternatives for t in posy]


def _loss_terms(sc: Scenario) -> list[Term]:
    p = sc.loss
    return [Term(p.E), Term(p.A, -p.alpha, 0.0), Term(p.B, 0.0, -p.beta), *sc.loss_extra]


def _structure(sc: Scenario) -> tuple:
    """Everything the compiled problem depends on except coefficient values."""
    def nz(terms):
        return tuple((float(t.n_exp), float(t.d_exp), bool(float(t.coef) > 0)) for t in terms)

    return (
        tuple((it.name, tuple(nz(p) for p in it.alternatives)) for it in sc.objective),
        nz(_loss_terms(sc)),
        tuple((c.name, tuple(nz(p) for p in c.item.alternatives)) for c in sc.constraints),
    )


def _build(sc: Scenario) -> _Built:
    import cvxpy as cp

    n = cp.Variable(pos=True, name="N")
    d = cp.Variable(pos=True, name="D")
    params: list = []

    def monomial(t: Term):
        par = cp.Parameter(pos=True)
        params.append(par)
        expr = par
        if t.n_exp != 0:
            expr = expr * cp.power(n, float(t.n_exp))
        if t.d_exp != 0:
            expr = expr * cp.power(d, float(t.d_exp))
        return expr

    def posy(terms):
        live = [monomial(t) for t in terms if float(t.coef) > 0]
        return cp.sum(cp.hstack(live)) if len(live) > 1 else live[0]

    def item_expr(item: CostItem):
        alts = [posy(p) for p in item.alternatives if any(float(t.coef) > 0 for t in p)]
        return alts[0] if len(alts) == 1 else cp.maximum(*alts)

    objective = [item_expr(it) for it in sc.objective if any(
        float(t.coef) > 0 for t in _item_terms(it))]
    loss = posy(_loss_terms(sc))
    constraint_exprs = [item_expr(c.item) for c in sc.constraints]
    cons = [loss <= 1.0] + [e <= 1.0 for e in constraint_exprs]
    total = objective[0] if len(objective) == 1 else cp.sum(cp.hstack(objective))
    problem = cp.Problem(cp.Minimize(total), cons)
    if not problem.is_dgp(dpp=True):  # pragma: no cover - structure bug, not user input
        raise SolverError("internal: scenario is not a DPP geometric program")
    return _Built(problem, n, d, params, constraint_exprs)


def _coefficients(sc: Scenario, n0: float, d0: float, f0: float) -> list[float]:
    """Coefficient values in the order `_build` created parameters (scaled units)."""
    vals: list[float] = []

    def add(terms, divisor):
        for t in terms:
            if float(t.coef) > 0:
                vals.append(float(t.coef) * n0 ** float(t.n_exp) * d0 ** float(t.d_exp) / divisor)

    for it in sc.objective:
        if any(float(t.coef) > 0 for t in _item_terms(it)):
            for p in it.alternatives:
                if any(float(t.coef) > 0 for t in p):
                    add(p, f0)
    add(_loss_terms(sc), float(sc.loss.limit))
    for c in sc.constraints:
        for p in c.item.alternatives:
            if any(float(t.coef) > 0 for t in p):
                add(p, float(c.limit))
    return vals


def solve_gp(sc: Scenario, *, cache: bool = True, retry_binding: bool = True) -> Solution:
    """Solve one scenario exactly.  ``cache=False`` builds a fresh problem (benchmarks)."""
    import cvxpy as cp

    if sc.batch_size() != 1:
        raise ValueError("solve_gp takes one scenario; use solve_iso_loss for batches")
    if float(sc.loss.limit) <= float(sc.loss.E):
        return Solution(np.nan, np.nan, np.nan, "infeasible", "gp",
                        message="target loss at or below the law's irreducible loss")
    n0, d0 = _scale(sc)
    f0 = float(sc.objective_value(n0, d0))
    if not np.isfinite(f0) or f0 <= 0:
        f0 = 1.0
    key = _structure(sc)
    built = _CACHE.get(key) if cache else None
    if built is None:
        built = _build(sc)
        if cache:
            _CACHE[key] = built
    for par, val in zip(built.params, _coefficients(sc, n0, d0, f0)):
        par.value = val
    try:
        with warnings.catch_warnings():  # 'optimal_inaccurate' is reported in the Solution
            warnings.simplefilter("ignore", UserWarning)
            built.problem.solve(gp=True, solver=cp.CLARABEL, **_CLARABEL_TOL)
    except cp.error.SolverError as exc:
        raise SolverError(f"cvxpy/Clarabel failed: {exc}") from None
    status = built.problem.status
    if status in ("infeasible", "infeasible_inaccurate"):
        binding = _binding(sc) if retry_binding else ()
        msg = "constraints cannot all hold" + (": " + ", ".join(binding) if binding else "")
        return Solution(np.nan, np.nan, np.nan, "infeasible", "gp", message=msg, binding=binding)
    if status not in ("optimal", "optimal_inaccurate") or built.n.value is None:
        raise SolverError(f"cvxpy returned status {status!r}")
    params, tokens = float(built.n.value) * n0, float(built.d.value) * d0
    active = tuple(
        c.name for c in sc.constraints if float(c.slack(params, tokens)) < 1e-5
    )
    return Solution(
        params=params, tokens=tokens, objective=float(sc.objective_value(params, tokens)),
        status="optimal", solver="gp", message="" if status == "optimal" else status,
        active=active, diagnostics={"cvxpy_status": status},
    )


def _binding(sc: Scenario) -> tuple[str, ...]:
    """Constraints whose removal makes the scenario feasible (or all of them)."""
    from dataclasses import replace

    names = []
    for k, c in enumerate(sc.constraints):
        alone = replace(sc, constraints=(c,))
        if solve_gp(alone, retry_binding=False).status == "infeasible":
            names.append(c.name)
    if names:
        return tuple(names)
    for k, c in enumerate(sc.constraints):
        rest = replace(sc, constraints=sc.constraints[:k] + sc.constraints[k + 1:])
        if solve_gp(rest, retry_binding=False).status == "optimal":
            names.append(c.name)
    return tuple(names) or tuple(c.name for c in sc.constraints)
