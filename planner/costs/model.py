"""The hardware cost model of one serving configuration: named monomial items in GPU-seconds,
latency in seconds, memory in bytes, and their conversion to dollars, GPU-hours and energy.

Dollars = GPU-hours · price; energy = GPU-hours · power · PUE (docs/cost-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from planner.budget import Budget, ServeSpec, TrainSpec
from planner.costs.inference import (
    Draft,
    Roofline,
    ServingRates,
    lifetime_items,
    replica_memory,
    time_per_output_token,
    time_to_first_token,
)
from planner.costs.shape import Shape, given_shape, rule_shape
from planner.costs.training import draft_training_gpu_seconds, training_gpu_seconds
from planner.errors import InputError
from planner.hardware import HardwareProfile, load_profile, profile_from_data
from planner.terms import CostItem

TRAIN_ITEMS = ("train", "draft_train")
SERVE_ITEMS = ("prefill", "decode", "draft", "overhead")
UNITS = ("usd", "gpu_hours", "energy_kwh")


@dataclass(frozen=True)
class ServingConfig:
    """The discrete choices the optimizer loops over."""

    weight_bits: int = 16
    gamma: int = 0  # draft tokens per target pass; 0: no speculative decoding
    gpus_per_replica: int = 1

    def label(self) -> str:
        sd = f", γ={self.gamma}" if self.gamma else ""
        return f"{self.weight_bits}-bit weights{sd}, {self.gpus_per_replica} GPU/replica"


@dataclass(frozen=True)
class Demand:
    """Lifetime demand in the shape the cost model reads."""

    requests: float
    prompt_tokens: float  # per request
    output_tokens: float  # per request
    requests_per_second: Optional[float]
    by_request: bool  # False: demand was a token total, costed as prefill
    lifetime_seconds: Optional[float] = None  # months × 30 days, when a rate was given


def demand_of(budget: Budget) -> Demand:
    inf = budget.inference
    if inf.tokens is not None:
        return Demand(inf.tokens, 1.0, 0.0, None, False)
    tpr = inf.tokens_per_request
    life = inf.months * 30.0 * 86400.0 if inf.months is not None else None
    return Demand(inf.requests, tpr.input, tpr.output, inf.requests_per_second, True, life)


def resolve_hardware(ref, budget: Budget, field: str) -> HardwareProfile:
    """A profile from a name, a file path (relative to the budget) or inline fields."""
    try:
        if isinstance(ref, str):
            return load_profile(ref, budget.base_dir)
        data = dict(ref)
        data.setdefault("name", f"{field}-inline")
        return profile_from_data(data, f"{budget.where(field, 'hardware')}", budget.base_dir)
    except InputError as exc:
        raise InputError(f"{budget.where(field, 'hardware')}: {field}.hardware: {exc}") from None


def serving_rates(hw: HardwareProfile, spec: ServeSpec, weight_bits: int) -> ServingRates:
    """Effective serving rates: workload efficiency × spec (× calibration when measured)."""
    precision = spec.compute_precision
    if precision in ("fp8", "int8") and weight_bits > 8:
        precision = "bf16"  # 16-bit weights run on the 16-bit tensor cores
    peak = hw.peak_flops(precision)
    if spec.mfu_prefill is not None:
        return ServingRates(peak * spec.mfu_prefill, peak * spec.mfu_decode, hw.hbm_bandwidth,
                            0.0, True, "FLOPs at the budget's MFUs (Sardana et al. 2024)")
    if spec.efficiency == "idealized":
        return ServingRates(peak, peak, hw.hbm_bandwidth, 0.0, False,
                            "idealized roofline (100% of spec)")
    cal_c, cal_b = hw.calibration(precision)
    w = hw.workload
    return ServingRates(peak * w.prefill_mfu * cal_c, peak * w.decode_mfu * cal_c,
                        hw.hbm_bandwidth * w.decode_bandwidth * cal_b, w.step_overhead_s, False,
                        f"workload efficiency × {hw.efficiency_basis}")


@dataclass(frozen=True)
class CostModel:
    """Named cost items of one configuration (GPU-seconds unless stated)."""

    config: ServingConfig
    train_hw: HardwareProfile
    serve_hw: HardwareProfile
    train: TrainSpec
    serve: ServeSpec
    demand: Demand
    shape: Shape
    roofline: Roofline
    gpu_seconds: dict[str, CostItem]
    latency: dict[str, CostItem]  # seconds
    memory: CostItem  # bytes per replica
    memory_limit_bytes: float

    def factor(self, item: str, unit: str) -> float:
        """Conversion of one GPU-second of ``item`` into ``unit``."""
        hw = self.train_hw if item in TRAIN_ITEMS else self.serve_hw
        if unit == "usd":
            return hw.price_usd_per_hour / 3600.0
        if unit == "gpu_hours":
            return 1.0 / 3600.0
        if unit == "energy_kwh":
            return hw.power_kw * hw.pue / 3600.0
        if unit == "gpu_s":
            return 1.0
        raise ValueError(unit)

    def items_in(self, unit: str, names=TRAIN_ITEMS + SERVE_ITEMS) -> tuple[CostItem, ...]:
        return tuple(
            CostItem(n, self.gpu_seconds[n].scaled(self.factor(n, unit)).alternatives, unit)
            for n in names
        )

    def total_in(self, unit: str, names=TRAIN_ITEMS + SERVE_ITEMS) -> CostItem:
        """Sum of items as one item (each a single posynomial or a max: sums of maxes are
        expanded into a max over all combinations)."""
        alts = [()]
        for item in self.items_in(unit, names):
            alts = [a + p for a in alts for p in item.alternatives]
        return CostItem(f"total_{unit}", tuple(alts), unit)


def build_cost_model(budget: Budget, config: ServingConfig,
                     train_hw: HardwareProfile | None = None,
                     serve_hw: HardwareProfile | None = None) -> CostModel:
    train = budget.train or TrainSpec()
    serve = budget.serve or ServeSpec()
    train_hw = train_hw or resolve_hardware(train.hardware, budget, "train")
    serve_hw = serve_hw or resolve_hardware(serve.hardware, budget, "serve")
    m = budget.model
    if m is not None and m.n_layer is not None:
        shape = given_shape(m.params, m.n_layer, m.d_model, m.n_heads, m.n_kv_heads, m.vocab,
                            train.seq_len)
    else:
        shape = rule_shape()
    sd = serve.speculative
    draft = Draft(sd.acceptance if sd else 0.5, config.gamma,
                  sd.draft_params if sd else None, sd.draft_fraction if sd else None)
    demand = demand_of(budget)
    rates = serving_rates(serve_hw, serve, config.weight_bits)
    roof = Roofline(rates, shape, serve.batch_size, config.weight_bits, serve.kv_bits,
                    demand.prompt_tokens + demand.output_tokens / 2.0, draft)
    g = config.gpus_per_replica
    items = {
        "train": training_gpu_seconds(train_hw, train.precision, train.mfu, shape),
        "draft_train": draft_training_gpu_seconds(
            train_hw, train.precision, train.mfu, draft.params, draft.fraction,
            sd.draft_train_tokens if sd else None,
            active=bool(sd and sd.train_draft and config.gamma > 0)),
        **lifetime_items(roof, demand.requests, demand.prompt_tokens, demand.output_tokens, g),
    }
    latency = {}
    if demand.by_request:
        latency = {"time_per_output_token_s": time_per_output_token(roof, g),
                   "time_to_first_token_s": time_to_first_token(roof, demand.prompt_tokens, g)}
    memory = replica_memory(roof, demand.prompt_tokens + demand.output_tokens)
    limit = g * serve_hw.hbm_bytes * (1.0 - serve_hw.hbm_headroom)
    return CostModel(config, train_hw, serve_hw, train, serve, demand, shape, roof, items,
                     latency, memory, limit)
