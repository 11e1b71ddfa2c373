"""The geometric program of a scenario written for cvxpy (Clarabel underneath): the oracle the
tests hold ``planner.optimize.gp_conic`` (what ``--solver gp`` runs) to, and its fall-back for a
feasible solve that Clarabel ends without a verdict there.

The GP is written directly in its convex form (Boyd et al. 2007, "A tutorial on geometric
programming", §2.5): variables ``x = log N``, ``y = log D``; a term ``c·N^a·D^b`` becomes
``log c + a·x + b·y``, a posynomial the ``log_sum_exp`` of its terms, a max of posynomials the
max of those, and the objective ``Σ items`` the ``log_sum_exp`` of the items.  That is the
problem cvxpy's DGP mode would derive; writing it in logs lets the log-coefficients be the
``cp.Parameter`` values themselves (cvxpy's DGP path re-takes and re-validates every parameter's
log on every solve).  One parametrised (DPP) problem is built per *structure* (exponents and
which terms exist) and cached; re-solves only change parameter values.  N and D are scaled by
the Chinchilla-optimal point of the same loss and the objective by its value there, so the conic
problem is O(1).  cvxpy is imported lazily, inside the solve (its import alone takes ~1.1-1.4 s).
``planner.optimize.gp_reference`` keeps the DGP-mode solver before it as a second oracle.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import SolverError
from planner.optimize.scenario import Scenario, Solution
from planner.terms import CostItem, Term, compute_optimal_point

_CACHE: dict[tuple, "_Built"] = {}
# a constraint switched off while naming binding constraints keeps its place in the cached
# problem with every (scaled) coefficient set to this: it then holds unless N or D moves a factor
# ~e^60 from the compute-optimal point, far outside any plan
_DISABLED = 1e-26
# tighter than the defaults (1e-8): the tests hold the GP to the 1-D solver at 1e-6 in cost
_CLARABEL_TOL = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)


@dataclass
class _Built:
    problem: Any
    n: Any  # cp.Variable: log N (scaled)
    d: Any  # cp.Variable: log D (scaled)
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

    x = cp.Variable(name="logN")
    y = cp.Variable(name="logD")
    params: list = []

    def log_term(t: Term):  # log(c·N^a·D^b) = log c + a·x + b·y
        par = cp.Parameter()
        params.append(par)
        expr = par
        if t.n_exp != 0:
            expr = expr + float(t.n_exp) * x
        if t.d_exp != 0:
            expr = expr + float(t.d_exp) * y
        return expr

    def log_posy(terms):
        live = [log_term(t) for t in terms if float(t.coef) > 0]
        return cp.log_sum_exp(cp.hstack(live)) if len(live) > 1 else live[0]

    def log_item(item: CostItem):
        alts = [log_posy(p) for p in item.alternatives if any(float(t.coef) > 0 for t in p)]
        return alts[0] if len(alts) == 1 else cp.maximum(*alts)

    objective = [log_item(it) for it in sc.objective if any(
        float(t.coef) > 0 for t in _item_terms(it))]
    loss = log_posy(_loss_terms(sc))
    constraint_exprs = [log_item(c.item) for c in sc.constraints]
    cons = [loss <= 0.0] + [e <= 0.0 for e in constraint_exprs]
    total = objective[0] if len(objective) == 1 else cp.log_sum_exp(cp.hstack(objective))
    problem = cp.Problem(cp.Minimize(total), cons)
    if not problem.is_dcp(dpp=True):  # pragma: no cover - structure bug, not user input
        raise SolverError("internal: scenario is not a DPP convex program in log form")
    return _Built(problem, x, y, params, constraint_exprs)


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


def _set_values(params, values) -> None:
    """Write log-coefficients into a cached problem's parameters.  Each value is checked here
    (a finite float: all a scalar parameter without attributes accepts) and stored with
    ``save_value``, skipping cvxpy's generic per-assignment validation (array conversion and
    ``np.isclose`` projections), which took longer than the conic solve itself."""
    for par, val in zip(params, values):
        val = math.log(val)
        if math.isfinite(val) and par.shape == ():
            par.save_value(val)
        else:  # cvxpy's own checks and error message
            par.value = val


def _constraint_blocks(sc: Scenario, n_params: int) -> list[slice]:
    """Where each constraint's coefficients sit among the problem's parameters (the last ones,
    in the order of ``_coefficients``)."""
    counts = [sum(1 for p in c.item.alternatives if any(float(t.coef) > 0 for t in p)
                  for t in p if float(t.coef) > 0) for c in sc.constraints]
    start = n_params - sum(counts)
    blocks = []
    for n in counts:
        blocks.append(slice(start, start + n))
        start += n
    return blocks


def solve_gp(sc: Scenario, *, cache: bool = True, retry_binding: bool = True) -> Solution:
    """Solve one scenario exactly.  ``cache=False`` builds a fresh problem (benchmarks)."""
    return _solve(sc, cache, retry_binding, frozenset())


def _solve(sc: Scenario, cache: bool, retry_binding: bool, disabled: frozenset) -> Solution:
    """``solve_gp`` with the constraints of index in ``disabled`` switched off (every
    coefficient set to ``_DISABLED``) in the same cached problem."""
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
    values = _coefficients(sc, n0, d0, f0)
    if disabled:
        blocks = _constraint_blocks(sc, len(values))
        for j in disabled:
            values[blocks[j]] = [_DISABLED] * (blocks[j].stop - blocks[j].start)
    _set_values(built.params, values)
    try:
        with warnings.catch_warnings():  # 'optimal_inaccurate' is reported in the Solution
            warnings.simplefilter("ignore", UserWarning)
            try:
                built.problem.solve(solver=cp.CLARABEL, **_CLARABEL_TOL)
            except cp.error.SolverError:  # tight tolerances can fail near infeasibility
                built.problem.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:
        # Clarabel can fail outright on a problem just past infeasibility: if the 1-D solver
        # proves it infeasible, say so; otherwise this is a real solver failure
        from planner.optimize.iso_loss import solve_iso_loss

        other = solve_iso_loss(sc)
        if other.status == "infeasible":
            return Solution(np.nan, np.nan, np.nan, "infeasible", "gp",
                            message="constraints cannot all hold (Clarabel failed; the 1-D "
                                    "solver proves infeasibility): " + ", ".join(other.binding),
                            binding=other.binding)
        raise SolverError(f"cvxpy/Clarabel failed: {exc}") from None
    status = built.problem.status
    if status in ("infeasible", "infeasible_inaccurate"):
        binding = _binding(sc) if retry_binding else ()
        msg = "constraints cannot all hold" + (": " + ", ".join(binding) if binding else "")
        return Solution(np.nan, np.nan, np.nan, "infeasible", "gp", message=msg, binding=binding)
    if status not in ("optimal", "optimal_inaccurate") or built.n.value is None:
        raise SolverError(f"cvxpy returned status {status!r}")
    params = math.exp(float(built.n.value)) * n0
    tokens = math.exp(float(built.d.value)) * d0
    active = tuple(
        c.name for c in sc.constraints if float(c.slack(params, tokens)) < 1e-5
    )
    return Solution(
        params=params, tokens=tokens, objective=float(sc.objective_value(params, tokens)),
        status="optimal", solver="gp", message="" if status == "optimal" else status,
        active=active, diagnostics={"cvxpy_status": status},
    )


def _binding(sc: Scenario) -> tuple[str, ...]:
    """Constraints that bind an infeasible scenario (``binding_rule``).  The sub-problems
    re-solve the cached problem with constraints switched off, so naming them builds nothing
    new; one that fails numerically only leaves its constraint unnamed."""
    k = len(sc.constraints)

    def status(keep) -> str:
        try:
            return _solve(sc, True, False, frozenset(set(range(k)) - set(keep))).status
        except SolverError:
            return "failed"

    return binding_rule(sc, status)


def binding_rule(sc: Scenario, status) -> tuple[str, ...]:
    """The constraints named as binding an infeasible scenario, from ``status(keep)``, the
    status of the scenario with only the constraints ``keep`` (indices): those infeasible on
    their own with the loss target, else those whose removal makes it feasible, else all."""
    k = len(sc.constraints)
    names = [c.name for j, c in enumerate(sc.constraints) if status({j}) == "infeasible"]
    if names:
        return tuple(names)
    names = [c.name for j, c in enumerate(sc.constraints)
             if status(set(range(k)) - {j}) == "optimal"]
    return tuple(names) or tuple(c.name for c in sc.constraints)
