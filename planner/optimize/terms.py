"""Monomial cost terms in (N, D): the one representation every solver and report reads.

A ``Term`` is ``coef · N^n_exp · D^d_exp``.  A ``CostItem`` is the max over alternatives of
posynomials (sums of terms): the decode roofline ``max(compute, memory)`` is such an item, plain
training FLOPs ``6·N·D`` is an item with one alternative of one term (DESIGN.md, "The one idea").
Coefficients may be numpy arrays: a batch of scenarios with the same structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Term:
    """``coef · N^n_exp · D^d_exp`` (coef in the item's unit)."""

    coef: Any
    n_exp: float = 0.0
    d_exp: float = 0.0

    def value(self, params, tokens):
        return self.coef * _pow(params, self.n_exp) * _pow(tokens, self.d_exp)

    def scaled(self, factor) -> "Term":
        return Term(self.coef * factor, self.n_exp, self.d_exp)


Posynomial = tuple[Term, ...]


def posy_value(terms: Posynomial, params, tokens):
    total = 0.0
    for t in terms:
        total = total + t.value(params, tokens)
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
        return vals[0] if len(vals) == 1 else np.maximum.reduce(np.broadcast_arrays(*vals))

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
        return CostItem(
            self.name, tuple(tuple(t.scaled(factor) for t in p) for p in self.alternatives),
            self.unit,
        )

    def structure(self) -> tuple:
        """Exponents and layout: what a cached GP depends on (coefficients excluded)."""
        return tuple(
            tuple((float(t.n_exp), float(t.d_exp)) for t in p) for p in self.alternatives
        )

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
