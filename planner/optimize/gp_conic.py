"""The geometric program in exponential-cone form, handed to Clarabel directly.

In the variables ``x = log N``, ``y = log D`` a posynomial constraint ``Σ_i c_i·N^a_i·D^b_i ≤ 1``
is ``Σ_i exp(log c_i + a_i·x + b_i·y) ≤ 1`` (Boyd et al. 2007, "A tutorial on geometric
programming", §2.5), and each exponential is bounded by one exponential cone:
``exp(s_i) ≤ u_i`` with ``Σ_i u_i ≤ 1``, where ``(s_i, 1, u_i) ∈ K_exp =
cl{(r, p, q) : p·exp(r/p) ≤ q, p > 0}`` (MOSEK Modeling Cookbook, 2024, §5.2.6 "Log-sum-exp";
Clarabel's ``ExponentialConeT``).  A one-term (monomial) constraint is a linear inequality in
``(x, y)``; a max of posynomials is bounded by bounding each; the objective ``log Σ items`` is
an epigraph variable ``t`` with ``Σ items · e^-t ≤ 1`` (an item that is a max of posynomials gets
its own ``v`` with ``posynomial · e^-v ≤ 1`` for each, and ``e^(v-t)`` in the sum).  The result
is a linear objective over exponential, non-negative cones: Clarabel's problem form (Goulart
and Chen 2024, "Clarabel: an interior-point solver for conic programs with quadratic
objectives", arXiv 2405.12762).

Writing the cone program here instead of through cvxpy skips cvxpy's import (1.0-1.4 s) and,
even with one DPP-parametrised problem per structure, its per-solve parameter mapping and result
unpacking (~8 ms a solve); here a chat-assistant configuration's cone program takes ~0.4 ms to
build and Clarabel ~1.3 ms to solve (``benchmarks/solvers.py``, row h).  N, D and the objective are scaled as in ``planner.optimize.gp`` (the compute-
optimal point, the objective there), so the cone program is O(1).  ``planner.optimize.gp``
(the same program written in logs for cvxpy) is kept as the test oracle and as the fall-back
when Clarabel stops without a verdict here.  clarabel is imported lazily.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from planner.optimize.gp import _loss_terms, _scale, binding_rule
from planner.optimize.scenario import Scenario, Solution

# Clarabel's default feasibility and gap tolerances: on every configuration of the examples
# (975 solves) the cost agrees with the 1-D solver to 2.3e-8 and N to 7e-5 (the tests ask
# 1e-6 and 1e-3) in 19 iterations on average; 1e-10 takes 34 and ends 'AlmostSolved' on a
# fifth of them
_TOL = 1e-8
_ACTIVE = 1e-5  # a constraint with a smaller fractional slack is reported active
_INFEASIBLE = ("PrimalInfeasible", "AlmostPrimalInfeasible")
_BELOW_E = "target loss at or below the law's irreducible loss"


class _Cones:
    """Rows of ``A·z + s = b`` with ``s`` in non-negative cones (linear inequalities
    ``A·z ≤ b``) or in exponential cones (three rows each); columns are added on demand."""

    def __init__(self) -> None:
        self.n = 3  # z = (x, y, t, ...)
        self.linear: list[tuple[dict, float]] = []
        self.expo: list[tuple[dict, float]] = []

    def new(self) -> int:
        self.n += 1
        return self.n - 1

    def posynomial(self, terms: list[tuple[dict, float]]) -> None:
        """``Σ exp(row·z + const) ≤ 1`` for terms ``(row, const)``.  Constant terms move to
        the right-hand side ``r = 1 − Σ constants``; one term left is the linear inequality
        ``row·z + const ≤ log r``; several take one exponential cone each and ``Σ u ≤ r``."""
        rest = [(row, const) for row, const in terms if row]
        r = 1.0 - sum(math.exp(const) for row, const in terms if not row)
        if len(rest) == 1 and r > 0:
            row, const = rest[0]
            self.linear.append((row, math.log(r) - const))
            return
        total: dict = {}
        for row, const in rest:
            u = self.new()
            self.expo.append(({j: -v for j, v in row.items()}, const))  # s1 = row·z + const
            self.expo.append(({}, 1.0))  # s2 = 1
            self.expo.append(({u: -1.0}, 0.0))  # s3 = u
            total[u] = 1.0
        self.linear.append((total, r))  # Σ u ≤ r (r ≤ 0: no point satisfies it)

    def matrices(self):
        """``A`` (compressed sparse columns) and ``b``."""
        rows = self.linear + self.expo
        entries = sorted((j, i, val) for i, (row, _) in enumerate(rows)
                         for j, val in row.items() if val)
        cols = np.fromiter((e[0] for e in entries), dtype=np.int64, count=len(entries))
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=self.n), out=indptr[1:])
        A = _Csc(np.array([e[2] for e in entries], dtype=float),
                 np.array([e[1] for e in entries], dtype=np.int64), indptr, (len(rows), self.n))
        return A, np.array([bi for _, bi in rows])


class _Csc(NamedTuple):
    """A matrix in compressed sparse columns, in the attributes Clarabel's Python interface
    reads (``data``, ``indices``, ``indptr``, ``shape``: Clarabel.rs, src/python/
    cscmatrix_py.rs; ``has_canonical_format``: sorted rows, no duplicates).  Passing it instead
    of a ``scipy.sparse.csc_matrix`` spares the GP scipy's import (~0.3 s, a fifth of a
    ``planner optimize --solver gp`` run); ``_clarabel`` converts where Clarabel refuses it."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]
    has_canonical_format: bool = True

    def to_scipy(self):
        import scipy.sparse as sp

        return sp.csc_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def _empty(n: int) -> _Csc:
    return _Csc(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(n + 1, dtype=np.int64),
                (n, n))


