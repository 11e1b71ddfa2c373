"""The budget file: YAML schema (pydantic) and loader with ``file:line:col`` errors.

Quantities accept ``13B``, ``2T``, ``1.5e12``, ``2_000_000`` (planner.units).  Unknown keys are
errors with a did-you-mean hint.  ``planner schema`` prints this model's JSON Schema.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from planner.budget.limits import (
    KAPLAN_EXPONENT_RATIO,
    LAW_BOUNDS,
    MAX_BOOTSTRAP,
    MAX_COUNT,
    MAX_FLOPS,
    MAX_LOSS_NATS,
    MAX_SEED,
    check_numbers,
)
from planner.errors import InputError
from planner.units import parse_quantity
from planner.yaml_io import Marks, format_validation_error, read_yaml, read_yaml_file

SCHEMA_VERSION = 1


def _quantity(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return parse_quantity(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


Quantity = Annotated[float, BeforeValidator(_quantity), Field(ge=1, le=MAX_FLOPS)]
"""A count of at least 1: 13B, 2T, 1.5e12 (at most 1e32, planner.budget.limits)."""
NonNegQuantity = Annotated[float, BeforeValidator(_quantity), Field(ge=0, le=MAX_COUNT)]
PositiveFloat = Annotated[float, BeforeValidator(_finite),
                          Field(gt=0, le=MAX_FLOPS, allow_inf_nan=False)]
Fraction = Annotated[float, BeforeValidator(_finite), Field(gt=0, le=1, allow_inf_nan=False)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- law ------------------------------------------------------------------------------------
class PresetLaw(StrictModel):
    preset: str

    @field_validator("preset")
    @classmethod
    def _known(cls, v: str) -> str:
        from planner.laws import get_preset

        try:
            get_preset(v)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return v


class InlineChinchillaLaw(StrictModel):
    """Inline Chinchilla-form constants: ``L = E + A·N^-alpha + B·D^-beta``."""

    E: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["E"][0],
                                                        le=LAW_BOUNDS["E"][1])]
    A: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["A"][0],
                                                        le=LAW_BOUNDS["A"][1])]
    B: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["B"][0],
                                                        le=LAW_BOUNDS["B"][1])]
    alpha: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["alpha"][0],
                                                            le=LAW_BOUNDS["alpha"][1])]
    beta: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["beta"][0],
                                                           le=LAW_BOUNDS["beta"][1])]
    name: str = "inline"
    source: str = "user-supplied"


class InlineKaplanLaw(StrictModel):
    """Inline Kaplan constants: ``L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D``."""

    form: Literal["kaplan"]
    alpha_N: Annotated[float, BeforeValidator(_finite), Field(
        ge=LAW_BOUNDS["alpha_N"][0], le=LAW_BOUNDS["alpha_N"][1])] = 0.076
    alpha_D: Annotated[float, BeforeValidator(_finite), Field(
        ge=LAW_BOUNDS["alpha_D"][0], le=LAW_BOUNDS["alpha_D"][1])] = 0.103
    N_c: Annotated[float, BeforeValidator(_quantity), Field(
        ge=LAW_BOUNDS["N_c"][0], le=LAW_BOUNDS["N_c"][1])] = 6.4e13
    D_c: Annotated[float, BeforeValidator(_quantity), Field(
        ge=LAW_BOUNDS["D_c"][0], le=LAW_BOUNDS["D_c"][1])] = 1.8e13
    name: str = "inline-kaplan"

    @model_validator(mode="after")
    def _ratio(self) -> "InlineKaplanLaw":
        lo, hi = KAPLAN_EXPONENT_RATIO
        if not lo <= self.alpha_N / self.alpha_D <= hi:
            raise ValueError(f"alpha_N/alpha_D = {self.alpha_N / self.alpha_D:.3g} is outside "
                             f"[{lo:g}, {hi:g}] (0.74 in Kaplan et al. 2020)")
        return self


class LawFile(StrictModel):
    """A law file written by ``planner fit`` (path relative to the budget file)."""

    file: str


def _law_kind(v: Any) -> str:
    if isinstance(v, str):
        return "preset"
    if isinstance(v, dict):
        if "file" in v:
            return "file"
        if v.get("form") == "kaplan":
            return "kaplan"
        if "preset" in v:
            return "preset"
        return "chinchilla"
    if isinstance(v, BaseModel):
        return {PresetLaw: "preset", LawFile: "file", InlineKaplanLaw: "kaplan"}.get(
            type(v), "chinchilla")
    return "chinchilla"


def _law_from_str(v: Any) -> Any:
    return {"preset": v} if isinstance(v, str) else v


LawSpec = Annotated[
    Union[
        Annotated[PresetLaw, Tag("preset")],
        Annotated[InlineChinchillaLaw, Tag("chinchilla")],
        Annotated[InlineKaplanLaw, Tag("kaplan")],
        Annotated[LawFile, Tag("file")],
    ],
    Discriminator(_law_kind),
    BeforeValidator(_law_from_str),
]
LAW_TAGS = {"preset", "chinchilla", "kaplan", "file"}


# ---- target ---------------------------------------------------------------------------------
class MatchTarget(StrictModel):
    """Quality of a reference model: its loss under the budget's law."""

    params: Quantity
    tokens: Optional[Quantity] = None  # absent: the compute-optimal model of that size


