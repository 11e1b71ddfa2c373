"""What to minimise, subject to what: the whole problem the solvers read.

minimise   Σ objective items(N, D)
subject to loss constraint (the target)                         (``loss_constraint``)
           item_k(N, D) ≤ limit_k                                 (constraints)

The loss constraint is ``E + A·N^-α + B·D^-β + Σ loss_extra(N, D) ≤ limit`` for posynomial
laws (``loss`` holds it), or any law's iso-loss curve (``curve``, e.g. repeated data), which the
GP solver cannot read (``posynomial`` is False).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

import numpy as np

from planner.terms import Constraint, CostItem, PosyLoss, Term


@dataclass(frozen=True)
class Scenario:
    """A planning problem in the monomial-term form both solvers read.

    ``loss`` is the loss constraint in posynomial form (None when the law is not a
    posynomial); ``loss_extra`` terms are added to its left-hand side (e.g. a quantisation
    penalty ``k·D^βq·N^-αq`` at fixed bits); ``curve`` is the loss constraint of a law that is
    not a posynomial (``planner.laws.curve.GeneralCurve``).  Coefficients may be arrays for a
    batch of scenarios of the same structure; ``params_range`` brackets the 1-D search (N).
    """

    loss: Optional[PosyLoss]
    objective: tuple[CostItem, ...]
    constraints: tuple[Constraint, ...] = ()
    loss_extra: tuple[Term, ...] = ()
    objective_unit: str = "flops"
    params_range: tuple[float, float] = (1.0e4, 1.0e17)
    curve: Any = None

    @property
    def posynomial(self) -> bool:
        """Whether the whole problem is a geometric program (the GP solver can read it)."""
        return self.curve is None or bool(self.curve.posynomial)

    @property
    def loss_constraint(self):
        """The loss constraint with its iso-loss curve: ``tokens(N)``, ``dlog_tokens(N)``,
        ``params_for_tokens(D)``, ``lhs(N, D)`` and ``limit``."""
        if self.curve is not None:
            return self.curve
        from planner.laws.curve import PosynomialCurve

        shape = np.broadcast_shapes(*[np.shape(x) for x in (
            self.loss.E, self.loss.A, self.loss.B, self.loss.alpha, self.loss.beta,
            self.loss.limit)], *[np.shape(t.coef) for t in self.loss_extra])
        return PosynomialCurve(self.loss, self.loss_extra, shape, float(np.log(
            self.params_range[1])))
    def objective_value(self, params, tokens):
        total = 0.0
        for item in self.objective:
            total = total + item.value(params, tokens)
        return total

    def loss_lhs(self, params, tokens):
        """Left-hand side of the loss constraint (posynomial space for posynomial laws)."""
        if self.curve is not None:
            return self.curve.lhs(params, tokens)
        p = self.loss
        out = p.E + p.A * np.asarray(params, float) ** (-p.alpha) + p.B * np.asarray(
            tokens, float
        ) ** (-p.beta)
        for t in self.loss_extra:
            out = out + t.value(params, tokens)
        return out

    def batch_size(self) -> int:
        """How many scenarios this batch holds (1 where every number is a scalar)."""
        arrays = [] if self.loss is None else [self.loss.limit, self.loss.E, self.loss.A,
                                               self.loss.B]
        arrays += [t.coef for item in self.objective for p in item.alternatives for t in p]
        arrays += [c.limit for c in self.constraints]
        arrays += [t.coef for c in self.constraints for p in c.item.alternatives for t in p]
        arrays += [t.coef for t in self.loss_extra]
        shaped = [a for a in arrays if type(a) is not float and type(a) is not int]
        if not shaped:  # Python numbers only: one scenario
            return 1
        return int(np.prod(np.broadcast_shapes(*[np.shape(a) for a in shaped])))


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


def stack_scenarios(scenarios) -> Scenario:
    """One batch Scenario from scenarios of identical structure (exponents, layout, names):
    coefficients, loss constants and limits become arrays, for one vectorised 1-D solve.
    A scenario that is itself a batch (1-D array coefficients, e.g. a sweep's stacked points)
    contributes its entries in order: the result's entries are the scenarios' concatenated.

    Raises ``ValueError`` when the structures differ.
    """
    from dataclasses import replace

    from planner.terms import Constraint, CostItem, PosyLoss, Term

    scenarios = list(scenarios)
    first = scenarios[0]
    if not all(sc.posynomial for sc in scenarios):
        raise ValueError("scenarios of a law that is not a posynomial do not stack")
    sizes = [sc.batch_size() for sc in scenarios]
    single = all(n == 1 for n in sizes)
    cuts = np.cumsum([0] + sizes).tolist()

    def flat(values) -> np.ndarray:
        if single:  # one entry each: scalars, or arrays of one entry
            return np.array(values, dtype=float).reshape(-1)
        out = np.empty(cuts[-1])
        for v, a, b in zip(values, cuts[:-1], cuts[1:]):
            out[a:b] = np.reshape(v, -1) if np.ndim(v) > 1 else v  # a value or b − a of them
        return out

    def terms(ts):
        ts = list(ts)
        exps = {(t.n_exp, t.d_exp) for t in ts}
        if len(exps) != 1:
            raise ValueError("scenarios differ in structure (term exponents)")
        return Term(flat([t.coef for t in ts]), ts[0].n_exp, ts[0].d_exp)

    def items(its):
        its = list(its)
        if len({(it.name, len(it.alternatives)) for it in its}) != 1 or len(
                {tuple(len(p) for p in it.alternatives) for it in its}) != 1:
            raise ValueError("scenarios differ in structure (cost items)")
        alts = tuple(
            tuple(terms(it.alternatives[a][k] for it in its)
                  for k in range(len(its[0].alternatives[a])))
            for a in range(len(its[0].alternatives))
        )
        return CostItem(its[0].name, alts, its[0].unit)

    for sc in scenarios:
        if (len(sc.objective), len(sc.constraints), len(sc.loss_extra)) != (
                len(first.objective), len(first.constraints), len(first.loss_extra)):
            raise ValueError("scenarios differ in structure (item counts)")
    col = lambda f: flat([f(sc) for sc in scenarios])  # noqa: E731
    loss = PosyLoss(col(lambda s: s.loss.E), col(lambda s: s.loss.A),
                    col(lambda s: s.loss.alpha), col(lambda s: s.loss.B),
                    col(lambda s: s.loss.beta), col(lambda s: s.loss.limit))
    objective = tuple(items(sc.objective[i] for sc in scenarios)
                      for i in range(len(first.objective)))
    constraints = []
    for i, c in enumerate(first.constraints):
        cs = [sc.constraints[i] for sc in scenarios]
        if len({x.name for x in cs}) != 1:
            raise ValueError("scenarios differ in structure (constraint names)")
        constraints.append(Constraint(c.name, items(x.item for x in cs),
                                      flat([x.limit for x in cs]),
                                      c.description))
    extra = tuple(terms(sc.loss_extra[i] for sc in scenarios)
                  for i in range(len(first.loss_extra)))
    return replace(first, loss=loss, objective=objective, constraints=tuple(constraints),
                   loss_extra=extra)


def map_coefficients(sc: Scenario, fn: Callable) -> Scenario:
    """``sc`` with ``fn`` applied to every coefficient and limit (objective and constraint
    terms, the loss constraint, its extra terms): e.g. one point's entries of a batch."""

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
