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

Writing the cone program here instead of through cvxpy skips cvxpy's import (~1.2 s) and its
per-solve canonicalisation (~8 ms a solve); Clarabel's own solve is ~3 ms for a chat-assistant
configuration.  N, D and the objective are scaled as in ``planner.optimize.gp`` (the compute-
optimal point, the objective there), so the cone program is O(1).  ``planner.optimize.gp``
(the same program written in logs for cvxpy) is kept as the test oracle and as the fall-back
when Clarabel stops without a verdict here.  scipy.sparse and clarabel are imported lazily.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from planner.optimize.gp import _loss_terms, _scale
from planner.optimize.scenario import Scenario, Solution

# the cvxpy path's tolerances (planner.optimize.gp): the tests hold the GP to the 1-D solver
# at 1e-6 in cost
_TOL = 1e-10
_ACTIVE = 1e-5  # a constraint with a smaller fractional slack is reported active
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
        import scipy.sparse as sp

        rows = self.linear + self.expo
        r, c, v = [], [], []
        for i, (row, _) in enumerate(rows):
            for j, val in row.items():
                if val:
                    r.append(i)
                    c.append(j)
                    v.append(val)
        A = sp.csc_matrix((v, (r, c)), shape=(len(rows), self.n))
        b = np.array([bi for _, bi in rows])
        return A, b


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


def _clarabel(A, b, c, kinds):
    import clarabel
    import scipy.sparse as sp

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = _TOL
    n = A.shape[1]
    return clarabel.DefaultSolver(sp.csc_matrix((n, n)), c, A, b, kinds, settings).solve()


def solve_gp(sc: Scenario, *, retry_binding: bool = True) -> Solution:
    """Solve one scenario's GP with Clarabel.  ``retry_binding=False`` leaves an infeasible
    scenario's binding constraints unnamed (naming them takes a solve per constraint or two;
    ``name_binding`` does it on demand)."""
    sol = _solve(sc, None)
    return name_binding(sc, sol) if retry_binding else sol


def _solve(sc: Scenario, keep: frozenset | None) -> Solution:
    """The GP with only the constraints of index in ``keep`` (all when None)."""
    if sc.batch_size() != 1:
        raise ValueError("solve_gp takes one scenario; use solve_iso_loss for batches")
    if float(sc.loss.limit) <= float(sc.loss.E):
        return Solution(np.nan, np.nan, np.nan, "infeasible", "gp", message=_BELOW_E)
    A, b, c, kinds, (n0, d0) = cone_program(sc, keep)
    sol = _clarabel(A, b, c, kinds)
    status = str(sol.status)
    if status in ("PrimalInfeasible", "AlmostPrimalInfeasible"):
        return Solution(np.nan, np.nan, np.nan, "infeasible", "gp",
                        message="constraints cannot all hold",
                        diagnostics={"clarabel_status": status})
    if status not in ("Solved", "AlmostSolved"):
        if keep is not None:  # a sub-solve of name_binding: no verdict
            return Solution(np.nan, np.nan, np.nan, "failed", "gp", message=status)
        # no verdict (numerical trouble, iteration limit): the cvxpy path decides (and if
        # Clarabel fails there too, names the 1-D solver's proof of infeasibility)
        from planner.optimize import gp

        out = gp.solve_gp(sc, retry_binding=False)
        return Solution(out.params, out.tokens, out.objective, out.status, "gp", out.message,
                        out.active, out.binding, {**out.diagnostics, "clarabel_status": status})
    params = math.exp(sol.x[0]) * n0
    tokens = math.exp(sol.x[1]) * d0
    active = tuple(con.name for con in sc.constraints
                   if float(con.slack(params, tokens)) < _ACTIVE)
    return Solution(params=params, tokens=tokens,
                    objective=float(sc.objective_value(params, tokens)), status="optimal",
                    solver="gp", message="" if status == "Solved" else "optimal_inaccurate",
                    active=active, diagnostics={"clarabel_status": status,
                                                "iterations": int(sol.iterations)})


def name_binding(sc: Scenario, sol: Solution) -> Solution:
    """``sol`` with the binding constraints of an infeasible scenario named (unchanged when it
    is feasible, has no constraints or binds nothing by them: a target at or below E)."""
    if sol.status != "infeasible" or not sc.constraints or sol.message == _BELOW_E:
        return sol
    names = binding(sc)
    return replace(sol, binding=names, message="constraints cannot all hold: " + ", ".join(names))


def binding(sc: Scenario) -> tuple[str, ...]:
    """An infeasible scenario's binding constraints: those infeasible on their own with the
    loss target, else those whose removal makes it feasible, else all of them (the rule of
    ``planner.optimize.gp``).  Each test is one solve without the other constraints; one that
    ends without a verdict only leaves its constraint unnamed."""
    k = len(sc.constraints)

    def status(keep) -> str:
        return _solve(sc, frozenset(keep)).status

    names = [con.name for j, con in enumerate(sc.constraints) if status({j}) == "infeasible"]
    if names:
        return tuple(names)
    names = [con.name for j, con in enumerate(sc.constraints)
             if status(set(range(k)) - {j}) == "optimal"]
    return tuple(names) or tuple(con.name for con in sc.constraints)
