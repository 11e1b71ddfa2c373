"""Many problems at once: stacked ``solve_iso_loss`` calls over problems whose scenarios share
one structure (exponents, layout, names), and ``optimize_many``, the batch form of
``optimize()`` that sweeps and comparisons use.  Returns results, never exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from planner.budget import Budget
from planner.errors import InfeasibleError, PlannerError
from planner.plan import PlanResult

Progress = Callable[[str, int, int], None]  # (stage, done, total)
CHUNK_SCENARIOS = 65536  # scenarios per vectorised solve call (bounds memory, feeds progress)


# ---- batch solving --------------------------------------------------------------------------
def _signature(problem) -> tuple:
    """What must match for problems to stack: their candidates' count and the structure of
    their stacked scenario (exponents, layout, names)."""
    sc = problem.stackable
    return (len(problem.candidates), sc.objective_unit, sc.params_range,
            tuple((it.name, it.structure()) for it in sc.objective),
            tuple((k.name, k.item.structure()) for k in sc.constraints),
            tuple((float(t.n_exp), float(t.d_exp)) for t in sc.loss_extra))


def _stackable(problem) -> bool:
    """Whether the problem's candidates stack into one batch (``Problem.stackable``)."""
    if not problem.posynomial:
        return False
    try:
        problem.stackable
    except ValueError:  # candidates of several structures: one at a time
        return False
    return True


@dataclass
class BatchOutcome:
    """Per problem: ``(Solution, best candidate index)`` or None where the batch could not
    decide (infeasible, at the search cap, unstackable): solve those one at a time."""

    solutions: list
    candidate_objectives: list  # per problem: array of each candidate's optimum (inf: none)
    candidate_params: list  # per problem: array of each candidate's optimal N
    candidate_tokens: list  # per problem: array of each candidate's optimal D
    batched: int = 0
    groups: int = 0


