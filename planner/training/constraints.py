"""Training constraints as max-of-posynomial items in (N, D), for both solvers.

* ``deadline_batch_limit``: wall-clock on the GPUs the batch can keep busy,
  ``GPU-s_train·s·b/(TP·PP·B(N, D)) + GPU-s_draft/GPUs ≤ deadline`` (with ``deadline_days``,
  the plain ``GPU-s/GPUs ≤ deadline`` of the cost model, this is ``max(GPU-s/GPUs,
  GPU-s/max_useful) ≤ deadline``);
* ``train_memory``: model states sharded by ZeRO over ``N_d = GPUs/(TP·PP)`` data-parallel
  ranks (``B/(s·b)`` without a cluster size) plus activations, ≤ HBM·(1 − headroom), at the
  most permissive split allowed (``max_tensor_parallel``, ``max_pipeline_parallel``): a
  posynomial in N (through the shape rule) and, without a cluster size, D.
Formulas and sources: ``planner.training.memory``, ``planner.training.parallelism``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from planner.terms import Constraint, CostItem, Term, merge_like_terms
from planner.training.hyperparams import HyperparameterLaw, get_hyperparameter_law
from planner.training.memory import OPTIMIZER_BYTES, activation_terms
from planner.training.parallelism import permissive_split
from planner.training.shape import ShapeRule, shape_rule
from planner.units import number_text


@dataclass(frozen=True)
class TrainingSetup:
    """What the training plan reads from a budget (resolved once)."""

    law: Optional[HyperparameterLaw]
    rule: ShapeRule
    gpus: Optional[int]  # train.gpus, else train.max_gpus
    seq_len: int
    micro_batch: int
    max_tp: int
    max_pp: int
    zero_stage: int
    optimizer: str
    recompute: str
    limit_bytes: float


def training_setup(budget, train, train_hw) -> TrainingSetup:
    return TrainingSetup(
        get_hyperparameter_law(train.hyperparameters), shape_rule(budget.model),
        train.gpus if train.gpus is not None else train.max_gpus, train.seq_len, train.micro_batch_sequences,
        train.max_tensor_parallel, train.max_pipeline_parallel, train.zero_stage,
        train.optimizer, train.activation_recompute,
        train_hw.hbm_bytes * (1.0 - train_hw.hbm_headroom))


def _times(terms, mono: Term) -> tuple[Term, ...]:
    return tuple(Term(t.coef * mono.coef, t.n_exp + mono.n_exp, t.d_exp + mono.d_exp)
                 for t in terms)


def inverse_data_parallel(setup: TrainingSetup, tp: int, pp: int) -> list[Term]:
    """``1/N_d``: ``TP·PP/GPUs`` with a cluster size, else ``s·b/B(N, D)`` (the most ranks
    the batch allows), else 1.  With a cluster size the batch limit on N_d is left out of the
    constraint: ``max(TP·PP/GPUs, s·b/B)`` is a valid posynomial max, but an infeasible
    scenario with that D-coupled alternative stalls Clarabel (InsufficientProgress instead of
    an infeasibility certificate) in the chat example; the report checks the real N_d."""
    out = []
    if setup.gpus is not None:
        return [Term(tp * pp / setup.gpus, 0, 0)]
    if setup.law is not None:
        b = setup.law.batch_term()
        out.append(Term(setup.seq_len * setup.micro_batch / b.coef, -b.n_exp, -b.d_exp))
    return out or [Term(1.0, 0, 0)]


def memory_item(setup: TrainingSetup, tp: int, pp: int) -> CostItem:
    """Training bytes per GPU at (TP, PP) as a max of posynomials in (N, D)."""
    w, g, k = OPTIMIZER_BYTES[setup.optimizer]
    stage = setup.zero_stage
    kept = (w if stage < 3 else 0) + (g if stage < 2 else 0) + (k if stage < 1 else 0)
    sharded = w + g + k - kept
    base = [Term(kept / (tp * pp), 1, 0)] if kept else []
    base += list(activation_terms(setup.rule, setup.seq_len, setup.micro_batch, tp,
                                  setup.recompute))
    if not sharded:
        return CostItem("train_memory", (tuple(base),), "bytes")
    alts = tuple(merge_like_terms(tuple(base) + _times((Term(sharded / (tp * pp), 1, 0),), inv))
                 for inv in inverse_data_parallel(setup, tp, pp))
    return CostItem("train_memory", alts, "bytes")


def training_constraints(budget, cm) -> tuple[Constraint, ...]:
    """The batch-limited deadline and the training-memory fit of one cost model."""
    t = cm.train
    setup = training_setup(budget, t, cm.train_hw)
    tp, pp = permissive_split(setup.max_tp, setup.max_pp, setup.gpus)
    out = [Constraint(
        "train_memory", memory_item(setup, tp, pp), setup.limit_bytes,
        f"training memory per GPU (ZeRO-{setup.zero_stage}, {setup.optimizer}, "
        f"{setup.recompute} recomputation, TP {tp} × PP {pp}) ≤ "
        f"{cm.train_hw.hbm_gb:g} GB × (1 − headroom)")]
    if t.deadline_days is not None and setup.law is not None and setup.gpus is not None:
        b = setup.law.batch_term()
        per = Term(setup.seq_len * setup.micro_batch / (tp * pp * b.coef), -b.n_exp, -b.d_exp)
        train = cm.gpu_seconds["train"]
        draft = cm.gpu_seconds["draft_train"].scaled(1.0 / setup.gpus)
        alts = tuple(_times(p, per) + q for p in train.alternatives for q in draft.alternatives)
        out.append(Constraint(
            "deadline_batch_limit", CostItem("train_seconds_batch_limited", alts, "seconds"),
            t.deadline_days * 86400.0,
            f"training wall-clock on the GPUs the {setup.law.name} batch keeps busy "
            f"(batch/seq_len × TP {tp} × PP {pp}) ≤ {number_text(t.deadline_days)} days"))
    return tuple(out)