def _log_terms(terms, n0: float, d0: float, divisor: float, shift=None
               ) -> list[tuple[dict, float]]:
    """Live terms of a posynomial as ``(row, log c)`` in the scaled logs ``z[0] = log(N/n0)``,
    ``z[1] = log(D/d0)``, divided by ``divisor``, plus the linear ``shift`` (e.g. ``-t``)."""
    out = []
    for t in terms:
        c = float(t.coef)
        if c > 0:
            a, b = float(t.n_exp), float(t.d_exp)
            row = dict(shift or {})
            if a:
                row[0] = a
            if b:
                row[1] = b
            out.append((row, math.log(c / divisor) + a * math.log(n0) + b * math.log(d0)))
    return out


def cone_program(sc: Scenario, keep: frozenset | None = None):
    """``(A, b, c, cones)`` of the scenario's GP (constraints of index in ``keep`` only, when
    given); ``z[0] = log(N/n0)``, ``z[1] = log(D/d0)``, ``z[2] = t`` the log of the scaled
    objective.  Also returns the scale ``(n0, d0)``."""
    import clarabel

    n0, d0 = _scale(sc)
    f0 = float(sc.objective_value(n0, d0))
    if not math.isfinite(f0) or f0 <= 0:
        f0 = 1.0
    cones = _Cones()
    total: list[tuple[dict, float]] = []  # Σ items · e^-t ≤ 1
    for item in sc.objective:
        alts = [p for p in item.alternatives if any(float(t.coef) > 0 for t in p)]
        if len(alts) == 1:
            total += _log_terms(alts[0], n0, d0, f0, {2: -1.0})
        elif alts:  # a max of posynomials: its own epigraph variable v, e^(v - t) in the sum
            v = cones.new()
            for p in alts:
                cones.posynomial(_log_terms(p, n0, d0, f0, {v: -1.0}))
            total.append(({v: 1.0, 2: -1.0}, 0.0))
    cones.posynomial(total)
    cones.posynomial(_log_terms(_loss_terms(sc), n0, d0, float(sc.loss.limit)))
    for j, con in enumerate(sc.constraints):
        if keep is not None and j not in keep:
            continue
        for p in con.item.alternatives:
            terms = _log_terms(p, n0, d0, float(con.limit))
            if terms:
                cones.posynomial(terms)
    A, b = cones.matrices()
    c = np.zeros(cones.n)
    c[2] = 1.0
    kinds = [clarabel.NonnegativeConeT(len(cones.linear))] + [
        clarabel.ExponentialConeT() for _ in range(len(cones.expo) // 3)]
    return A, b, c, kinds, (n0, d0)


def _clarabel(A: _Csc, b, c, kinds):
    """Clarabel's solution of ``min c·z`` subject to ``A·z + s = b``, ``s`` in ``kinds``."""
    import clarabel

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_feas = settings.tol_gap_abs = settings.tol_gap_rel = _TOL
    P = _empty(A.shape[1])
    try:
        solver = clarabel.DefaultSolver(P, c, A, b, kinds, settings)
    except (AttributeError, TypeError):  # a Clarabel that takes scipy matrices only
        solver = clarabel.DefaultSolver(P.to_scipy(), c, A.to_scipy(), b, kinds, settings)
    return solver.solve()


def solve_gp(sc: Scenario, *, retry_binding: bool = True) -> Solution:
    """Solve one scenario's GP with Clarabel.  ``retry_binding=False`` leaves an infeasible
    scenario's binding constraints unnamed (naming them takes a solve per constraint or two;
    ``name_binding`` does it on demand)."""
    sol = _memo(_solve_memo, sc, lambda: _solve(sc, None))
    sol = replace(sol, diagnostics=dict(sol.diagnostics))  # the remembered one stays as it was
    return name_binding(sc, sol) if retry_binding else sol


def _memo(cached, sc: Scenario, compute):
    """``cached(sc)`` (an LRU cache: a scenario is a frozen, hashable value, so the choice
    analyses that re-read the candidates' optima or binding constraints solve nothing
    again), or ``compute()`` for a scenario that cannot be hashed."""
    try:
        hash(sc)
    except TypeError:
        return compute()
    return cached(sc)


@functools.lru_cache(maxsize=1024)  # the largest example has 600 configurations
def _solve_memo(sc: Scenario) -> Solution:
    return _solve(sc, None)


@functools.lru_cache(maxsize=1024)
def _binding_memo(sc: Scenario) -> tuple[str, ...]:
    return _binding(sc)


def _solve(sc: Scenario, keep: frozenset | None) -> Solution:
    """The GP with only the constraints of index in ``keep`` (all when None)."""
    if sc.batch_size() != 1:
        raise ValueError("solve_gp takes one scenario; use solve_iso_loss for batches")
    if float(sc.loss.limit) <= float(sc.loss.E):
        return Solution(np.nan, np.nan, np.nan, "infeasible", "gp", message=_BELOW_E)
    A, b, c, kinds, (n0, d0) = cone_program(sc, keep)
    if keep is not None:  # a sub-problem of name_binding: its verdict only
        return _verdict(A, b, kinds)
    sol = _clarabel(A, b, c, kinds)
    status = str(sol.status)
    if status not in ("Solved", "AlmostSolved", *_INFEASIBLE):
        # no verdict (Clarabel can stall on an infeasible problem whose objective grows
        # without bound as the constraints are approached): ask the feasibility problem
        status = _verdict(A, b, kinds).diagnostics["clarabel_status"]
        if status not in _INFEASIBLE:  # feasible, and the cvxpy path finds the optimum
            from planner.optimize import gp

            out = gp.solve_gp(sc, retry_binding=False)
            return replace(out, diagnostics={**out.diagnostics, "clarabel_status": status})
    if status in _INFEASIBLE:
        return Solution(np.nan, np.nan, np.nan, "infeasible", "gp",
                        message="constraints cannot all hold",
                        diagnostics={"clarabel_status": status})
    params = math.exp(sol.x[0]) * n0
    tokens = math.exp(sol.x[1]) * d0
    active = tuple(con.name for con in sc.constraints
                   if float(con.slack(params, tokens)) < _ACTIVE)
    return Solution(params=params, tokens=tokens,
                    objective=float(sc.objective_value(params, tokens)), status="optimal",
                    solver="gp", message="" if status == "Solved" else "optimal_inaccurate",
                    active=active, diagnostics={"clarabel_status": status,
                                                "iterations": int(sol.iterations)})


def _verdict(A, b, kinds) -> Solution:
    """Whether ``A·z + s = b``, ``s`` in the cones, has a solution: the cone program without
    an objective (Clarabel then returns a point or a certificate of infeasibility)."""
    sol = _clarabel(A, b, np.zeros(A.shape[1]), kinds)
    status = str(sol.status)
    verdict = ("infeasible" if status in _INFEASIBLE
               else "optimal" if status in ("Solved", "AlmostSolved") else "failed")
    return Solution(np.nan, np.nan, np.nan, verdict, "gp", diagnostics={
        "clarabel_status": status})


def name_binding(sc: Scenario, sol: Solution) -> Solution:
    """``sol`` with the binding constraints of an infeasible scenario named (unchanged when it
    is feasible, has no constraints or binds nothing by them: a target at or below E)."""
    if sol.status != "infeasible" or not sc.constraints or sol.message == _BELOW_E:
        return sol
    names = binding(sc)
    return replace(sol, binding=names, message="constraints cannot all hold: " + ", ".join(names))


def binding(sc: Scenario) -> tuple[str, ...]:
    """An infeasible scenario's binding constraints (``_binding``, remembered per scenario)."""
    return _memo(_binding_memo, sc, lambda: _binding(sc))


def _binding(sc: Scenario) -> tuple[str, ...]:
    """An infeasible scenario's binding constraints, by the rule of ``planner.optimize.gp``
    (``binding_rule``).  Each test is one solve without the other constraints; one that ends
    without a verdict only leaves its constraint unnamed."""
    return binding_rule(sc, lambda keep: _solve(sc, frozenset(keep)).status)
