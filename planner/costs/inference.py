"""Inference cost as monomial terms: prefill, the decode roofline, KV cache, communication,
latency, memory.

Per request: T_in prompt tokens, T_out generated tokens; batch b (the batch the replica really
runs, ``planner.costs.capacity``); average decode context ``c̄ = T_in + T_out/2``.  One decode
step of the whole batch on one GPU-equivalent (a replica of g GPUs divides it by g):

    t_step = max( b·(2·N_w + 4·n_layer·d_model·c̄) / (F·MFU_decode),        compute-bound
                  (N_w·bits_w/8 + b·kv_bytes(c̄)) / (BW·bw_eff) )             memory-bound

(Williams et al. 2009, "Roofline"; attention FLOPs: QKᵀ and A·V, 2 FLOPs per multiply-add,
Kaplan et al. 2020, arXiv 2001.08361) plus a fixed per-step overhead and, on g > 1 GPUs, the
tensor-parallel all-reduces (``planner.costs.communication``).  Speculative decoding (Leviathan
et al. 2023, arXiv 2211.17192) verifies γ+1 tokens per target step (compute × (γ+1), weights and
KV read once), adds γ draft steps (the draft's own weights and KV cache, shape rule at the draft
size) and yields E(α, γ) tokens per sequence per iteration.

Prefill of T_in tokens uses the same roofline as TTFT: ``max(compute, weight reads)`` with
causal attention ``2·n_layer·d_model·T_in²``.  Every piece is a monomial in N (KV and attention
∝ N^(2/3) through the shape rule), so each cost is a max of posynomials: GP friendly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Optional

from planner.costs.communication import Interconnect
from planner.costs.shape import SHAPE_EXP, Shape
from planner.costs.speculative import expected_tokens
from planner.terms import (
    CostItem,
    Posynomial,
    Term,
    merge_like_terms,
    scale_terms,
    uniform,
)


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
    """Speculative draft: acceptance α, draft length γ, size absolute or a fraction of N;
    ``overhead_s`` is the fixed overhead charged to each draft step (seconds)."""

    alpha: float
    gamma: int
    params: Optional[float] = None
    fraction: Optional[float] = None
    overhead_s: float = 0.0

    def term(self, coef: float, exp: float = 1.0) -> Term:
        """``coef·N_d^exp`` as a monomial in N."""
        if self.fraction is not None:
            return Term(coef * self.fraction**exp, exp, 0)
        return Term(coef * (self.params or 0.0) ** exp, 0, 0)

    @property
    def tokens_per_pass(self) -> float:
        return expected_tokens(self.alpha, self.gamma)


def _add(*posys: Posynomial) -> Posynomial:
    return tuple([t for p in posys for t in p])


_scale = scale_terms


NO_LINK = Interconnect(1, 1.0, 0.0)


@dataclass(frozen=True)
class Roofline:
    """Posynomials of one decode step (batch b, one GPU-equivalent) for a serving config."""

    rates: ServingRates
    shape: Shape
    batch: float
    weight_bits: float
    kv_bits: float
    context: float  # average decode context c̄, tokens
    draft: Draft
    link: Interconnect = NO_LINK
    draft_shape: Optional[Shape] = None  # shape rule applied to the draft's size

    def compute(self) -> Posynomial:
        """Target step, compute side, seconds: ``b·(2·N_w + 4·n_layer·d_model·c̄)/F``."""
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

    @cached_property
    def _built(self) -> dict:
        """Items already built from this roofline, by function and arguments: the cost model
        asks for TPOT and TTFT alone and again inside loaded TPOT (``_once``)."""
        return {}

    def _draft_shape(self) -> Shape:
        return self.draft_shape or self.shape

    def draft_compute(self) -> Posynomial:
        """One draft step, compute side: ``b·(2·N_d + attn_d·c̄)/F``."""
        r, b = self.rates, self.batch
        attn = 0.0 if r.simple else self._draft_shape().attn_flops_coef * self.context
        return (self.draft.term(b * 2.0 / r.decode_flops),
                self.draft.term(b * attn / r.decode_flops, SHAPE_EXP))

    def draft_memory(self) -> Posynomial:
        """One draft step, memory side: draft weights + the draft's KV cache of the batch."""
        r, b = self.rates, self.batch
        if r.simple:
            return ()
        kv = b * self._draft_shape().kv_elems_coef * self.kv_bits / 8.0 * self.context
        return (self.draft.term(self.weight_bits / 8.0 / r.bandwidth),
                self.draft.term(kv / r.bandwidth, SHAPE_EXP))

    def step_alternatives(self) -> tuple[Posynomial, ...]:
        """Plain target step (no speculation), GPU-equivalent seconds: compute or memory."""
        memory = self.memory()
        return (self.compute(),) + ((memory,) if memory else ())

    def iteration_alternatives(self) -> tuple[Posynomial, ...]:
        """One speculative iteration (target + γ draft steps), as a max over the four
        compute/memory combinations; plain decoding when γ = 0 (draft terms are zero)."""
        g = self.draft.gamma
        memory, draft_memory = self.memory(), self.draft_memory()
        target = [_scale(self.compute(), g + 1)]
        if memory:
            target.append(memory)
        drafts = [_scale(self.draft_compute(), g)]
        if draft_memory:
            drafts.append(_scale(draft_memory, g))
        return tuple([t + d for t in target for d in drafts])

    def ridge_batch(self, params: float) -> float:
        """The batch where one target decode step turns compute-bound at N = ``params``,
        with the KV bytes that grow with the batch: ``b* = W/BW / (per-seq compute − per-seq
        KV time)``; ``inf`` when the KV time per sequence outgrows its compute ("never")."""
        r, s = self.rates, self.shape
        if r.simple:
            return 0.0
        n23 = params ** SHAPE_EXP
        per_seq_compute = (2.0 * s.weight_read_fraction * params
                           + s.attn_flops_coef * n23 * self.context) / r.decode_flops
        per_seq_kv = s.kv_elems_coef * n23 * self.kv_bits / 8.0 * self.context / r.bandwidth
        weights = s.weight_read_fraction * params * self.weight_bits / 8.0 / r.bandwidth
        gain = per_seq_compute - per_seq_kv
        return weights / gain if gain > 0 else float("inf")


