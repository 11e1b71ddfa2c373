"""The shared vocabulary at the bottom of the planner: monomial cost terms in (N, D), cost
items, constraints, the posynomial loss constraint and the compute-optimal point.

Imports nothing of the planner.  Every solver, cost model and report reads these types.

A ``Term`` is ``coef · N^n_exp · D^d_exp``.  A ``CostItem`` is the max over alternatives of
posynomials (sums of terms): the decode roofline ``max(compute, memory)`` is such an item, plain
training FLOPs ``6·N·D`` is an item with one alternative of one term (the geometric-programming view: every cost is a
monomial, so the planning problem is a geometric program, Boyd et al. 2007, "A tutorial on
geometric programming").
Coefficients may be numpy arrays: a batch of scenarios with the same structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Any, NamedTuple

import numpy as np


def _pow(x, e):
    """``x**e`` with the cheap exponents special-cased (the 1-D solver's inner loop)."""
    if isinstance(e, (int, float)):
        if e == 0:
            return 1.0
        if e == 1:
            return x
        if e == -1:
            return 1.0 / x
    return x**e


class Term(NamedTuple):
    """``coef · N^n_exp · D^d_exp`` (coef in the item's unit).  Immutable; a named tuple
    because cost models build hundreds of thousands of them (5× cheaper than a dataclass)."""

    coef: Any
    n_exp: float = 0.0
    d_exp: float = 0.0

    def value(self, params, tokens):
        return self.coef * _pow(params, self.n_exp) * _pow(tokens, self.d_exp)

    def scaled(self, factor) -> "Term":
        return _new(Term, (self[0] * factor, self[1], self[2]))


Posynomial = tuple[Term, ...]

_new = tuple.__new__
"""``_new(Term, (coef, n_exp, d_exp))``: a Term without the Python-level ``__new__`` call
(the cost models build tens of thousands per plan)."""


def uniform(condition) -> bool:
    """``condition`` as one bool: a scalar's truth, or that of an array whose entries all
    agree (a batch of configurations grouped so that a formula's branch is the same for all
    of them, ``planner.optimize.build.CandidateBuilder.batch``).  ``ValueError`` where the
    entries differ."""
    if isinstance(condition, (bool, int, float)):
        return bool(condition)
    a = np.asarray(condition)
    if a.all():
        return True
    if not a.any():
        return False
    raise ValueError("a branch differs between the entries of a batch")


def scale_terms(p: Posynomial, factor) -> Posynomial:
    """Every term of ``p`` times ``factor`` (a number or an array)."""
    return tuple([_new(Term, (c * factor, n, d)) for c, n, d in p])


def merge_like_terms(p: Posynomial) -> Posynomial:
    """The same posynomial with like terms (equal exponents) summed, in first-seen order:
    fewer terms for the solvers, same values."""
    out: dict[tuple, Any] = {}
    get = out.get
    for t in p:
        key = (float(t[1]), float(t[2]))
        out[key] = get(key, 0.0) + t[0]
    return tuple([_new(Term, (c, n, d)) for (n, d), c in out.items()])


def posy_value(terms: Posynomial, params, tokens):
    total = 0.0
    for coef, n_exp, d_exp in terms:  # Term.value, inlined
        total = total + coef * _pow(params, n_exp) * _pow(tokens, d_exp)
    return total


def posy_dlog(terms: Posynomial, params, tokens, slope):
    """d(posynomial)/d(log N) along a curve with d(log D)/d(log N) = ``slope``."""
    total = 0.0
    for t in terms:
        if t.d_exp == 0:
            total = total + t.value(params, tokens) * t.n_exp
        else:
            total = total + t.value(params, tokens) * (t.n_exp + t.d_exp * slope)
    return total


@dataclass(frozen=True)
class CostItem:
    """A named cost: ``max`` over ``alternatives`` of posynomials in (N, D), in ``unit``."""

    name: str
    alternatives: tuple[Posynomial, ...]
    unit: str = "flops"

    @classmethod
    def monomial(cls, name: str, coef, n_exp=0.0, d_exp=0.0, unit="flops") -> "CostItem":
        return cls(name, ((Term(coef, n_exp, d_exp),),), unit)

    def value(self, params, tokens):
        vals = [posy_value(p, params, tokens) for p in self.alternatives]
        # np.maximum pairwise from the left: the values (and NaN propagation) of
        # np.maximum.reduce over the broadcast stack, without building the stack
        return vals[0] if len(vals) == 1 else reduce(np.maximum, vals)

    def dlog(self, params, tokens, slope):
        """Derivative along the iso-loss curve (of the largest alternative)."""
        if len(self.alternatives) == 1:
            return posy_dlog(self.alternatives[0], params, tokens, slope)
        vals = np.broadcast_arrays(*[posy_value(p, params, tokens) for p in self.alternatives])
        ders = np.broadcast_arrays(
            *[posy_dlog(p, params, tokens, slope) for p in self.alternatives]
        )
        pick = np.argmax(np.stack(vals), axis=0)
        return np.take_along_axis(np.stack(ders), pick[None, ...], axis=0)[0]

    def scaled(self, factor) -> "CostItem":
        return CostItem(self.name, tuple([scale_terms(p, factor) for p in self.alternatives]),
                        self.unit)

    def structure(self) -> tuple:
        """Exponents and layout: what a cached GP depends on (coefficients excluded)."""
        return tuple([tuple([(float(n), float(d)) for _, n, d in p]) for p in self.alternatives])

    @property
    def depends_on_tokens(self) -> bool:
        return any(t.d_exp != 0 for p in self.alternatives for t in p)


@dataclass(frozen=True)
class Constraint:
    """``item(N, D) ≤ limit``.  ``description`` says what it is for, in words, with units."""

    name: str
    item: CostItem
    limit: Any
    description: str = ""

    def slack(self, params, tokens):
        """Fractional slack ``1 − item/limit`` (0 when binding, negative when violated)."""
        return 1.0 - self.item.value(params, tokens) / self.limit


@dataclass(frozen=True)
class PosyLoss:
    """The loss constraint in posynomial form: ``E + A·N^-α + B·D^-β ≤ limit``.

    Chinchilla-form laws give it directly; Kaplan's law after raising both sides to 1/α_D.
    Fields may be arrays (a batch of scenarios of one structure).
    """

    E: Any
    A: Any
    alpha: Any
    B: Any
    beta: Any
    limit: Any


def allocation_constant(A, alpha, B, beta):
    """``G = (αA/(βB))^(1/(α+β))`` of the compute-optimal allocation (Hoffmann et al. 2022,
    arXiv 2203.15556, eq. 4): ``N_opt = G·(C/6)^(β/(α+β))``, ``D_opt = G⁻¹·(C/6)^(α/(α+β))``."""
    return (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))


