"""One budget at several demand levels, set up from one stacked build.

The report's figures plan the budget at six other lifetime demands (×0.01 … ×100).  The
budgets differ only in numbers, so instead of building every serving configuration's cost
model once per level (216 for examples/chat-assistant.yaml), the configurations are built once
from ``planner.optimize.stacked.stacked_view`` (a number that differs between the levels reads
as an array of their values), stacked into one batch scenario of (configurations × levels)
entries and solved by one vectorised 1-D solve; a level's scenarios are sliced out of the
batch for its figure (``StackedLevels.level``).

Where the stacked build cannot express the levels (``Unstackable``, a formula that branches on
a number, a law that is not a posynomial, a target at one level that cannot be reached) or a
level's configurations are not those of the build, ``stack_levels`` gives None and the levels
are prepared one at a time (``prepare``), as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Sequence

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


@dataclass(frozen=True)
class StackedLevels:
    """Budgets of one budget at several demands, built as one: ``scenario`` holds every
    configuration at every level, configuration-major (entry ``q·P + j`` is configuration
    ``q`` at level ``j`` of ``P``); ``candidates`` are the build's configurations (their
    coefficients one per level, no per-level cost model)."""

    budgets: tuple
    law: Any
    losses: tuple
    candidates: tuple
    scenario: Any

    @property
    def points(self) -> int:
        return len(self.budgets)

    def level(self, j: int):
        """The batch scenario of every configuration at level ``j`` (entry ``q``:
        configuration ``q``), what ``curves.curve_costs`` reads."""
        p = self.points
        return map_coefficients(self.scenario, lambda x: np.asarray(x)[j::p]
                                if np.ndim(x) else x)

    def solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each configuration's optimum at each level, one vectorised 1-D solve: objective
        (inf where infeasible), N and D, arrays of shape (configurations, levels)."""
        from planner.optimize.iso_loss import solve_iso_loss

        k, p = len(self.candidates), self.points
        sol = solve_iso_loss(self.scenario)
        status = np.asarray(sol.status).reshape(k, p)
        obj = np.where(status == "optimal", np.asarray(sol.objective, float).reshape(k, p),
                       np.inf)
        return (obj, np.asarray(sol.params, float).reshape(k, p),
                np.asarray(sol.tokens, float).reshape(k, p))

    def own_cost(self, j: int, best: int, params: float, tokens: float) -> float:
        """The lifetime cost of (N, D) in configuration ``best``, built from level ``j``'s own
        budget alone (to check the stacked build against)."""
        from planner.optimize.build import CandidateBuilder

        own = CandidateBuilder(self.budgets[j], self.law, self.losses[j]).build(best)
        return float(own.scenario.objective_value(params, tokens))


@dataclass(frozen=True)
class Level:
    """Level ``j`` of a stacked build, standing where its prepared ``Problem`` would."""

    levels: StackedLevels
    j: int

    @property
    def budget(self):
        return self.levels.budgets[self.j]


def stack_levels(budgets: Sequence) -> Optional[StackedLevels]:
    """The levels as one stacked build, or None where it does not apply (no hardware: one
    cheap scenario each; a law that is not a posynomial; numbers the build cannot express;
    levels whose configurations differ): prepare those one at a time."""
    from planner.optimize.align import align_candidates
    from planner.optimize.build import CandidateBuilder, resolve_law, target_loss
    from planner.optimize.scenario import stack_scenarios
    from planner.optimize.stacked import Unstackable, stacked_view

    p = len(budgets)
    if p < 2 or not all(b.uses_hardware for b in budgets):
        return None
    try:
        law = resolve_law(budgets[0])
        if not law.is_posynomial or getattr(law, "repeats_data", False):
            return None
        if any(resolve_law(b) != law for b in budgets[1:]):
            return None
        losses = tuple(target_loss(b, law) for b in budgets)
        builder = CandidateBuilder(stacked_view(budgets), law, np.array(losses, dtype=float))
        cands = tuple(align_candidates([builder.build(k) for k in range(len(builder))]))
        metas = [builder.meta(k) for k in range(len(builder))]
        for j, b in enumerate(budgets):
            own = CandidateBuilder(b, law, losses[j])
            if len(own) != len(metas) or any(own.meta(k) != m for k, m in enumerate(metas)):
                return None
        scenario = stack_scenarios(c.scenario for c in cands)
        if scenario.batch_size() != len(cands) * p:
            return None
        return StackedLevels(tuple(budgets), law, losses, cands, scenario)
    except (Unstackable, PlannerError, TypeError, ValueError, ArithmeticError):
        return None


__all__ = ["Level", "StackedLevels", "map_coefficients", "stack_levels"]