class MappingFile(StrictModel):
    """A downstream mapping file written by ``planner fit-downstream`` (path relative to the
    budget file)."""

    file: str


def _mapping_spec(v: Any) -> Any:
    if isinstance(v, str) or (isinstance(v, dict) and set(v) == {"file"}) \
            or isinstance(v, MappingFile):
        return v
    raise ValueError("expected a preset name (planner downstream-presets) or {file: PATH}")


class DownstreamTarget(StrictModel):
    """Average top-1 error (a fraction) to reach, turned into a loss through a mapping
    ``Err(L) = ε − k·exp(−γ·L)`` (Gadre et al. 2024, arXiv 2403.08540): a preset name
    (``planner.laws.downstream.PRESET_NAMES``) or ``{file: mapping.yaml}``."""

    error: Annotated[float, BeforeValidator(_finite), Field(gt=0, lt=1, allow_inf_nan=False)]
    mapping: Annotated[Union[str, MappingFile], BeforeValidator(_mapping_spec)]


class Target(StrictModel):
    loss: Optional[Annotated[float, BeforeValidator(_finite),
                             Field(gt=0, le=MAX_LOSS_NATS)]] = None
    match: Optional[MatchTarget] = None
    downstream: Optional[DownstreamTarget] = None

    @model_validator(mode="after")
    def _one(self) -> "Target":
        if sum(x is not None for x in (self.loss, self.match, self.downstream)) != 1:
            raise ValueError("give exactly one of 'loss', 'match' or 'downstream'")
        return self


# ---- inference demand -----------------------------------------------------------------------
DEFAULT_TOKENS_PER_REQUEST = (1000.0, 250.0)
"""Request shape assumed for demand given as a token total (4:1 input:output, an assumption
stated in the plan; give ``tokens_per_request`` to replace it)."""


class TokensPerRequest(StrictModel):
    input: NonNegQuantity = 0.0
    output: NonNegQuantity = 0.0


class Inference(StrictModel):
    """Lifetime inference demand: total tokens, or requests × tokens per request, where
    requests may be a rate × lifetime (``requests_per_month`` × ``months``)."""

    tokens: Optional[NonNegQuantity] = None
    requests: Optional[NonNegQuantity] = None
    requests_per_month: Optional[NonNegQuantity] = None
    months: Optional[PositiveFloat] = None
    tokens_per_request: Optional[TokensPerRequest] = None

    @model_validator(mode="before")
    @classmethod
    def _rate(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k not in cls.model_fields for k in data):
            return data  # an unknown key (a typo such as 'request_per_month'): reported with
            # its line and a did-you-mean hint by the schema, before any pairing rule
        if isinstance(data, dict) and ("requests_per_month" in data or "months" in data):
            if "requests" in data:
                raise ValueError("give 'requests' or 'requests_per_month' with 'months', "
                                 "not both")
            if "requests_per_month" not in data or "months" not in data:
                raise ValueError("'requests_per_month' and 'months' go together")
            try:
                rpm = parse_quantity(data["requests_per_month"], what="requests_per_month")
                months = parse_quantity(data["months"], what="months")
            except ValueError as exc:
                raise ValueError(str(exc)) from None
            data = {**data, "requests": rpm * months}
        return data

    @property
    def requests_per_second(self) -> Optional[float]:
        """Average request rate (requests/s, 30-day months) when a rate was given."""
        if self.requests_per_month is None:
            return None
        return self.requests_per_month / (30.0 * 86400.0)

    @model_validator(mode="after")
    def _shape(self) -> "Inference":
        if self.tokens is not None and self.requests is not None:
            raise ValueError("give either 'tokens' (optionally with 'tokens_per_request', the "
                             "request shape) or 'requests' with 'tokens_per_request'")
        if self.tokens is None and self.requests is None and self.tokens_per_request is None:
            raise ValueError("give 'tokens' or 'requests' with 'tokens_per_request'")
        if self.tokens is None and (self.requests is None or self.tokens_per_request is None):
            raise ValueError("'requests' and 'tokens_per_request' go together")
        if self.tokens is not None and self.tokens_per_request is not None and (
                self.tokens_per_request.input + self.tokens_per_request.output) <= 0:
            raise ValueError("'tokens_per_request' must have input + output > 0")
        return self

    @property
    def request_shape(self) -> tuple[float, float, str]:
        """(input, output) tokens per request and where the split came from: given, or for a
        token total without ``tokens_per_request`` the documented default
        ``DEFAULT_TOKENS_PER_REQUEST`` (docs/serving-model.md)."""
        if self.tokens_per_request is not None:
            return (self.tokens_per_request.input, self.tokens_per_request.output, "given")
        i, o = DEFAULT_TOKENS_PER_REQUEST
        return (i, o, f"default split: {i:g} input + {o:g} output tokens per request")

    @property
    def lifetime_requests(self) -> float:
        """Requests over the lifetime (a token total divided by the request shape)."""
        if self.tokens is None:
            return self.requests
        i, o, _ = self.request_shape
        return self.tokens / (i + o)

    @property
    def input_tokens(self) -> float:
        """Lifetime prompt tokens (a token total split by the request shape)."""
        return self.lifetime_requests * self.request_shape[0]

    @property
    def output_tokens(self) -> float:
        return self.lifetime_requests * self.request_shape[1]

    @property
    def total_tokens(self) -> float:
        if self.tokens is not None:
            return self.tokens
        return self.input_tokens + self.output_tokens

    @property
    def by_request(self) -> bool:
        """True when demand is requests with a shape (latency SLOs need it)."""
        return self.tokens is None and self.tokens_per_request is not None


