"""Solvers, what each accepts, and the choice among a problem's candidate configurations.

* ``iso_loss``: the vectorised 1-D solver on the iso-loss curve (any law: posynomial laws by
  ``planner.optimize.iso_loss``, others by the nested solve of ``planner.optimize.nested``);
* ``gp``: the geometric program in exponential-cone form, solved by Clarabel
  (``planner.optimize.gp_conic``; posynomial problems only).

Every solve returns a ``Solution`` with a status; nothing raises for an infeasible problem.
"""

from __future__ import annotations

import numpy as np

from planner.errors import InputError
from planner.optimize.scenario import Scenario, Solution

SOLVERS = ("iso_loss", "gp")


def accepts(solver: str, scenario: Scenario) -> bool:
    """Whether ``solver`` can read ``scenario`` (the GP solver needs a posynomial problem)."""
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    return solver == "iso_loss" or scenario.posynomial


def solve(scenario: Scenario, solver: str = "iso_loss") -> Solution:
    """Solve a scenario with ``'gp'`` (the exponential-cone GP) or ``'iso_loss'`` (1-D on the
    curve).  ``status`` is ``'unsupported'`` when the solver cannot read the scenario."""
    if not accepts(solver, scenario):
        return Solution(np.nan, np.nan, np.nan, "unsupported", solver,
                        message="the gp solver needs a posynomial loss constraint")
    if not scenario.posynomial:
        from planner.optimize.nested import solve_nested

        sol = solve_nested(scenario, "brent")
        return Solution(sol.params, sol.tokens, sol.objective, sol.status, "iso_loss",
                        sol.message, sol.active, sol.binding, sol.diagnostics)
    if solver == "gp":
        from planner.optimize.gp_conic import solve_gp

        return solve_gp(scenario)
    from planner.optimize.iso_loss import solve_iso_loss

    return solve_iso_loss(scenario)


def check_solve(scenario: Scenario, solver: str) -> Solution:
    """The independent second solve behind ``--check``: the other solver for a posynomial
    problem; the nested solve refined by the slope's sign (instead of Brent's search) for a
    problem that is not one."""
    if scenario.posynomial:
        return solve(scenario, "gp" if solver == "iso_loss" else "iso_loss")
    from planner.optimize.nested import solve_nested

    return solve_nested(scenario, "slope")


def _active(sc: Scenario, n: float, d: float, tol: float = 1e-6) -> tuple[str, ...]:
    return tuple(c.name for c in sc.constraints if abs(float(c.slack(n, d))) < tol)


def solve_each(scenarios, solver: str = "iso_loss") -> list[Solution]:
    """``solve`` of each scenario, except that infeasible GP solves leave their binding
    constraints unnamed (``planner.optimize.gp_conic.name_binding`` names them: a solve per
    constraint or two each), for callers that want the optima only."""
    scenarios = list(scenarios)
    if solver == "gp" and all(sc.posynomial for sc in scenarios):
        from planner.optimize.gp_conic import solve_gp

        return [solve_gp(sc, retry_binding=False) for sc in scenarios]
    return [solve(sc, solver) for sc in scenarios]


def _gp_candidates(scenarios) -> list[Solution]:
    """The GP of every candidate.  Infeasible candidates' binding constraints are named only
    when no candidate is feasible; otherwise the cheapest feasible candidate is the answer and
    they are not reported."""
    from planner.optimize.gp_conic import name_binding

    sols = solve_each(scenarios, "gp")
    if any(s.status == "optimal" for s in sols):
        return sols
    return [name_binding(sc, s) for sc, s in zip(scenarios, sols)]


def solve_candidates(problem, solver: str = "iso_loss", check: bool = False
                     ) -> tuple[Solution, int]:
    """Solve every candidate and return the cheapest feasible solution with its index (one
    stacked batch for posynomial problems with ``iso_loss``, a loop otherwise).  Ties go to
    the earlier candidate (more bits, no speculation, fewer GPUs).  ``check=True`` uses the
    independent second method (``check_solve``)."""
    cands = problem.candidates
    one = check_solve if check else solve
    if len(cands) == 1:
        return one(cands[0].scenario, solver), 0
    posynomial = problem.posynomial
    # the solver that runs: --check on a posynomial problem runs the other one
    runs = ("gp" if solver == "iso_loss" else "iso_loss") if check and posynomial else solver
    stacked = None
    if runs == "iso_loss" and posynomial:
        try:
            stacked = problem.stackable
        except ValueError:  # structures differ (drafts sized both ways): a batch per structure
            from planner.optimize.choices import solve_by_structure

            return solve_by_structure(problem)
    if stacked is not None:
        from planner.optimize.iso_loss import solve_iso_loss

        batch = solve_iso_loss(stacked)
        obj = np.where(batch.status == "optimal", batch.objective, np.inf)
        k = int(np.argmin(obj))
        if not np.isfinite(obj[k]):
            return Solution(np.nan, np.nan, np.nan, "infeasible", "iso_loss",
                            message=batch.message, binding=batch.binding), 0
        n, d = float(batch.params[k]), float(batch.tokens[k])
        return Solution(n, d, float(batch.objective[k]), "optimal", "iso_loss",
                        active=_active(cands[k].scenario, n, d),
                        diagnostics={**batch.diagnostics, "candidates": len(cands)}), k
    if runs == "gp" and posynomial:
        sols = _gp_candidates([c.scenario for c in cands])
    else:
        sols = [one(c.scenario, solver) for c in cands]
    if any(s.status == "unsupported" for s in sols):
        return next(s for s in sols if s.status == "unsupported"), 0
    obj = [s.objective if s.status == "optimal" else np.inf for s in sols]
    k = int(np.argmin(obj))
    if not np.isfinite(obj[k]):
        binding: list[str] = []
        for s in sols:
            binding += [b for b in s.binding if b not in binding]
        messages = {s.message for s in sols if s.message}
        message = ("constraints cannot all hold: " + ", ".join(binding) if binding
                   else "; ".join(sorted(messages)) or "infeasible")
        return Solution(np.nan, np.nan, np.nan, "infeasible", sols[0].solver,
                        message=message, binding=tuple(binding)), 0
    best = sols[k]
    return Solution(best.params, best.tokens, best.objective, best.status, best.solver,
                    best.message, best.active, best.binding,
                    {**best.diagnostics, "candidates": len(cands)}), k
