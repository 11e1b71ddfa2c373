"""Inference cost as monomial terms: prefill, the decode roofline, KV cache, latency, memory.

See docs/cost-model.md.  Per request: T_in prompt tokens, T_out generated tokens; batch b; average
decode context ``c̄ = T_in + T_out/2``.  One decode step of the whole batch on one
GPU-equivalent (tensor parallelism over g GPUs divides it by g, ideally):

    t_step = max( b·(2·N_w + attn(c̄)) / (F·MFU_decode),                    compute-bound
                  (N_w·bits_w/8 + b·kv_bytes(c̄)) / (BW·bw_eff) )           memory-bound

plus a fixed per-step overhead.  Speculative decoding (Leviathan et al. 2023, arXiv 2211.17192)
verifies γ+1 tokens per target step (compute × (γ+1), weights read once), adds γ draft steps,
and yields E(α, γ) tokens per sequence per iteration.  Prefill is compute-bound:
``t_prefill = (2·N_w·T_in + attn·T_in²/2)/(F·MFU_prefill)``.  Every piece is a monomial in N
(KV and attention through the shape rule, ∝ N^(2/3)), so the decode cost is a max of
posynomials: geometric-program friendly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from planner.costs.shape import SHAPE_EXP, Shape
from planner.costs.speculative import expected_tokens
from planner.terms import CostItem, Posynomial, Term


@dataclass(frozen=True)
class ServingRates:
    """Effective rates on one serving GPU (FLOP/s, bytes/s) and the per-step overhead (s)."""

    prefill_flops: float
    decode_flops: float
    bandwidth: float
    overhead_s: float
    simple: bool  # FLOPs at MFU (Sardana et al.): no memory roofline, no overhead
    basis: str


@dataclass(frozen=True)
class Draft:
    """Speculative draft: acceptance α, draft length γ, size absolute or a fraction of N."""

    alpha: float
    gamma: int
    params: Optional[float] = None
    fraction: Optional[float] = None

    def term(self, coef: float) -> Term:
        """``coef·N_d`` as a monomial in N."""
        if self.fraction is not None:
            return Term(coef * self.fraction, 1, 0)
        return Term(coef * (self.params or 0.0), 0, 0)

    @property
    def tokens_per_pass(self) -> float:
        return expected_tokens(self.alpha, self.gamma)


def _add(*posys: Posynomial) -> Posynomial:
    return tuple(t for p in posys for t in p)


def _scale(p: Posynomial, k: float) -> Posynomial:
    return tuple(t.scaled(k) for t in p)


@dataclass(frozen=True)
class Roofline:
    """Posynomials of one decode step (batch b, one GPU-equivalent) for a serving config."""

    rates: ServingRates
    shape: Shape
    batch: int
    weight_bits: float
    kv_bits: float
    context: float  # average decode context c̄, tokens
    draft: Draft

    def compute(self) -> Posynomial:
        """Target step, compute side, seconds: ``b·(2·N_w + attn·c̄)/F``."""
        r, s, b = self.rates, self.shape, self.batch
        attn = 0.0 if r.simple else s.attn_flops_coef  # simple model: 2N FLOPs per token
        read = 1.0 if r.simple else s.weight_read_fraction
        return (Term(b * 2.0 * read / r.decode_flops, 1, 0),
                Term(b * attn * self.context / r.decode_flops, SHAPE_EXP, 0))

    def memory(self) -> Posynomial:
        """Target step, memory side, seconds: ``(N_w·bits/8 + b·kv(c̄))/BW``."""
        r, s, b = self.rates, self.shape, self.batch
        if r.simple:
            return ()
        return (Term(s.weight_read_fraction * self.weight_bits / 8.0 / r.bandwidth, 1, 0),
                Term(b * s.kv_elems_coef * self.kv_bits / 8.0 * self.context / r.bandwidth,
                     SHAPE_EXP, 0))

    def draft_compute(self) -> Posynomial:
        return (self.draft.term(self.batch * 2.0 / self.rates.decode_flops),)

    def draft_memory(self) -> Posynomial:
        if self.rates.simple:
            return ()
        return (self.draft.term(self.weight_bits / 8.0 / self.rates.bandwidth),)

    def iteration_alternatives(self) -> tuple[Posynomial, ...]:
        """One speculative iteration (target + γ draft steps), as a max over the four
        compute/memory combinations; plain decoding when γ = 0 (draft terms are zero)."""
        g = self.draft.gamma
        target = [_scale(self.compute(), g + 1)]
        if self.memory():
            target.append(self.memory())
        drafts = [_scale(self.draft_compute(), g)]
        if self.draft_memory():
            drafts.append(_scale(self.draft_memory(), g))
        return tuple(_add(t, d) for t in target for d in drafts)


def prefill_seconds(rates: ServingRates, shape: Shape, prompt_tokens: float) -> Posynomial:
    """Compute time of one prompt on one GPU: ``(2·N_w·T_in + attn·T_in²/2)/F_prefill``
    (``2·N·T_in`` alone in the simple FLOPs model of Sardana et al.)."""
    attn = 0.0 if rates.simple else shape.attn_flops_coef
    read = 1.0 if rates.simple else shape.weight_read_fraction
    return (Term(2.0 * read * prompt_tokens / rates.prefill_flops, 1, 0),
            Term(attn * prompt_tokens**2 / 2.0 / rates.prefill_flops, SHAPE_EXP, 0))


def lifetime_items(roof: Roofline, requests: float, prompt_tokens: float,
                   output_tokens: float, gpus_per_replica: int) -> dict[str, CostItem]:
    """Lifetime serving GPU-seconds: prefill, decode (target), draft, per-step overhead."""
    rates, d = roof.rates, roof.draft
    per_iter = requests * output_tokens / (roof.batch * d.tokens_per_pass)
    prefill = _scale(prefill_seconds(rates, roof.shape, prompt_tokens), requests)
    target = [_scale(roof.compute(), d.gamma + 1)]
    if roof.memory():
        target.append(roof.memory())
    drafts = [roof.draft_compute()] + ([roof.draft_memory()] if roof.draft_memory() else [])
    overhead = 0.0 if rates.simple else rates.overhead_s
    return {
        "prefill": CostItem("prefill", (prefill,), "gpu_s"),
        "decode": CostItem("decode", tuple(_scale(p, per_iter) for p in target), "gpu_s"),
        "draft": CostItem("draft", tuple(_scale(p, per_iter * d.gamma) for p in drafts),
                          "gpu_s"),
        "overhead": CostItem("overhead", ((Term(per_iter * (1 + d.gamma) * overhead
                                                * gpus_per_replica),),), "gpu_s"),
    }


def time_per_output_token(roof: Roofline, gpus_per_replica: int) -> CostItem:
    """Seconds per generated token of one sequence on a replica of g GPUs (TPOT)."""
    d, g = roof.draft, gpus_per_replica
    k = 1.0 / (g * d.tokens_per_pass)
    overhead = 0.0 if roof.rates.simple else roof.rates.overhead_s
    const = Term((1 + d.gamma) * overhead / d.tokens_per_pass)
    return CostItem("time_per_output_token",
                    tuple(_scale(p, k) + (const,) for p in roof.iteration_alternatives()),
                    "seconds")


def time_to_first_token(roof: Roofline, prompt_tokens: float, gpus_per_replica: int) -> CostItem:
    """Seconds to the first token of one request alone: prefill roofline (weights read once
    at least) on g GPUs, plus one step overhead."""
    r = roof.rates
    compute = _scale(prefill_seconds(r, roof.shape, prompt_tokens), 1.0 / gpus_per_replica)
    overhead = Term(0.0 if r.simple else r.overhead_s)
    alts = [compute + (overhead,)]
    if not r.simple:
        mem = (Term(roof.shape.weight_read_fraction * roof.weight_bits / 8.0 / r.bandwidth
                    / gpus_per_replica, 1, 0), overhead)
        alts.append(mem)
    return CostItem("time_to_first_token", tuple(alts), "seconds")


def replica_memory(roof: Roofline, max_context: float) -> CostItem:
    """Bytes one replica holds: all weights at bits/8, the batch's KV cache at the longest
    context, and the draft's weights."""
    s, b = roof.shape, roof.batch
    terms = (Term(roof.weight_bits / 8.0, 1, 0),
             Term(b * s.kv_elems_coef * roof.kv_bits / 8.0 * max_context, SHAPE_EXP, 0),
             roof.draft.term(roof.weight_bits / 8.0 if roof.draft.gamma else 0.0))
    return CostItem("replica_memory", (terms,), "bytes")
