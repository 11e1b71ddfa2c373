"""What to minimise, subject to what: the solver-facing problem.

minimise   Σ objective items(N, D)
subject to E + A·N^-α + B·D^-β + Σ loss_extra(N, D) ≤ limit      (the loss target, posynomial form)
           item_k(N, D) ≤ limit_k                                  (constraints)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.laws import PosyLoss
from planner.optimize.terms import Constraint, CostItem, Term


@dataclass(frozen=True)
class Scenario:
    """A planning problem in the monomial-term form both solvers read.

    ``loss_extra`` terms are added to the loss left-hand side (e.g. a quantisation penalty
    ``k·D^βq·N^-αq`` at fixed bits).  Coefficients may be arrays for a batch of scenarios of the
    same structure; ``params_range`` brackets the 1-D solver's search (parameters).
    """

    loss: PosyLoss
    objective: tuple[CostItem, ...]
    constraints: tuple[Constraint, ...] = ()
    loss_extra: tuple[Term, ...] = ()
    objective_unit: str = "flops"
    params_range: tuple[float, float] = (1.0e4, 1.0e17)

    def objective_value(self, params, tokens):
        total = 0.0
        for item in self.objective:
            total = total + item.value(params, tokens)
        return total

    def loss_lhs(self, params, tokens):
        """Left-hand side of the loss constraint (posynomial space)."""
        p = self.loss
        out = p.E + p.A * np.asarray(params, float) ** (-p.alpha) + p.B * np.asarray(
            tokens, float
        ) ** (-p.beta)
        for t in self.loss_extra:
            out = out + t.value(params, tokens)
        return out

    def batch_size(self) -> int:
        arrays = [self.loss.limit, self.loss.E, self.loss.A, self.loss.B]
        arrays += [t.coef for item in self.objective for p in item.alternatives for t in p]
        arrays += [c.limit for c in self.constraints]
        return int(np.broadcast(*[np.asarray(a) for a in arrays]).size)


@dataclass(frozen=True)
class Solution:
    """A solver's answer (scipy-style result): the optimum, status and diagnostics.

    Fields are scalars for one scenario and arrays for a batch.  ``status`` is ``'optimal'`` or
    ``'infeasible'``; ``binding`` names the constraints that make a scenario infeasible.
    """

    params: Any
    tokens: Any
    objective: Any
    status: Any
    solver: str
    message: str = ""
    active: tuple[str, ...] = ()
    binding: tuple[str, ...] = ()
    diagnostics: dict = field(default_factory=dict)
