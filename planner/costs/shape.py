"""Model shape as monomials in N: KV-cache bytes and attention FLOPs per token.

Rule when no shape is given: ``N ≈ 12·n_layer·d_model²`` with
``d_model = 128·n_layer`` (so ``N = 196,608·n_layer³``), head size 128 (``n_heads = n_layer``)
and GQA with ``n_kv_heads = n_heads/8``.  Then per token
``kv_bytes(ctx) = 2·n_layer·n_kv_heads·d_head·ctx·bits_kv/8 = 4·bits_kv·n_layer²·ctx`` and
attention ``4·n_layer·ctx·d_model = 512·n_layer²·ctx`` FLOPs (QKᵀ and A·V, 2 FLOPs per
multiply-add each; Kaplan et al. 2020, arXiv 2001.08361, Table 1 counts the same products):
both ∝ N^(2/3), monomials.  Training adds ``6·n_layer·seq·d_model`` FLOPs per token (Kaplan's
sequence average: forward + backward of attention to seq/2 earlier tokens), ∝ N^(2/3).
``n_layer`` and ``d_model`` themselves are ∝ N^(1/3) (tensor-parallel all-reduce sizes).
A given shape (``model:``) gives exact values at the pinned N, scaled by the same rule elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

RULE_ASPECT = 128  # d_model / n_layer
RULE_HEAD_DIM = 128
RULE_GQA = 8  # n_heads / n_kv_heads
RULE_PARAMS_PER_LAYER3 = 12 * RULE_ASPECT**2  # N = 196,608·n_layer³
SHAPE_EXP = 2.0 / 3.0  # n_layer² ∝ N^(2/3)


@dataclass(frozen=True)
class Shape:
    """Per-token costs as ``coef·N^(2/3)`` (exact at ``params`` when a shape was given)."""

    kv_elems_coef: float  # K and V elements cached per token per N^(2/3)
    attn_flops_coef: float  # attention FLOPs per token per unit context, per N^(2/3)
    train_attn_flops_coef: float  # training attention FLOPs per token (at train seq), per N^(2/3)
    weight_read_fraction: float  # parameters read per decode step / N (input embedding gathered)
    source: str
    n_layer_coef: float = RULE_PARAMS_PER_LAYER3 ** (-1 / 3)  # n_layer per N^(1/3)
    d_model_coef: float = RULE_ASPECT * RULE_PARAMS_PER_LAYER3 ** (-1 / 3)  # d_model per N^(1/3)

    def describe(self, params: float) -> dict:
        n_layer = (params / RULE_PARAMS_PER_LAYER3) ** (1 / 3)
        return {"rule": self.source, "n_layer_equivalent": n_layer}


def rule_shape(seq_len: int = 4096) -> Shape:
    """The documented shape rule (no ``model:`` block); ``seq_len``: training sequence, tokens."""
    per = RULE_PARAMS_PER_LAYER3 ** (-SHAPE_EXP)  # n_layer² per N^(2/3)
    kv_elems = 2 * RULE_ASPECT / RULE_GQA * per  # 2·n_layer·(d_model/8) = 32·n_layer²
    attn = 4 * RULE_ASPECT * per  # 4·n_layer·d_model per unit ctx = 512·n_layer²
    train_attn = 6 * seq_len * RULE_ASPECT * per  # 6·n_layer·seq·d_model per training token
    return Shape(kv_elems, attn, train_attn, 1.0,
                 "N = 12·n_layer·d_model², d_model = 128·n_layer, d_head 128, GQA 8")


def given_shape(params: float, n_layer: int, d_model: int, n_heads: Optional[int],
                n_kv_heads: Optional[int], vocab: Optional[int], seq_len: int) -> Shape:
    """Exact per-token costs of a given shape (Llama-style: untied input embedding gathered)."""
    heads = n_heads or max(1, d_model // RULE_HEAD_DIM)
    kv_heads = n_kv_heads or heads
    d_head = d_model / heads
    scale = params ** (-SHAPE_EXP)
    kv_elems = 2 * n_layer * kv_heads * d_head
    attn = 4 * n_layer * d_model  # QKᵀ + A·V per token per unit context
    train_attn = 6 * n_layer * seq_len * d_model  # per training token (Kaplan et al. 2020)
    read = 1.0 - (vocab * d_model / params if vocab else 0.0)
    cube = params ** (-1 / 3)
    return Shape(kv_elems * scale, attn * scale, train_attn * scale, max(read, 0.05),
                 f"given: {n_layer} layers, d_model {d_model}, {heads} heads, "
                 f"{kv_heads} KV heads" + (f", vocab {vocab}" if vocab else ""),
                 n_layer * cube, d_model * cube)
