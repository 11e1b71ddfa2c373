"""Loss-optimal peak learning rate and global batch size from (N, D): published power laws.

* ``step-law``: Li et al. 2025, "Predictable Scale: Part I — Optimal Hyperparameter Scaling Law
  in Large Language Model Pretraining", arXiv 2503.04715:
  ``η = 1.79·N^−0.713·D^0.307``, ``B = 0.58·D^0.571`` tokens, N non-embedding parameters,
  D training tokens.
* ``deepseek2024``: DeepSeek-AI 2024, "DeepSeek LLM: Scaling Open-Source Language Models with
  Longtermism", arXiv 2401.02954, §3.1: ``η_opt = 0.3118·C^−0.1250``,
  ``B_opt = 0.2920·C^0.3271`` tokens, with the compute ``C = M·D`` and ``M`` the non-embedding
  FLOPs per token ``72·n_layer·d_model² + 6·n_layer·d_model·l_seq`` (their eq. 2), not 6·N.
  The report uses ``M·D`` from the plan's shape; the batch-limit constraint, which must stay a
  monomial in (N, D), uses ``C ≈ 6·N·D`` (attention FLOPs left out: ``C`` and so the batch are a
  few per cent smaller, the GPU limit slightly conservative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from planner.errors import InputError
from planner.terms import Term


@dataclass(frozen=True)
class HyperparameterLaw:
    """``η = lr_coef·N^lr_n·D^lr_d·C^lr_c``; ``B = batch_coef·D^batch_d·C^batch_c`` tokens."""

    name: str
    source: str
    lr_coef: float
    batch_coef: float
    lr_n: float = 0.0
    lr_d: float = 0.0
    lr_c: float = 0.0
    batch_d: float = 0.0
    batch_c: float = 0.0
    fitted_params: Optional[tuple[float, float]] = None  # non-embedding parameters
    fitted_tokens: Optional[tuple[float, float]] = None
    fitted_flops: Optional[tuple[float, float]] = None
    note: str = ""

    def learning_rate(self, params, tokens, flops):
        return (self.lr_coef * params**self.lr_n * tokens**self.lr_d * flops**self.lr_c)

    def batch_tokens(self, tokens, flops):
        return self.batch_coef * tokens**self.batch_d * flops**self.batch_c

    def batch_term(self) -> Term:
        """``B(N, D)`` tokens as one monomial, with ``C = 6·N·D`` (for constraints)."""
        c6 = 6.0**self.batch_c
        return Term(self.batch_coef * c6, self.batch_c, self.batch_d + self.batch_c)

    def extrapolation(self, params, tokens, flops) -> list[str]:
        out = []
        for label, value, rng in (("parameters", params, self.fitted_params),
                                  ("training tokens", tokens, self.fitted_tokens),
                                  ("training FLOPs", flops, self.fitted_flops)):
            if rng is not None and not rng[0] <= value <= rng[1]:
                out.append(f"training plan: {value:.3g} {label} is outside the {self.name} "
                           f"hyperparameter law's fitted range {rng[0]:.3g}-{rng[1]:.3g}: "
                           "its learning rate and batch size extrapolate")
        return out


PRESETS: dict[str, HyperparameterLaw] = {
    "step-law": HyperparameterLaw(
        "step-law",
        "Li et al. 2025, Predictable Scale: Part I (Step Law), arXiv 2503.04715",
        lr_coef=1.79, lr_n=-0.713, lr_d=0.307, batch_coef=0.58, batch_d=0.571,
        # dense grid: models up to ~1B non-embedding parameters, up to ~100B tokens (the
        # 1B/100B grid of their Figure 1); lower ends approximate
        fitted_params=(6e7, 1.1e9), fitted_tokens=(2e9, 1.1e11),
        note="N non-embedding parameters; fitted on a dense grid with AdamW"),
    "deepseek2024": HyperparameterLaw(
        "deepseek2024",
        "DeepSeek-AI 2024, DeepSeek LLM, arXiv 2401.02954, §3.1 (C = non-embedding FLOPs/token "
        "× tokens)",
        lr_coef=0.3118, lr_c=-0.1250, batch_coef=0.2920, batch_c=0.3271,
        fitted_flops=(1e17, 3e20),
        note="C = M·D, M = 72·n_layer·d_model² + 6·n_layer·d_model·seq_len; "
             "multi-step learning-rate schedule"),
}


def get_hyperparameter_law(name: str) -> Optional[HyperparameterLaw]:
    """The preset ``name`` (None for ``none``)."""
    if name == "none":
        return None
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown hyperparameter law {name!r}; choose one of "
                         f"{', '.join(PRESETS)} or none") from None


def flops_per_token(n_layer: float, d_model: float, seq_len: float) -> float:
    """DeepSeek's ``M = 72·n_layer·d_model² + 6·n_layer·d_model·l_seq`` (arXiv 2401.02954,
    eq. 2): non-embedding training FLOPs per token, attention included."""
    return 72.0 * n_layer * d_model**2 + 6.0 * n_layer * d_model * seq_len


@dataclass(frozen=True)
class Hyperparameters:
    """What a plan reports: peak LR, global batch (tokens, whole sequences), optimizer steps."""

    law: str
    source: str
    peak_learning_rate: float
    batch_tokens_exact: float  # the law's value
    batch_sequences: int  # rounded to a whole number of sequences (≥ 1)
    batch_tokens: int  # batch_sequences × seq_len
    optimizer_steps: int  # ceil(D / batch_tokens)
    compute_flops: float  # the law's C (M·D for deepseek2024, 6·N·D otherwise)
    warnings: tuple[str, ...] = ()


def hyperparameters(law: HyperparameterLaw, params: float, tokens: float, seq_len: int,
                    n_layer: float, d_model: float) -> Hyperparameters:
    """The law's peak learning rate and global batch at (N, D) for sequences of ``seq_len``."""
    if law.lr_c or law.batch_c:
        flops = flops_per_token(n_layer, d_model, seq_len) * tokens
    else:
        flops = 6.0 * params * tokens
    lr = float(law.learning_rate(params, tokens, flops))
    b = float(law.batch_tokens(tokens, flops))
    seqs = max(1, round(b / seq_len))
    btok = seqs * seq_len
    steps = math.ceil(tokens / btok)
    return Hyperparameters(law.name, law.source, lr, b, seqs, btok, steps, flops,
                           tuple(law.extrapolation(params, tokens, flops)))
