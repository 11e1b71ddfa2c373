"""The training plan of a model (N, D): hyperparameters, shape, parallel split, memory per
GPU, GPUs used and wall-clock, and which limits bind (docs/training-plan.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from planner.plain import as_plain
from planner.training.constraints import training_setup
from planner.training.hyperparams import hyperparameters
from planner.training.parallelism import choose_split, permissive_split


@dataclass(frozen=True)
class TrainingPlan:
    """Everything needed to launch the run (units in field names)."""

    hardware: str
    params: float
    train_tokens: float
    seq_len: int
    shape: dict[str, Any]
    hyperparameters: Optional[dict[str, Any]]
    gpus_available: Optional[int]
    max_useful_gpus: Optional[int]  # at the chosen split (None without a batch law)
    gpus_used: Optional[int]
    split: Optional[dict[str, Any]]  # TP/PP/DP and memory per GPU (None: nothing fits)
    gpu_seconds: float
    wall_clock_seconds: Optional[float]
    wall_clock_days: Optional[float]
    binding: tuple[str, ...]  # the limits that shape the run, in words
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = as_plain(self)
        d["binding"] = list(self.binding)
        d["warnings"] = list(self.warnings)
        return d


def training_plan(budget, cm, params: float, tokens: float) -> TrainingPlan:
    """The training plan of (N, D) under the budget's ``train:`` block and cost model ``cm``."""
    t = cm.train
    setup = training_setup(budget, t, cm.train_hw)
    shape = setup.rule.at(params)
    hp = None
    warnings: list[str] = []
    if setup.law is not None:
        hp = hyperparameters(setup.law, params, tokens, setup.seq_len, shape.n_layer,
                             shape.d_model)
        warnings += list(hp.warnings)
    seqs = hp.batch_sequences if hp is not None else None
    best, cands = choose_split(params, shape, setup.rule, setup.seq_len, setup.micro_batch, seqs,
                               setup.gpus, setup.max_tp, setup.max_pp, setup.zero_stage,
                               setup.optimizer, setup.recompute, setup.limit_bytes)
    gpu_s = float(cm.gpu_seconds["train"].value(params, tokens))
    binding = []
    if best is None:
        tp, pp = permissive_split(setup.max_tp, setup.max_pp, setup.gpus)
        least = min(cands, key=lambda c: c.memory.total_bytes) if cands else None
        need = f" (least {least.memory.total_bytes / 1e9:.1f} GB)" if least else ""
        binding.append(f"memory: no split up to TP {tp} × PP {pp} fits "
                       f"{setup.limit_bytes / 1e9:.1f} GB per GPU{need}")
        return TrainingPlan(cm.train_hw.name, params, tokens, setup.seq_len, shape.to_dict(),
                            as_plain(hp) if hp else None, setup.gpus, None, None, None, gpu_s,
                            None, None, tuple(binding), tuple(warnings))
    useful = best.max_useful_gpus if best.max_useful_gpus >= 0 else None
    used = best.gpus_used
    if setup.gpus is not None and useful is not None and useful < setup.gpus:
        binding.append(f"batch: {seqs} sequences of {setup.seq_len} tokens keep at most "
                       f"{useful} of {setup.gpus} GPUs busy (TP {best.tensor_parallel} × "
                       f"PP {best.pipeline_parallel})")
    if setup.gpus is None and useful is not None:
        binding.append("cluster size not given (train.gpus / train.max_gpus): the run uses "
                       "the largest useful GPU count of the least model-parallel split that fits")
    if best.tensor_parallel * best.pipeline_parallel > 1:
        one = [c for c in cands if c.tensor_parallel == 1 and c.pipeline_parallel == 1]
        if one and not one[0].memory.fits:
            binding.append(f"memory: one GPU per model replica needs "
                           f"{one[0].memory.total_bytes / 1e9:.1f} GB > "
                           f"{setup.limit_bytes / 1e9:.1f} GB")
        elif useful is not None and setup.gpus is not None:
            binding.append(f"batch: model parallelism (TP {best.tensor_parallel} × PP "
                           f"{best.pipeline_parallel}) raises the useful GPU count")
    wall = gpu_s / used if used else None
    if t.deadline_days is not None and wall is not None:
        used_frac = wall / (t.deadline_days * 86400.0)
        if used_frac > 1 - 1e-5:
            binding.append(f"deadline: {wall / 86400:.2f} days of {t.deadline_days:g}")
    return TrainingPlan(cm.train_hw.name, params, tokens, setup.seq_len, shape.to_dict(),
                        as_plain(hp) if hp else None, setup.gpus, useful, used, best.to_dict(),
                        gpu_s, wall, wall / 86400.0 if wall is not None else None,
                        tuple(binding), tuple(warnings))
