"""Everything the planning-review report shows, computed once and without drawing: the plan,
the demand study, sensitivity, the other serving configurations, nearby model sizes and the
figures' data.  ``planner.render.review`` writes it as Markdown, HTML and figures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from planner.budget import Budget, load_budget


@dataclass
class Review:
    """Everything the report shows, computed once (no drawing)."""

    budget: Budget
    problem: Any
    result: Any  # PlanResult
    study: dict
    sensitivity: Any
    configurations: list[dict]  # other serving configurations, cheapest first
    nearby: list[dict]  # nearby model sizes along the iso-loss curve
    data: dict = field(default_factory=dict)  # figure data by name
    notes: list[str] = field(default_factory=list)
    choices: list[dict] = field(default_factory=list)  # each hardware/draft option's best plan


def build_review(budget: Budget | str | Path, fraction: float = 0.2,
                 solver: Optional[str] = None, progress=None) -> Review:
    from planner.analysis import curves
    from planner.analysis.sensitivity import sensitivity
    from planner.optimize import prepare
    from planner.optimize.plans import optimize_problem, solver_name

    if not isinstance(budget, Budget):
        budget = load_budget(budget)
    problem = prepare(budget, lazy=True)  # configurations built as one batch, each on use
    notes: list[str] = []
    name = solver or budget.solver
    if name in ("auto", "iso_loss") and budget.uncertainty is None:
        # the study solves the budget itself among its demand levels, batched, exactly as
        # optimize() does (tests/test_sweep.py): take the plan from there
        study = curves.demand_study(budget, problem, None, progress=progress)
        result = study["results"][study["base_index"]] if study["base_index"] is not None \
            else optimize_problem(problem, solver_name(budget, solver))
        result.raise_for_status()
        study["base_result"] = result
    else:  # the prepared problem, solved as optimize() solves it (uncertainty, --solver gp)
        result = optimize_problem(problem, solver_name(budget, solver)).raise_for_status()
        study = curves.demand_study(budget, problem, result, progress=progress)
    if progress:
        progress("sensitivity", 0, 1)
    sens = sensitivity(budget, fraction, solver, problem=problem, result=result)
    if progress:
        progress("sensitivity", 1, 1)
    review = Review(budget, problem, result, study, sens, _configurations(problem, study),
                    _nearby(problem, result), notes=notes,
                    choices=list(getattr(result, "alternatives", ())))
    review.data["cost_vs_params"] = curves.cost_vs_params_data(study)
    review.data["frontier"] = curves.frontier_data(problem, result)
    review.data["contours"] = curves.contour_data(study)
    notes += [f"sensitivity: {n}" for n in sens.notes]
    return review


def _configurations(problem, study) -> list[dict]:
    """Each serving configuration's own optimum (budgets with discrete choices)."""
    if len(problem.candidates) < 2:
        return []
    outcome, i = study.get("outcome"), study.get("base_index")
    if outcome is None or i is None or outcome.candidate_objectives[i] is None:
        return []
    obj = outcome.candidate_objectives[i]
    best = float(np.min(obj))
    rows = []
    for k in np.argsort(obj, kind="stable"):
        if not np.isfinite(obj[k]):
            continue
        rows.append({"configuration": problem.candidates[k].label(),
                     "params": float(outcome.candidate_params[i][k]),
                     "train_tokens": float(outcome.candidate_tokens[i][k]),
                     "objective": float(obj[k]), "premium": float(obj[k]) / best - 1.0})
    return rows


def _nearby(problem, result) -> list[dict]:
    """Cost of smaller and larger models at the same loss (the cheapest configuration that
    holds the constraints at each size): how flat the optimum is."""
    from planner.analysis.curves import curve_costs

    n = result.plan.params
    factors = np.array([0.5, 1 / math.sqrt(2), 1.0, math.sqrt(2), 2.0])
    sizes = np.append(n * factors, result.baseline.params)
    c = curve_costs(problem, sizes)
    rows = []
    for j, size in enumerate(sizes):
        label = ("Chinchilla-optimal size" if j == len(sizes) - 1
                 else f"plan × {factors[j]:.2g}")
        obj = float(c["objective"][j])
        why = "" if math.isfinite(obj) else (
            "breaks a constraint" if c["reachable"][j] else "cannot reach the loss")
        rows.append({"label": label, "params": float(size), "train_tokens": float(c["tokens"][j]),
                     "objective": obj, "why": why,
                     "premium": obj / result.plan.objective - 1.0 if math.isfinite(obj)
                     else None})
    return rows
