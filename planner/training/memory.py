"""Training memory per GPU: model states sharded by ZeRO, plus activations.

Model states (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion
Parameter Models", arXiv 1910.02054, §3.1 and Figure 1): mixed-precision Adam keeps fp16/bf16
weights (2 bytes/parameter) and gradients (2) plus K = 12 bytes of optimizer state (fp32 master
weights, momentum, variance): 16 bytes/parameter.  With N_d data-parallel ranks ZeRO stage
1 (P_os) keeps ``(2 + 2)·Ψ + K·Ψ/N_d``, stage 2 (P_os+g) ``2·Ψ + (2 + K)·Ψ/N_d``, stage 3
(P_os+g+p) ``(2 + 2 + K)·Ψ/N_d``; Ψ is the parameter count on one model-parallel rank,
``N/(TP·PP)``.

Activations (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
Models", arXiv 2205.05198, §4 and Table 2), 16-bit, per transformer layer, sequence length s,
micro-batch b, hidden size h, a heads, tensor parallel t with sequence parallelism:
``s·b·h·(34 + 5·a·s/h)/t`` without recomputation, ``34·s·b·h/t`` with selective recomputation,
``2·s·b·h`` with full recomputation (only each layer's input is kept).  With 1F1B pipelining
the first stage holds L/p layers for p micro-batches in flight: L layers' worth per GPU,
whatever p (their eq. 5).  Small terms (embedding dropout, logits, temporary buffers) are left
out; the profile's HBM headroom covers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.plain import as_plain
from planner.terms import Term

# bytes per parameter: (weights, gradients, optimizer states)
OPTIMIZER_BYTES = {
    "adamw": (2.0, 2.0, 12.0),  # mixed precision: bf16 weights/grads, fp32 master + m + v
    "adamw-fp32": (4.0, 4.0, 8.0),  # fp32 weights/grads, fp32 m + v
}
ACTIVATION_BYTES = 2.0  # 16-bit activations (the paper's accounting)


def model_state_bytes(params_per_rank, dp, zero_stage: int, optimizer: str = "adamw"):
    """(weights, gradients, optimizer) bytes per GPU for ``params_per_rank`` parameters on a
    model-parallel rank, sharded by ZeRO ``zero_stage`` over ``dp`` data-parallel ranks."""
    w, g, k = OPTIMIZER_BYTES[optimizer]
    w_div = dp if zero_stage >= 3 else 1.0
    g_div = dp if zero_stage >= 2 else 1.0
    k_div = dp if zero_stage >= 1 else 1.0
    return (w * params_per_rank / w_div, g * params_per_rank / g_div,
            k * params_per_rank / k_div)


def activation_bytes_per_layer(seq_len, micro_batch, d_model, n_heads, tp: int,
                               recompute: str):
    """Korthikanti et al. 2022, Table 2 (tensor + sequence parallel over ``tp`` GPUs)."""
    sbh = seq_len * micro_batch * d_model
    if recompute == "full":
        return 2.0 * sbh
    if recompute == "selective":
        return 34.0 * sbh / tp
    if recompute == "none":
        return sbh * (34.0 + 5.0 * n_heads * seq_len / d_model) / tp
    raise ValueError(recompute)


def activation_terms(rule, seq_len: int, micro_batch: int, tp: int,
                     recompute: str) -> tuple[Term, ...]:
    """Activation bytes per GPU (all L layers' worth, see the module docstring) as monomials
    in N through the shape rule: ``L·h ∝ N^(eL+ed)``, ``L·a ∝ N^(eL+ea)``."""
    s, b = float(seq_len), float(micro_batch)
    lh_c = rule.n_layer_coef * rule.d_model_coef
    lh_e = rule.n_layer_exp + rule.d_model_exp
    if recompute == "full":
        return (Term(2.0 * s * b * lh_c, lh_e, 0),)
    out = [Term(34.0 * s * b * lh_c / tp, lh_e, 0)]
    if recompute == "none":
        a_c, a_e = rule.heads_monomial()
        out.append(Term(5.0 * s * s * b * rule.n_layer_coef * a_c / tp,
                        rule.n_layer_exp + a_e, 0))
    return tuple(out)


@dataclass(frozen=True)
class MemoryPerGPU:
    """Bytes one GPU holds at a parallel split."""

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    total_bytes: float
    limit_bytes: float

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.limit_bytes

    def to_dict(self) -> dict:
        return as_plain(self)


def memory_per_gpu(params: float, rule, seq_len: int, micro_batch: int, tp: int, pp: int,
                   dp: float, zero_stage: int, optimizer: str, recompute: str,
                   limit_bytes: float) -> MemoryPerGPU:
    """Memory of one GPU at (TP, PP, DP), activations from the shape ``rule`` at N (the same
    monomials as the solver's constraint, so a plan on the constraint's edge fits here)."""
    w, g, k = model_state_bytes(params / (tp * pp), dp, zero_stage, optimizer)
    act = float(sum(t.value(params, 1.0) for t in activation_terms(rule, seq_len, micro_batch,
                                                                   tp, recompute)))
    return MemoryPerGPU(w, g, k, act, w + g + k + act, limit_bytes)