HardwareRef = Union[str, dict]
"""A profile name (``h100-sxm``), a YAML file path, or inline fields (may ``extends:``)."""


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


class Budget(StrictModel):
    """A planning budget (``schema_version: 1``)."""

    schema_version: Literal[1]
    name: Optional[str] = None
    description: Optional[str] = None
    law: LawSpec = Field(default_factory=lambda: PresetLaw(preset="epoch2024"))
    target: Target
    inference: Inference = Field(default_factory=lambda: Inference(tokens=0.0))
    objective: Literal["flops", "usd", "gpu_hours", "energy_kwh"] = "flops"
    constraints: Bounds = Field(default_factory=Bounds)
    train: Optional[TrainSpec] = None
    serve: Optional[ServeSpec] = None
    model: Annotated[Optional[ModelSpec], BeforeValidator(_model_from_str)] = None
    solver: Literal["auto", "gp", "iso_loss"] = "auto"
    data: Optional[DataSpec] = None
    uncertainty: Annotated[Optional[UncertaintySpec], BeforeValidator(_uncertainty)] = None

    @model_validator(mode="after")
    def _cross(self) -> "Budget":
        """Checks across blocks that need no law file, profile or solver."""
        if (self.uncertainty is not None and not isinstance(self.law, LawFile)
                and getattr(self.target, "downstream", None) is None):  # a mapping may have it
            from planner.analysis.uncertainty import PUBLISHED_SE

            name = self.law.preset if isinstance(self.law, PresetLaw) else self.law.name
            form = _law_form(self.law)
            if not (name in PUBLISHED_SE and form is not None and form[0] == "chinchilla"):
                raise ValueError(f"@uncertainty: law {name} has no uncertainty information: "
                                 "fit it with planner fit --bootstrap N and use law: {file: ...}"
                                 f" (or a law with published standard errors: "
                                 f"{', '.join(sorted(PUBLISHED_SE))})")
        serve = self.serve
        if serve is None:
            return self
        if not self.inference.by_request:
            for fld in ("max_time_per_output_token_ms", "max_time_to_first_token_ms"):
                if getattr(serve, fld) is not None:
                    raise ValueError(f"@serve.{fld}: needs inference demand as requests with "
                                     "tokens_per_request")
        if serve.quantization_penalty != "none" and serve.weight_bits != 16:
            form = _law_form(self.law)
            if form is not None and not form[1]:
                raise ValueError(f"@serve.quantization_penalty: the {form[0]} law cannot take an "
                                 "additive loss penalty; use quantization_penalty: none or a "
                                 "Chinchilla-form law")
        return self

    _source: Optional[str] = PrivateAttr(default=None)
    _marks: Optional[Marks] = PrivateAttr(default=None)  # default_factory costs ~40 µs

    @property
    def uses_hardware(self) -> bool:
        """True when costs go through hardware profiles (train/serve given, or a non-FLOPs
        objective or dollar limit)."""
        return (self.train is not None or self.serve is not None or self.objective != "flops"
                or self.constraints.max_total_usd is not None)

    @property
    def source(self) -> Optional[str]:
        """The file the budget was read from (None for dicts)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        return Path(self._source).parent if self._source else Path.cwd()

    def where(self, *path) -> str:
        """``file:line:col`` of a field, for messages about it."""
        line, col = (self._marks or {}).get(tuple(path), (0, 0))
        name = self._source or "<budget>"
        return f"{name}:{line}:{col}" if line else name


def _law_form(spec: Any) -> Optional[tuple[str, bool]]:
    """``(form, takes a quantisation penalty)`` of a budget's law when known without reading
    files (None for law files)."""
    from planner.laws import ALL_PRESETS, ChinchillaLaw, KaplanLaw

    if isinstance(spec, InlineKaplanLaw):
        law = KaplanLaw
    elif isinstance(spec, InlineChinchillaLaw):
        law = ChinchillaLaw
    elif isinstance(spec, PresetLaw):
        law = ALL_PRESETS.get(spec.preset)
    else:
        return None
    if law is None:
        return None
    return law.form, bool(getattr(law, "takes_quantization_penalty", law.form == "chinchilla"))


def budget_from_data(data: Any, marks: Marks | None = None, where: str = "<budget>") -> Budget:
    """Validate a parsed budget (dict) into a ``Budget``; ``InputError`` on anything wrong.

    Numbers beyond ``planner.budget.limits.MAX_ABS_NUMBER`` are refused first, so nothing
    overflows while validating."""
    marks = marks or {}
    if not isinstance(data, dict):
        line, col = marks.get((), (1, 1))
        raise InputError(f"{where}:{line}:{col}: (top level): a budget is a mapping of keys "
                         f"(schema_version, law, ...), got {_kind(data)}")
    check_numbers(data, marks, where)
    if "schema_version" not in data:
        raise InputError(f"{where}:1:1: schema_version: required key is missing (use 1)")
    if data.get("schema_version") != SCHEMA_VERSION:
        line, col = marks.get(("schema_version",), (1, 1))
        raise InputError(f"{where}:{line}:{col}: schema_version: this planner reads "
                         f"schema_version {SCHEMA_VERSION}, got {data.get('schema_version')!r}")
    if "scenarios" in data:
        line, col = marks.get(("scenarios", "__key__"), marks.get(("scenarios",), (1, 1)))
        raise InputError(f"{where}:{line}:{col}: scenarios: this is a scenario file (a budget "
                         "with named overrides); plan it with 'planner compare', or one "
                         "scenario at a time from a budget without 'scenarios:'")
    try:
        base_dir = Path(where).parent if where not in ("<budget>", "<string>") else None
        budget = Budget.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise InputError(_format(exc, marks, where)) from None
    budget._source = None if where == "<budget>" else where
    budget._marks = marks
    return budget


def _kind(data: Any) -> str:
    if isinstance(data, list):
        return "a list"
    if data is None:
        return "nothing"
    return f"a {type(data).__name__} value"


def _format(exc: ValidationError, marks: Marks, where: str) -> str:
    # drop discriminator tags from locations so messages read like the YAML
    errs = exc.errors(include_url=False)

    class _Shim:
        def errors(self, include_url=False):
            out = []
            for e in errs:
                e = dict(e)
                e["loc"] = tuple(p for p in e["loc"] if p not in LAW_TAGS
                                 and not (isinstance(p, str) and p.startswith("function-")))
                msg = e.get("msg", "")
                if msg.startswith("Value error, @"):  # a cross-field check names its field
                    sub, _, rest = msg[len("Value error, @"):].partition(": ")
                    e["loc"] = e["loc"] + tuple(sub.split("."))
                    e["msg"] = rest
                if e["loc"][:2] == ("model", "pins"):  # partial pins are written in model:
                    e["loc"] = ("model",) + e["loc"][2:]
                out.append(e)
            return out

    return format_validation_error(_Shim(), marks, where, Budget)


def load_budget(source: str | Path | dict) -> Budget:
    """Load a budget from a YAML file path, YAML text (contains a newline) or a dict."""
    if isinstance(source, dict):
        return budget_from_data(source)
    if isinstance(source, Path) or "\n" not in str(source):
        data, marks = read_yaml_file(source)
        return budget_from_data(data, marks, str(source))
    data, marks = read_yaml(str(source))
    return budget_from_data(data, marks, "<string>")


def budget_json_schema() -> dict:
    """Draft 2020-12 JSON Schema of the budget file as people write it
    (planner.budget.json_schema)."""
    from planner.budget.json_schema import budget_schema

    return budget_schema()
