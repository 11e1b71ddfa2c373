"""The batch limit on data parallelism and the tensor/pipeline/data split of a training run.

Every data-parallel rank needs at least one micro-batch of ``b`` sequences, so a global batch
of B tokens in sequences of ``s`` tokens keeps at most ``B/(s·b)`` ranks busy, each of TP·PP
GPUs: the largest useful GPU count is ``B/(s·b)·TP·PP``.  A 2M-token batch is 512 sequences of
4,096 tokens: at most 512·8 = 4,096 GPUs with 8-way tensor parallelism, never 8,192.
Wall-clock is ``GPU-seconds / min(GPUs, largest useful)`` = the max of two monomials in (N, D)
when B is a power law in (N, D).  The pipeline bubble is not modelled (MFU covers it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from planner.plain import as_plain
from planner.training.memory import MemoryPerGPU, memory_per_gpu


def max_useful_gpus(batch_sequences: float, tp: int, pp: int, micro_batch: int = 1) -> int:
    """``floor(B_seq / b)·TP·PP``: one micro-batch per data-parallel rank at least."""
    return int(batch_sequences // micro_batch) * tp * pp


def powers_of_two(limit: int) -> list[int]:
    out, g = [], 1
    while g <= limit:
        out.append(g)
        g *= 2
    return out


def permissive_split(max_tp: int, max_pp: int, gpus: Optional[int]) -> tuple[int, int]:
    """The split the constraints use: the largest powers of two allowed (and ≤ the GPUs)."""
    cap = gpus or max_tp * max_pp
    tp = max(g for g in powers_of_two(max_tp) if g <= max(cap, 1))
    pp = max(g for g in powers_of_two(max_pp) if tp * g <= max(cap, tp))
    return tp, pp


@dataclass(frozen=True)
class Split:
    """A chosen parallel layout and what it gives."""

    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int
    gpus_used: int
    max_useful_gpus: int
    memory: MemoryPerGPU

    def to_dict(self) -> dict:
        d = as_plain(self)
        d["memory"] = self.memory.to_dict()
        return d


def choose_split(params: float, shape, rule, seq_len: int, micro_batch: int,
                 batch_sequences: Optional[int], gpus: Optional[int], max_tp: int, max_pp: int,
                 zero_stage: int, optimizer: str, recompute: str,
                 limit_bytes: float) -> tuple[Optional[Split], list[Split]]:
    """Every power-of-two (TP, PP) within the limits; the chosen one fits memory, uses the
    most GPUs (shortest wall-clock), then the least model parallelism (without a cluster size:
    the least model parallelism that fits).  Returns (chosen or None when nothing fits, all
    candidates)."""
    cands = []
    for tp in powers_of_two(max_tp):
        if tp > max(1, shape.n_heads) or (shape.n_heads % tp):
            continue
        for pp in powers_of_two(max_pp):
            if pp > shape.n_layer or (gpus is not None and tp * pp > gpus):
                continue
            useful = (max_useful_gpus(batch_sequences, tp, pp, micro_batch)
                      if batch_sequences is not None else None)
            avail = gpus if gpus is not None else useful
            if avail is None:
                avail = tp * pp
            if useful is not None:
                avail = min(avail, useful)
            dp = max(1, avail // (tp * pp))
            mem = memory_per_gpu(params, rule, seq_len, micro_batch, tp, pp, dp, zero_stage,
                                 optimizer, recompute, limit_bytes)
            cands.append(Split(tp, pp, dp, dp * tp * pp,
                               useful if useful is not None else -1, mem))
    fitting = [c for c in cands if c.memory.fits]
    if not fitting:
        return None, cands
    if gpus is None:  # no cluster: the least model parallelism, at its largest useful count
        best = max(fitting, key=lambda c: (-c.tensor_parallel * c.pipeline_parallel,
                                           -c.pipeline_parallel))
    else:
        best = max(fitting, key=lambda c: (c.gpus_used,
                                           -c.tensor_parallel * c.pipeline_parallel,
                                           -c.pipeline_parallel))
    return best, cands
