"""Training cost as monomial terms.

FLOPs = 6·N·D plus attention ``6·n_layer·seq·d_model·D`` (Kaplan et al. 2020, arXiv 2001.08361;
shape rule when no shape is given, ``train.seq_len``), a monomial ∝ N^(2/3)·D;
GPU-seconds = FLOPs / (peak(precision) · MFU); wall-clock = GPU-seconds / GPUs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.costs.shape import SHAPE_EXP, Shape
from planner.terms import CostItem, Term

if TYPE_CHECKING:  # profiles are only passed through here
    from planner.hardware import HardwareProfile


def training_gpu_seconds(hw: HardwareProfile, precision: str, mfu: float,
                         shape: Shape) -> CostItem:
    """GPU-seconds to train N parameters on D tokens: ``(6·N·D + attn·D)/(peak·MFU)``."""
    rate = hw.peak_flops(precision) * mfu
    terms = [Term(6.0 / rate, 1, 1)]
    if shape.train_attn_flops_coef:
        terms.append(Term(shape.train_attn_flops_coef / rate, SHAPE_EXP, 1))
    return CostItem("train", (tuple(terms),), "gpu_s")


def draft_training_gpu_seconds(hw: HardwareProfile, precision: str, mfu: float,
                               draft_params: float | None, draft_fraction: float | None,
                               draft_tokens: float | None, active: bool) -> CostItem:
    """GPU-seconds to train the speculative draft: ``6·N_d·D_d/(peak·MFU)``.

    ``N_d`` is absolute or a fraction of N; ``D_d`` is given or the target's D.  Zero when the
    draft is not trained here (``active`` False): the term stays so structures match.
    """
    rate = hw.peak_flops(precision) * mfu
    coef = 6.0 / rate if active else 0.0
    if draft_fraction is not None:
        coef *= draft_fraction
        n_exp = 1
    else:
        coef *= draft_params or 0.0
        n_exp = 0
    if draft_tokens is not None:
        return CostItem("draft_train", ((Term(coef * draft_tokens, n_exp, 0),),), "gpu_s")
    return CostItem("draft_train", ((Term(coef, n_exp, 1),),), "gpu_s")