def prefill_alternatives(rates: ServingRates, shape: Shape, prompt_tokens: float,
                         weight_bits: float) -> tuple[Posynomial, ...]:
    """One prompt on one GPU-equivalent, seconds: ``max((2·N_w·T + 2·n_layer·d_model·T²)/F,
    N_w·bits/8/BW)`` (compute only, ``2·N·T/F``, in the simple FLOPs model of Sardana et al.)."""
    attn = 0.0 if rates.simple else shape.attn_flops_coef
    read = 1.0 if rates.simple else shape.weight_read_fraction
    compute = (Term(2.0 * read * prompt_tokens / rates.prefill_flops, 1, 0),
               Term(attn * prompt_tokens**2 / 2.0 / rates.prefill_flops, SHAPE_EXP, 0))
    if rates.simple:
        return (compute,)
    weights = (Term(read * weight_bits / 8.0 / rates.bandwidth, 1, 0),)
    return (compute, weights)


def prefill_seconds(rates: ServingRates, shape: Shape, prompt_tokens: float) -> Posynomial:
    """Compute time of one prompt on one GPU (the compute side of ``prefill_alternatives``)."""
    return prefill_alternatives(rates, shape, prompt_tokens, 16)[0]


def lifetime_items(roof: Roofline, requests: float, prompt_tokens: float,
                   output_tokens: float, gpus_per_replica: int) -> dict[str, CostItem]:
    """Lifetime busy serving GPU-seconds: prefill, decode (target), draft, per-step overhead,
    tensor-parallel communication (every GPU of the replica waits on it)."""
    rates, d, g = roof.rates, roof.draft, gpus_per_replica
    per_iter = requests * output_tokens / (roof.batch * d.tokens_per_pass)
    prefill = tuple(_scale(p, requests) for p in
                    prefill_alternatives(rates, roof.shape, prompt_tokens, roof.weight_bits))
    memory, draft_memory = roof.memory(), roof.draft_memory()
    target = [_scale(roof.compute(), d.gamma + 1)]
    if memory:
        target.append(memory)
    drafts = [roof.draft_compute()] + ([draft_memory] if draft_memory else [])
    overhead = 0.0 if rates.simple else rates.overhead_s
    draft_overhead = 0.0 if rates.simple else d.overhead_s
    comm_decode = roof.link.step_seconds(roof.shape, roof.batch * (d.gamma + 1))
    comm_prefill = roof.link.step_seconds(roof.shape, prompt_tokens)
    comm = _add(_scale(comm_decode, per_iter * g), _scale(comm_prefill, requests * g))
    return {
        "prefill": CostItem("prefill", prefill, "gpu_s"),
        "decode": CostItem("decode", tuple(_scale(p, per_iter) for p in target), "gpu_s"),
        "draft": CostItem("draft", tuple(_scale(p, per_iter * d.gamma) for p in drafts),
                          "gpu_s"),
        "overhead": CostItem("overhead", ((Term(per_iter * g * (
            overhead + d.gamma * draft_overhead)),),), "gpu_s"),
        "communication": CostItem("communication", (comm,), "gpu_s"),
    }


