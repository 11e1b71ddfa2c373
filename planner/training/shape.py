"""Model shape from N under a width/depth rule with partial pins (monomials in N).

Rule (the planner's, ``planner.costs.shape``): ``N = 12·n_layer·d_model²`` (non-embedding
parameters of a transformer with a 4× MLP; Kaplan et al. 2020, arXiv 2001.08361, Table 1),
``d_model = 128·n_layer``, head size 128, ``n_kv_heads = n_heads/8``.  A budget may pin one of
``n_layer``, ``d_model`` or the aspect ratio ``d_model/n_layer`` (``model: {n_layer: 48}``
without ``params``); the other follows from ``N = 12·n_layer·d_model²``, so each stays a
monomial ``c·N^e`` in N and every memory term built from it stays a posynomial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from planner.costs.shape import RULE_ASPECT, RULE_GQA, RULE_HEAD_DIM
from planner.plain import as_plain

PARAMS_PER_LAYER_D2 = 12  # N = 12·n_layer·d_model²


@dataclass(frozen=True)
class ModelShape:
    """A concrete shape (integers) and the non-embedding parameters it implies."""

    n_layer: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: Optional[int]
    shape_params: float  # 12·n_layer·d_model² (non-embedding)
    rule: str

    def to_dict(self) -> dict:
        return as_plain(self)


@dataclass(frozen=True)
class ShapeRule:
    """``n_layer = cL·N^eL``, ``d_model = cd·N^ed`` (real-valued), heads from head size or a
    pinned head count, KV heads from a GQA ratio or a pinned count."""

    n_layer_coef: float
    n_layer_exp: float
    d_model_coef: float
    d_model_exp: float
    head_dim: Optional[int] = RULE_HEAD_DIM  # None when n_heads is pinned
    n_heads: Optional[int] = None
    gqa_ratio: Optional[int] = RULE_GQA  # None when n_kv_heads is pinned
    n_kv_heads: Optional[int] = None
    vocab: Optional[int] = None
    description: str = ""

    def n_layer(self, params):
        return self.n_layer_coef * params**self.n_layer_exp

    def d_model(self, params):
        return self.d_model_coef * params**self.d_model_exp

    def heads_monomial(self) -> tuple[float, float]:
        """``n_heads = c·N^e`` as (c, e)."""
        if self.n_heads is not None:
            return float(self.n_heads), 0.0
        return self.d_model_coef / self.head_dim, self.d_model_exp

    def at(self, params: float) -> ModelShape:
        """The integer shape nearest the rule at ``params``: d_model a multiple of the head
        size, the head count a multiple of the GQA ratio (whole KV groups, which also lets
        tensor parallelism up to that ratio divide the heads), at least one KV head; when
        neither depth nor width is pinned the depth is then ``round(N/(12·d_model²))`` so the
        shape keeps N."""
        n_layer = max(1, round(float(self.n_layer(params))))
        d = float(self.d_model(params))
        if self.n_heads is not None:
            heads = self.n_heads
            d_model = max(heads, round(d / heads) * heads)
            head_dim = d_model // heads
        else:
            head_dim = self.head_dim
            heads = max(1, round(d / head_dim))
            q = self.gqa_ratio or 1  # whole KV groups (and tensor-parallel degrees up to q)
            if heads >= q:
                heads = max(q, round(d / (head_dim * q)) * q)
            d_model = heads * head_dim
        if self.n_layer_exp and self.d_model_exp:  # both free: depth keeps N after rounding
            n_layer = max(1, round(float(params) / (PARAMS_PER_LAYER_D2 * d_model**2)))
        if self.n_kv_heads is not None:
            kv = self.n_kv_heads
        else:
            kv = max(1, heads // self.gqa_ratio)
            while heads % kv:
                kv -= 1
        return ModelShape(n_layer, d_model, heads, kv, head_dim, self.vocab,
                          float(PARAMS_PER_LAYER_D2 * n_layer * d_model**2), self.description)


def shape_rule(model=None) -> ShapeRule:
    """The shape rule of a budget's ``model:`` block (a ``ModelSpec`` or None).

    * no block: ``d_model = 128·n_layer``;
    * partial pins (no ``params``): one of ``n_layer`` / ``d_model`` / ``aspect_ratio``;
    * a full given shape (``params`` with ``n_layer``, ``d_model``): that shape, fixed.
    """
    pins = getattr(model, "pins", None) if model is not None else None
    head_dim, n_heads, gqa, n_kv, vocab = RULE_HEAD_DIM, None, RULE_GQA, None, None
    if model is not None and pins is None and getattr(model, "n_layer", None) is not None:
        n_heads = model.n_heads or max(1, model.d_model // RULE_HEAD_DIM)
        n_kv = model.n_kv_heads or n_heads
        return ShapeRule(float(model.n_layer), 0.0, float(model.d_model), 0.0, None, n_heads,
                         None, n_kv, model.vocab,
                         f"given: {model.n_layer} layers, d_model {model.d_model}")
    if pins is not None:
        if pins.n_heads is not None:
            head_dim, n_heads = None, pins.n_heads
        elif pins.head_dim is not None:
            head_dim = pins.head_dim
        if pins.n_kv_heads is not None:
            gqa, n_kv = None, pins.n_kv_heads
        elif pins.gqa_ratio is not None:
            gqa = pins.gqa_ratio
        vocab = pins.vocab
        k = PARAMS_PER_LAYER_D2
        if pins.n_layer is not None:
            L = float(pins.n_layer)
            return ShapeRule(L, 0.0, (k * L) ** -0.5, 0.5, head_dim, n_heads, gqa, n_kv, vocab,
                             f"n_layer pinned at {pins.n_layer}, d_model = √(N/(12·n_layer))")
        if pins.d_model is not None:
            d = float(pins.d_model)
            return ShapeRule(1.0 / (k * d * d), 1.0, d, 0.0, head_dim, n_heads, gqa, n_kv,
                             vocab, f"d_model pinned at {pins.d_model}, "
                                    "n_layer = N/(12·d_model²)")
        aspect = float(pins.aspect_ratio or RULE_ASPECT)
        return _aspect_rule(aspect, head_dim, n_heads, gqa, n_kv, vocab)
    return _aspect_rule(float(RULE_ASPECT), head_dim, n_heads, gqa, n_kv, vocab)


def _aspect_rule(aspect, head_dim, n_heads, gqa, n_kv, vocab) -> ShapeRule:
    c = (PARAMS_PER_LAYER_D2 * aspect**2) ** (-1.0 / 3.0)  # n_layer = (N/(12·aspect²))^(1/3)
    return ShapeRule(c, 1.0 / 3.0, aspect * c, 1.0 / 3.0, head_dim, n_heads, gqa, n_kv, vocab,
                     f"d_model = {aspect:g}·n_layer, N = 12·n_layer·d_model²")