def compute_optimal_allocation(A, alpha, B, beta, flops):
    """Compute-optimal ``(N, D)`` for a training budget of ``flops = 6·N·D`` (Hoffmann et al.
    2022, eq. 4), inference ignored."""
    G = allocation_constant(A, alpha, B, beta)
    c6 = np.asarray(flops, dtype=float) / 6.0
    return G * c6 ** (beta / (alpha + beta)), c6 ** (alpha / (alpha + beta)) / G


def compute_optimal_tokens(A, alpha, B, beta, params):
    """Tokens that make ``params`` compute-optimal (the inverse of ``N_opt(C)``)."""
    G = allocation_constant(A, alpha, B, beta)
    n = np.asarray(params, dtype=float)
    return (n / G) ** ((alpha + beta) / beta) / n


def compute_optimal_point(loss: PosyLoss):
    """The compute-optimal ``(N, D)`` on the iso-loss curve of ``loss`` (inference ignored).

    At the minimum of 6·N·D subject to ``A·N^-α + B·D^-β = limit − E`` the two reducible terms
    split the margin as ``A·N^-α = β/(α+β)·margin`` (Lagrange conditions on the Chinchilla form).
    Returns NaN where the margin is not positive.
    """
    margin = np.asarray(loss.limit, dtype=float) - loss.E
    with np.errstate(invalid="ignore", divide="ignore"):
        x0 = loss.beta * margin / (loss.alpha + loss.beta)
        n0 = np.where(margin > 0, (loss.A / np.where(margin > 0, x0, 1.0)) ** (1.0 / loss.alpha),
                      np.nan)
        d0 = np.where(margin > 0, (loss.B / np.where(margin > 0, margin - x0, 1.0))
                      ** (1.0 / loss.beta), np.nan)
    if np.ndim(n0) == 0:
        return float(n0), float(d0)
    return n0, d0
