"""The set-up the cost formulas read: plain frozen dataclasses built from a budget by
``planner.optimize.build.cost_setup`` (the cost code never sees the YAML schema's models).

Field names and units are those of the budget keys they come from (``docs/`` and
``planner schema`` describe them); hardware is resolved separately into profiles.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional


@dataclass(frozen=True)
class DraftSetup:
    """Speculative decoding (Leviathan et al. 2023): the draft and its acceptance rate."""

    acceptance: float = 0.5
    draft_params: Optional[float] = None  # parameters
    draft_fraction: Optional[float] = None  # of the target's parameters
    gamma: Any = "auto"
    max_gamma: int = 8
    train_draft: bool = True
    draft_train_tokens: Optional[float] = None  # tokens
    draft_step_overhead_s: Optional[float] = None  # seconds per draft step


@dataclass(frozen=True)
class TrainSetup:
    """Training: cluster, MFU, precision, deadline, and the training-plan knobs."""

    gpus: Optional[int] = None
    max_gpus: Optional[int] = None
    mfu: float = 0.4
    precision: str = "bf16"
    seq_len: int = 4096  # tokens per training sequence
    deadline_days: Optional[float] = None
    max_train_usd: Optional[float] = None
    hyperparameters: str = "step-law"
    optimizer: str = "adamw"
    zero_stage: int = 1
    activation_recompute: str = "selective"
    max_tensor_parallel: int = 8
    max_pipeline_parallel: int = 1
    micro_batch_sequences: int = 1


@dataclass(frozen=True)
class ServeSetup:
    """Serving: batch, precision, latency limits (ms), capacity and billing."""

    batch_size: int = 64
    weight_bits: Any = 16
    kv_bits: int = 16
    compute_precision: str = "bf16"
    quantization_penalty: str = "ouyang2024"
    efficiency: str = "realistic"
    mfu_prefill: Optional[float] = None
    mfu_decode: Optional[float] = None
    gpus_per_replica: Any = 1
    max_gpus_per_replica: int = 8
    max_time_per_output_token_ms: Optional[float] = None
    max_time_to_first_token_ms: Optional[float] = None
    speculative: Optional[DraftSetup] = None
    billing: str = "provisioned"
    peak_factor: float = 1.0  # peak / mean request rate
    target_utilization: float = 0.8
    min_replicas: int = 1
    cold_start_s: float = 60.0
    keep_alive_s: float = 300.0


@dataclass(frozen=True)
class GivenShape:
    """A model shape given in the budget (``model:``): parameters and layout."""

    params: float
    n_layer: int
    d_model: int
    n_heads: Optional[int] = None
    n_kv_heads: Optional[int] = None
    vocab: Optional[int] = None


@dataclass(frozen=True)
class Demand:
    """Lifetime demand in the shape the cost model reads."""

    requests: float
    prompt_tokens: float  # per request
    output_tokens: float  # per request
    requests_per_second: Optional[float]
    by_request: bool  # always True now: a token total is split into requests
    lifetime_seconds: Optional[float] = None  # months × 30 days, when a rate was given
    split: str = "given"  # where the input/output split came from


@dataclass(frozen=True)
class CostSetup:
    """Everything the cost model of one budget reads, besides the hardware profiles."""

    train: TrainSetup
    serve: ServeSetup
    demand: Demand
    shape: Optional[GivenShape] = None


def plain(cls, source: Any, **override):
    """An instance of dataclass ``cls`` from the same-named attributes of ``source`` (a
    validated budget block), ``override`` taking precedence; missing ones keep defaults."""
    values = {}
    for f in fields(cls):
        if f.name in override:
            values[f.name] = override[f.name]
        elif source is not None and hasattr(source, f.name):
            values[f.name] = getattr(source, f.name)
    return cls(**values)