def solve_problems(problems: Sequence, progress: Optional[Progress] = None) -> BatchOutcome:
    """Solve many prepared problems with stacked ``solve_iso_loss`` calls (one per structure
    group and chunk), choosing the cheapest feasible candidate of each as ``solve_candidates``
    does."""
    from planner.optimize.iso_loss import solve_iso_loss
    from planner.optimize.scenario import Solution, stack_scenarios

    sols: list = [None] * len(problems)
    cand_obj: list = [None] * len(problems)
    cand_n: list = [None] * len(problems)
    cand_d: list = [None] * len(problems)
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(problems):
        if p is not None and _stackable(p):
            groups.setdefault(_signature(p), []).append(i)
    total = sum(len(problems[i].candidates) for idx in groups.values() for i in idx)
    done = batched = 0
    for idx in groups.values():
        k = len(problems[idx[0]].candidates)
        per_chunk = max(1, CHUNK_SCENARIOS // k)
        for start in range(0, len(idx), per_chunk):
            chunk = idx[start:start + per_chunk]
            try:
                stacked = stack_scenarios(problems[i].stackable for i in chunk)
            except ValueError:
                continue  # structures differ after all: one at a time
            batch = solve_iso_loss(stacked)
            status = np.asarray(batch.status).reshape(len(chunk), k)
            obj = np.where(status == "optimal",
                           np.asarray(batch.objective, float).reshape(len(chunk), k), np.inf)
            params = np.asarray(batch.params, float).reshape(len(chunk), k)
            tokens = np.asarray(batch.tokens, float).reshape(len(chunk), k)
            diag = {"method": batch.diagnostics.get("method", "bisection"),
                    "batch": len(chunk) * k, "batched": True}
            if k > 1:
                diag["candidates"] = k
            for j, i in enumerate(chunk):
                cand_obj[i], cand_n[i], cand_d[i] = obj[j], params[j], tokens[j]
                b = int(np.argmin(obj[j]))
                sc = problems[i].candidates[b].scenario
                n, d = float(params[j, b]), float(tokens[j, b])
                if not np.isfinite(obj[j, b]) or n >= sc.params_range[1] * (1 - 1e-5):
                    continue  # let optimize() word the infeasibility / search-cap message
                active = tuple(c.name for c in sc.constraints
                               if abs(float(c.slack(n, d))) < 1e-6)
                sols[i] = (Solution(n, d, float(obj[j, b]), "optimal", "iso_loss",
                                    active=active, diagnostics=dict(diag)), b)
                batched += 1
            done += len(chunk) * k
            if progress:
                progress("solve", done, total)
    return BatchOutcome(sols, cand_obj, cand_n, cand_d, batched, len(groups))


def error_result(budget: Optional[Budget], exc: PlannerError, solver: str = "") -> PlanResult:
    """The ``PlanResult`` standing for a budget that could not be planned: ``infeasible`` for
    an ``InfeasibleError``, ``invalid`` for any other planner error."""
    status = "infeasible" if isinstance(exc, InfeasibleError) else "invalid"
    return PlanResult.failed(status, str(exc), solver=solver,
                             binding=getattr(exc, "binding", ()),
                             objective_unit=budget.objective if budget is not None else "",
                             budget_name=(budget.name or budget.source) if budget else None)


def optimize_many(budgets: Sequence[Optional[Budget]], solver: Optional[str] = None,
                  problems: Optional[Sequence] = None,
                  progress: Optional[Progress] = None, details: Optional[dict] = None,
                  jobs: Optional[int] = None) -> list[PlanResult]:
    """``optimize()`` over many budgets, batched where the structure allows.

    Returns one ``PlanResult`` per budget, never an exception: ``status`` says whether it is a
    plan (``optimal``), an ``infeasible`` or ``unsupported`` problem, or an ``invalid`` budget
    (``message`` says why).  ``problems`` may carry already-prepared problems (same order; a
    ``PlannerError`` where preparing failed; None to prepare here); ``details`` (a dict)
    receives the ``BatchOutcome`` under ``'outcome'`` (each candidate's optimum).  Budgets
    that differ only in numbers are planned from one stacked build per chunk
    (``planner.optimize.stacked_plans``; chunks in ``jobs`` processes, default one per CPU).
    """
    from planner.optimize.plans import (
        agrees_with_batch,
        optimize_problem,
        plan_result,
        solver_name,
    )
    from planner.optimize.problem import prepare

    n = len(budgets)
    if problems is None and details is None and n > 1 and all(
            b is not None and solver_name(b, solver) == "iso_loss" for b in budgets):
        from planner.optimize.stacked_plans import plan_stacked

        stacked = plan_stacked(budgets, progress, jobs)  # one build per chunk of like budgets
        rest = [i for i, r in enumerate(stacked) if r is None]
        if len(rest) < n:
            others = optimize_many([budgets[i] for i in rest], solver, progress=progress)
            for i, r in zip(rest, others):
                stacked[i] = r
            return stacked
    if problems is None:
        problems = []
        for i, b in enumerate(budgets):
            try:
                problems.append(prepare(b, lazy=True) if b is not None else None)
            except PlannerError as exc:
                problems.append(exc)
            if progress and (i % 256 == 0 or i == n - 1):
                progress("prepare", i + 1, n)
    problems = list(problems)
    usable = [p if not isinstance(p, Exception) and p is not None
              and solver_name(p.budget, solver) == "iso_loss" else None for p in problems]
    outcome = solve_problems(usable, progress)
    if details is not None:
        details["outcome"] = outcome
    out: list = []
    for i, p in enumerate(problems):
        if isinstance(p, Exception):
            out.append(error_result(budgets[i], p, solver or ""))
        elif p is None:
            out.append(PlanResult.failed("invalid", "no budget", solver=solver or ""))
        elif outcome.solutions[i] is not None:
            res = plan_result(p, *outcome.solutions[i], optima=(
                outcome.candidate_objectives[i], outcome.candidate_params[i],
                outcome.candidate_tokens[i]))
            if not agrees_with_batch(p, outcome.solutions[i][0], res):  # the batch was off
                res = optimize_problem(p.eager(), solver_name(p.budget, solver),
                                       uncertainty=False)
            out.append(res)
        else:
            try:
                out.append(optimize_problem(p, solver_name(p.budget, solver),
                                            uncertainty=False))
            except PlannerError as exc:
                out.append(error_result(budgets[i], exc, solver or ""))
        if progress and (i % 256 == 0 or i == n - 1):
            progress("plans", i + 1, n)
    return out