def _once(roof: Roofline, key: tuple, build: Callable[[], CostItem]) -> CostItem:
    """``build()``, made once per roofline and ``key`` (the roofline is frozen, the items
    immutable); an unhashable key (an array argument) builds every time."""
    built = roof._built
    try:
        return built[key]
    except KeyError:
        built[key] = item = build()
        return item
    except TypeError:
        return build()


def time_per_output_token(roof: Roofline, gpus_per_replica: int) -> CostItem:
    """Seconds per generated token of one sequence on a replica of g GPUs while decoding
    (no prefill interleaved): ``(t_iter/g + all-reduces + overheads)/E(α, γ)``."""
    return _once(roof, ("tpot", gpus_per_replica),
                 lambda: _time_per_output_token(roof, gpus_per_replica))


def _time_per_output_token(roof: Roofline, gpus_per_replica: int) -> CostItem:
    d, g = roof.draft, gpus_per_replica
    k = 1.0 / (g * d.tokens_per_pass)
    overhead = 0.0 if roof.rates.simple else roof.rates.overhead_s
    draft_overhead = 0.0 if roof.rates.simple else d.overhead_s
    const = Term((overhead + d.gamma * draft_overhead) / d.tokens_per_pass)
    comm = _scale(roof.link.step_seconds(roof.shape, roof.batch * (d.gamma + 1)),
                  1.0 / d.tokens_per_pass)
    return CostItem("time_per_output_token",
                    tuple(merge_like_terms(_scale(p, k) + comm + (const,))
                          for p in roof.iteration_alternatives()), "seconds")


def time_to_first_token(roof: Roofline, prompt_tokens: float, gpus_per_replica: int) -> CostItem:
    """Seconds to the first token of one request alone: the prefill roofline on g GPUs, the
    prefill all-reduces, one step overhead."""
    return _once(roof, ("ttft", prompt_tokens, gpus_per_replica),
                 lambda: _time_to_first_token(roof, prompt_tokens, gpus_per_replica))


def _time_to_first_token(roof: Roofline, prompt_tokens: float,
                         gpus_per_replica: int) -> CostItem:
    r = roof.rates
    overhead = Term(0.0 if r.simple else r.overhead_s)
    comm = roof.link.step_seconds(roof.shape, prompt_tokens)
    alts = prefill_alternatives(r, roof.shape, prompt_tokens, roof.weight_bits)
    return CostItem("time_to_first_token",
                    tuple(merge_like_terms(_scale(p, 1.0 / gpus_per_replica) + comm + (overhead,))
                          for p in alts), "seconds")


def loaded_time_per_output_token(roof: Roofline, prompt_tokens: float, output_tokens: float,
                                 gpus_per_replica: int) -> CostItem:
    """TPOT under load: a replica running b sequences admits ``b/T_out`` new requests per
    generated token of each sequence, and their prefills interleave with decode, so
    ``TPOT_loaded = TPOT + b·TTFT/T_out`` (seconds)."""
    tpot = time_per_output_token(roof, gpus_per_replica)
    if output_tokens <= 0:
        return tpot
    ttft = time_to_first_token(roof, prompt_tokens, gpus_per_replica)
    k = roof.batch / output_tokens
    interleaved = [_scale(p, k) for p in ttft.alternatives]
    return CostItem("time_per_output_token",
                    tuple([merge_like_terms(a + p) for a in tpot.alternatives
                           for p in interleaved]),
                    "seconds")


def replica_memory(roof: Roofline, max_context: float) -> CostItem:
    """Bytes one replica holds: all weights at bits/8, the batch's KV cache at the longest
    context, the draft's weights and the draft's KV cache."""
    s, b = roof.shape, roof.batch
    on = 1.0 if uniform(roof.draft.gamma != 0) else 0.0
    ds = roof.draft_shape or s
    terms = (Term(roof.weight_bits / 8.0, 1, 0),
             Term(b * s.kv_elems_coef * roof.kv_bits / 8.0 * max_context, SHAPE_EXP, 0),
             roof.draft.term(on * roof.weight_bits / 8.0),
             roof.draft.term(on * b * ds.kv_elems_coef * roof.kv_bits / 8.0 * max_context,
                             SHAPE_EXP))
    return CostItem("replica_memory", (terms,), "bytes")
