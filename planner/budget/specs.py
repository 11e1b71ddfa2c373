"""The ``train:``, ``serve:``, ``model:``, ``constraints:``, ``data:`` and ``uncertainty:``
blocks of a budget, each with its cross-field rules."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    model_validator,
)

from planner.budget.base import Fraction, PositiveFloat, Quantity, StrictModel, _finite
from planner.budget.demand import HardwareRef
from planner.budget.limits import (
    MAX_BOOTSTRAP,
    MAX_SEED,
)


def _hardware_choice(v: Any) -> Any:
    if isinstance(v, list):
        if not v:
            raise ValueError("an empty list: give at least one hardware profile")
        bad = [x for x in v if not isinstance(x, (str, dict))]
        if bad:
            raise ValueError(f"list entries are profile names, paths or inline profiles, "
                             f"got {bad[0]!r}")
    elif not isinstance(v, (str, dict)):
        raise ValueError(f"expected a profile name, a path, an inline profile or a list of "
                         f"them, got {v!r}")
    return v


HardwareChoice = Annotated[Union[HardwareRef, list[HardwareRef]],
                           BeforeValidator(_hardware_choice)]
"""One profile, or a list of them: the optimizer picks the cheapest feasible (docs/choices.md)."""


class TrainSpec(StrictModel):
    """Training cluster: hardware, size, MFU and limits (docs/cost-model.md)."""

    hardware: HardwareChoice = "h100-sxm"
    gpus: Optional[Annotated[int, Field(gt=0)]] = None
    max_gpus: Optional[Annotated[int, Field(gt=0)]] = None
    mfu: Fraction = 0.40
    precision: Literal["bf16", "fp16", "fp8", "tf32"] = "bf16"
    seq_len: Annotated[int, Field(gt=0)] = 4096
    deadline_days: Optional[PositiveFloat] = None
    max_train_usd: Optional[PositiveFloat] = None
    # the training plan (planner.training, docs/training-plan.md)
    hyperparameters: Literal["step-law", "deepseek2024", "none"] = "step-law"
    optimizer: Literal["adamw", "adamw-fp32"] = "adamw"  # 2+2+12 or 4+4+8 bytes/parameter
    zero_stage: Literal[0, 1, 2, 3] = 1  # Rajbhandari et al. 2020 (arXiv 1910.02054)
    activation_recompute: Literal["none", "selective", "full"] = "selective"
    max_tensor_parallel: Annotated[int, Field(gt=0)] = 8  # one NVLink node
    max_pipeline_parallel: Annotated[int, Field(gt=0)] = 1
    micro_batch_sequences: Annotated[int, Field(gt=0)] = 1

    @model_validator(mode="after")
    def _gpus(self) -> "TrainSpec":
        if self.gpus is not None and self.max_gpus is not None and self.gpus > self.max_gpus:
            raise ValueError(f"@gpus: {self.gpus} exceeds train.max_gpus {self.max_gpus}")
        if self.deadline_days is not None and self.gpus is None and self.max_gpus is None:
            raise ValueError("@deadline_days: needs train.gpus or train.max_gpus to turn "
                             "GPU-time into days")
        return self


class DraftSpec(StrictModel):
    """One candidate draft model for speculative decoding: its size (absolute or a fraction
    of N), acceptance rate α, and whether it is trained here (``train: false``: an existing
    model, no training cost)."""

    name: str = Field(min_length=1)
    params: Optional[Quantity] = None
    fraction: Optional[Annotated[float, Field(gt=0, lt=1)]] = None
    acceptance: Annotated[float, BeforeValidator(_finite), Field(gt=0, lt=1)]
    train: bool = False
    train_tokens: Optional[Quantity] = None

    @model_validator(mode="after")
    def _size(self) -> "DraftSpec":
        if (self.params is None) == (self.fraction is None):
            raise ValueError("give exactly one of 'params' or 'fraction'")
        if self.name == "none":
            raise ValueError("'none' is the implicit no-draft choice; name the draft otherwise")
        return self


class SpeculativeSpec(StrictModel):
    """Speculative decoding (Leviathan et al. 2023): acceptance rate, draft size, draft length;
    or ``drafts:``, a list of candidate drafts the optimizer chooses among (with "none")."""

    acceptance: Optional[Annotated[float, BeforeValidator(_finite), Field(gt=0, lt=1)]] = None
    draft_params: Optional[Quantity] = None
    draft_fraction: Optional[Annotated[float, Field(gt=0, lt=1)]] = None
    gamma: Union[Literal["auto"], Annotated[int, Field(ge=0, le=32)]] = "auto"
    max_gamma: Annotated[int, Field(ge=1, le=32)] = 8
    train_draft: bool = False
    draft_train_tokens: Optional[Quantity] = None
    # fixed overhead of each draft step, seconds (default: the profile's step_overhead_s)
    draft_step_overhead_s: Optional[Annotated[float, Field(ge=0, allow_inf_nan=False)]] = None
    drafts: Optional[Annotated[list[DraftSpec], Field(min_length=1)]] = None
    name: Optional[str] = None  # the single draft's name in plans (default "draft")

    @model_validator(mode="after")
    def _draft(self) -> "SpeculativeSpec":
        if self.drafts is not None:
            single = {k for k in ("acceptance", "draft_params", "draft_fraction",
                                  "train_draft", "draft_train_tokens", "name")
                      if getattr(self, k) not in (None, False)}
            if single:
                raise ValueError(f"give 'drafts' or the single-draft keys, not both "
                                 f"(remove {', '.join(sorted(single))})")
            names = [d.name for d in self.drafts]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"draft names must differ: {', '.join(dup)} repeated")
            return self
        if self.acceptance is None:
            raise ValueError("give 'acceptance' (or a list of 'drafts')")
        if (self.draft_params is None) == (self.draft_fraction is None):
            raise ValueError("give exactly one of 'draft_params' or 'draft_fraction'")
        return self


WeightBits = Literal[16, 8, 6, 5, 4, 3]


class ServeSpec(StrictModel):
    """Serving: hardware, batch, precision, latency SLOs (docs/cost-model.md)."""

    hardware: HardwareChoice = "h100-sxm"
    batch_size: Annotated[int, Field(gt=0)] = 64
    weight_bits: Union[Literal["auto"], WeightBits] = 16
    kv_bits: Literal[16, 8, 4] = 16
    compute_precision: Literal["bf16", "fp16", "fp8", "int8"] = "bf16"
    quantization_penalty: Literal["ouyang2024", "kumar2024", "none"] = "ouyang2024"
    efficiency: Literal["realistic", "idealized"] = "realistic"
    mfu_prefill: Optional[Fraction] = None
    mfu_decode: Optional[Fraction] = None
    gpus_per_replica: Union[Literal["auto"], Annotated[int, Field(gt=0)]] = "auto"
    max_gpus_per_replica: Annotated[int, Field(gt=0)] = 8  # one node
    max_time_per_output_token_ms: Optional[PositiveFloat] = None
    max_time_to_first_token_ms: Optional[PositiveFloat] = None
    speculative: Optional[SpeculativeSpec] = None
    # capacity (planner.costs.capacity; docs/serving-model.md)
    billing: Literal["provisioned", "busy"] = "provisioned"
    peak_to_mean: Annotated[float, BeforeValidator(_finite), Field(ge=1)] = 1.0
    load_profile: Optional[list[Annotated[float, Field(ge=0, allow_inf_nan=False)]]] = None
    target_utilization: Fraction = 0.8
    min_replicas: Annotated[int, Field(ge=0)] = 1
    cold_start_s: Annotated[float, BeforeValidator(_finite), Field(ge=0)] = 60.0
    keep_alive_s: Annotated[float, BeforeValidator(_finite), Field(ge=0)] = 300.0

    @property
    def peak_factor(self) -> float:
        """Peak-to-mean request rate: ``max/mean`` of ``load_profile`` when given."""
        if self.load_profile:
            return max(self.load_profile) / (sum(self.load_profile) / len(self.load_profile))
        return self.peak_to_mean

    @model_validator(mode="after")
    def _load(self) -> "ServeSpec":
        if self.load_profile is not None:
            if "peak_to_mean" in self.model_fields_set:
                raise ValueError("give 'peak_to_mean' or 'load_profile', not both")
            if len(self.load_profile) < 2 or sum(self.load_profile) <= 0:
                raise ValueError("'load_profile' needs at least 2 relative rates with a "
                                 "positive sum (e.g. 24 hourly values)")
        return self

    @model_validator(mode="after")
    def _simple(self) -> "ServeSpec":
        if (self.mfu_prefill is None) != (self.mfu_decode is None):
            raise ValueError("'mfu_prefill' and 'mfu_decode' go together (the simple FLOPs "
                             "model of serving); leave both out for the roofline")
        return self


class ShapePins(StrictModel):
    """A partial shape (``model:`` without ``params``): N stays free, the shape rule follows
    these pins (planner.training.shape)."""

    n_layer: Optional[Annotated[int, Field(gt=0)]] = None
    d_model: Optional[Annotated[int, Field(gt=0)]] = None
    aspect_ratio: Optional[PositiveFloat] = None  # d_model / n_layer
    head_dim: Optional[Annotated[int, Field(gt=0)]] = None
    n_heads: Optional[Annotated[int, Field(gt=0)]] = None
    n_kv_heads: Optional[Annotated[int, Field(gt=0)]] = None
    gqa_ratio: Optional[Annotated[int, Field(gt=0)]] = None  # n_heads / n_kv_heads
    vocab: Optional[Annotated[int, Field(gt=0)]] = None

    @model_validator(mode="after")
    def _one_rule(self) -> "ShapePins":
        given = [k for k in ("n_layer", "d_model", "aspect_ratio") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError("pin at most one of 'n_layer', 'd_model', 'aspect_ratio' when "
                             "'params' is free (two would fix N)")
        if self.n_heads is not None and self.head_dim is not None:
            raise ValueError("give 'n_heads' or 'head_dim', not both")
        if self.n_kv_heads is not None and self.gqa_ratio is not None:
            raise ValueError("give 'n_kv_heads' or 'gqa_ratio', not both")
        return self


_PIN_KEYS = ("n_layer", "d_model", "aspect_ratio", "head_dim", "n_heads", "n_kv_heads",
             "gqa_ratio", "vocab")


class ModelSpec(StrictModel):
    """Pin the model: its parameter count (and optionally shape) is costed, not optimised.

    ``preset: llama-3-8b`` (or just ``model: llama-3-8b``) takes a shipped shape and
    ``config: path/config.json`` reads a Hugging Face config from disk (relative to the budget
    file); both fill the fields below from the shape (planner.models, docs/models.md)."""

    preset: Optional[str] = Field(None, description="a shipped model shape: llama-2-7b, "
                                  "llama-2-13b, llama-2-70b, llama-3-8b, llama-3-70b, mistral-7b")
    config: Optional[str] = Field(None, description="path to a Hugging Face config.json "
                                  "(relative to the budget file); dense models only")
    params: Optional[Quantity] = None
    n_layer: Optional[Annotated[int, Field(gt=0)]] = None
    d_model: Optional[Annotated[int, Field(gt=0)]] = None
    n_heads: Optional[Annotated[int, Field(gt=0)]] = None
    n_kv_heads: Optional[Annotated[int, Field(gt=0)]] = None
    vocab: Optional[Annotated[int, Field(gt=0)]] = None
    pins: Optional[ShapePins] = None

    @model_validator(mode="before")
    @classmethod
    def _partial(cls, data: Any) -> Any:
        # without params the shape keys constrain the rule instead of pinning N (costs/model.py
        # reads n_layer/d_model as a full given shape, so they move to ``pins``)
        if isinstance(data, dict) and "params" not in data and "pins" not in data:
            extra = [k for k in data if k not in _PIN_KEYS]
            if not extra:
                return {"pins": dict(data)}
        return data

    @model_validator(mode="before")
    @classmethod
    def _known(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and ("preset" in data or "config" in data):
            from planner.models import resolve_model

            base = (info.context or {}).get("base_dir")
            data = resolve_model(data, base)  # ConfigError is a ValueError: one line
        return data

    @model_validator(mode="after")
    def _shape(self) -> "ModelSpec":
        if self.params is None:
            if self.pins is None:
                raise ValueError("give 'params' (with an optional shape), shape pins such as "
                                 "'n_layer' (N stays free), a known model ('preset: "
                                 "llama-3-8b') or 'config: path/to/config.json'")
            return self
        if (self.n_layer is None) != (self.d_model is None):
            raise ValueError("'n_layer' and 'd_model' go together")
        if self.n_kv_heads is not None and self.n_heads is None:
            raise ValueError("'n_kv_heads' needs 'n_heads'")
        if self.n_heads and self.n_kv_heads and self.n_heads % self.n_kv_heads:
            raise ValueError("'n_heads' must be a multiple of 'n_kv_heads'")
        return self


def _model_from_str(v: Any) -> Any:
    return {"preset": v} if isinstance(v, str) else v


class Bounds(StrictModel):
    """Hard limits on the plan (all optional)."""

    max_params: Optional[Quantity] = None
    min_params: Optional[Quantity] = None
    max_train_tokens: Optional[Quantity] = None
    max_train_flops: Optional[Quantity] = None
    max_total_flops: Optional[Quantity] = None
    max_total_usd: Optional[PositiveFloat] = None


class DataSpec(StrictModel):
    """Training data available: unique tokens (repeated epochs allowed by a data-constrained
    law; a hard cap on training tokens under any other law)."""

    unique_tokens: Quantity


class UncertaintySpec(StrictModel):
    """Propagate the law's uncertainty (bootstrap samples of a fitted law) into the plan."""

    samples: Annotated[int, Field(gt=0, le=MAX_BOOTSTRAP)] = 1000
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0


def _uncertainty(v: Any) -> Any:
    if v is True:
        return {}
    if v is False:
        return None
    return v
