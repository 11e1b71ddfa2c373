"""One budget at several demand levels, set up from one stacked build.

The report's figures plan the budget at six other lifetime demands (×0.01 … ×100).  The
budgets differ only in numbers, so instead of building every serving configuration's cost
model once per level (216 for examples/chat-assistant.yaml), the configurations are built once
from ``planner.optimize.stacked.stacked_view`` (a number that differs between the levels reads
as an array of their values) and each level's scenarios are the build's coefficients at that
level (``scenario_at``).  A level's problem then carries scenarios only (no cost model): the
figures and the stacked solve read nothing else.

Where the stacked build cannot express the levels (``Unstackable``, a formula that branches on
a number, a law that is not a posynomial, a target at one level that cannot be reached) or a
level's configurations are not those of the build, the levels are prepared one at a time
(``prepare``), as before.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from planner.errors import PlannerError


def map_coefficients(sc, fn: Callable):
    """``sc`` with ``fn`` applied to every coefficient and limit (objective and constraint
    terms, the loss constraint, its extra terms)."""
    from planner.terms import Constraint, CostItem, PosyLoss, Term

    def term(t):
        return Term(fn(t.coef), t.n_exp, t.d_exp)

    def item(it):
        return CostItem(it.name, tuple(tuple(term(t) for t in p) for p in it.alternatives),
                        it.unit)

    p = sc.loss
    loss = None if p is None else PosyLoss(fn(p.E), fn(p.A), fn(p.alpha), fn(p.B), fn(p.beta),
                                           fn(p.limit))
    return replace(sc, loss=loss, objective=tuple(item(i) for i in sc.objective),
                   constraints=tuple(Constraint(c.name, item(c.item), fn(c.limit),
                                                c.description) for c in sc.constraints),
                   loss_extra=tuple(term(t) for t in sc.loss_extra))


def scenario_at(sc, j: int, points: int):
    """Level ``j`` of a stacked build's scenario: every coefficient that holds one value per
    level (an array of ``points``) at that level, the others as they are."""
    def pick(x):
        a = np.asarray(x)
        if a.ndim == 0:
            return x
        if a.shape != (points,):
            raise ValueError(f"a coefficient of shape {a.shape} in a build of {points} levels")
        return float(a[j])

    return map_coefficients(sc, pick)


def prepare_levels(budgets: Sequence) -> list:
    """Per budget (one budget at several demands): its ``Problem``, or the ``PlannerError``
    that preparing it raised.  The problems of a stacked build have candidates without cost
    models (``needs_prepare``): prepare such a level again before making a full plan of it."""
    stacked = _stacked(budgets)
    if stacked is not None:
        return stacked
    from planner.optimize import prepare

    out: list = []
    for b in budgets:
        try:
            out.append(prepare(b))
        except PlannerError as exc:
            out.append(exc)
    return out


def needs_prepare(problem) -> bool:
    """Whether ``problem`` came from a stacked build (scenarios only, no cost models)."""
    cands = getattr(problem, "candidates", ())
    return bool(cands) and cands[0].config is not None and cands[0].cost_model is None


def _stacked(budgets: Sequence):
    """The problems from one stacked build, or None where it does not apply."""
    from planner.optimize.align import align_candidates
    from planner.optimize.build import CandidateBuilder, resolve_law, target_loss
    from planner.optimize.problem import Problem
    from planner.optimize.stacked import Unstackable, stacked_view

    p = len(budgets)
    if p < 2 or not all(b.uses_hardware for b in budgets):
        return None  # FLOPs budgets have one cheap scenario each
    try:
        law = resolve_law(budgets[0])
        if not law.is_posynomial or getattr(law, "repeats_data", False):
            return None
        if any(resolve_law(b) != law for b in budgets[1:]):
            return None
        losses = [target_loss(b, law) for b in budgets]
        builder = CandidateBuilder(stacked_view(budgets), law, np.array(losses, dtype=float))
        cands = align_candidates([builder.build(k) for k in range(len(builder))])
        metas = [builder.meta(k) for k in range(len(builder))]
        out = []
        for j, b in enumerate(budgets):
            own = CandidateBuilder(b, law, losses[j])
            if len(own) != len(metas) or any(own.meta(k) != m for k, m in enumerate(metas)):
                return None
            level = tuple(replace(c, scenario=scenario_at(c.scenario, j, p), cost_model=None,
                                  budget=None) for c in cands)
            out.append(Problem(b, law, losses[j], level))
        return out
    except (Unstackable, PlannerError, TypeError, ValueError, ArithmeticError):
        return None


__all__ = ["map_coefficients", "needs_prepare", "prepare_levels", "scenario_at"]
