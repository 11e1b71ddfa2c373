"""The hardware cost model of one serving configuration: named monomial items in GPU-seconds,
latency in seconds, memory in bytes, and their conversion to dollars, GPU-hours and energy.

Dollars = GPU-hours · price.  Energy = GPU-hours · power of the phase · PUE: compute-bound
phases (training, prefill) at TDP, memory-bound decode at the profile's ``decode_watts``,
provisioned-but-idle GPU-hours at ``idle_watts`` (``HardwareProfile.phase_watts``: a
``planner bench`` measurement first; a missing idle figure falls back to decode, a missing
decode figure to TDP; docs/serving-model.md).
Serving is billed per provisioned GPU-hour (``planner.costs.capacity``) unless the budget says
``billing: busy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from planner.costs.capacity import Capacity, effective_batch, request_latency_s
from planner.costs.communication import Interconnect
from planner.costs.inference import (
    Draft,
    Roofline,
    ServingRates,
    lifetime_items,
    loaded_time_per_output_token,
    replica_memory,
    time_per_output_token,
    time_to_first_token,
)
from planner.costs.setup import CostSetup, Demand, ServeSetup, TrainSetup
from planner.costs.shape import Shape, given_shape, rule_shape
from planner.costs.training import draft_training_gpu_seconds, training_gpu_seconds
from planner.terms import CostItem, merge_like_terms, uniform

if TYPE_CHECKING:  # profiles are only passed through here
    from planner.hardware import HardwareProfile

TRAIN_ITEMS = ("train", "draft_train")
SERVE_ITEMS = ("prefill", "decode", "draft", "overhead", "communication")
UNITS = ("usd", "gpu_hours", "energy_kwh")
PHASE = {"train": "train", "draft_train": "train", "prefill": "prefill", "decode": "decode",
         "draft": "decode", "overhead": "decode", "communication": "decode",
         "provisioned": "idle"}
DEFAULT_LINK_LATENCY_US = {"nvlink": 10.0, "infinity-fabric": 10.0, "pcie": 25.0}


@dataclass(frozen=True)
class ServingConfig:
    """The discrete choices the optimizer loops over."""

    weight_bits: int = 16
    gamma: int = 0  # draft tokens per target pass; 0: no speculative decoding
    gpus_per_replica: int = 1

    def label(self) -> str:
        sd = f", γ={self.gamma}" if self.gamma else ""
        return f"{self.weight_bits}-bit weights{sd}, {self.gpus_per_replica} GPU/replica"


def serving_rates(hw: HardwareProfile, spec: ServeSetup, weight_bits: int) -> ServingRates:
    """Effective serving rates: workload efficiency × spec (× calibration when measured)."""
    precision = spec.compute_precision
    if precision in ("fp8", "int8") and uniform(weight_bits > 8):
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
    train: TrainSetup
    serve: ServeSetup
    demand: Demand
    shape: Shape
    roofline: Roofline
    gpu_seconds: dict[str, CostItem]  # busy items (+ "provisioned" when billed so)
    latency: dict[str, CostItem]  # seconds
    memory: CostItem  # bytes per replica
    memory_limit_bytes: float
    capacity: Optional[Capacity] = None

    @property
    def provisioned(self) -> bool:
        return "provisioned" in self.gpu_seconds

    def factor(self, item: str, unit: str) -> float:
        """Conversion of one GPU-second of ``item`` into ``unit`` (energy at the item's phase
        power: ``PHASE``)."""
        hw = self.train_hw if item in TRAIN_ITEMS else self.serve_hw
        if unit == "usd":
            return hw.price_usd_per_hour / 3600.0
        if unit == "gpu_hours":
            return 1.0 / 3600.0
        if unit == "energy_kwh":
            return hw.phase_watts(PHASE[item]) / 1000.0 * hw.pue / 3600.0
        if unit == "gpu_s":
            return 1.0
        raise ValueError(unit)

    def objective_factor(self, item: str, unit: str) -> float:
        """What one busy GPU-second of ``item`` adds to the bill: its full factor under busy
        billing; under provisioned billing only the power above idle (the provisioned item
        already pays every GPU-second at the idle rate: 0 for dollars and GPU-hours)."""
        f = self.factor(item, unit)
        if self.provisioned and item in SERVE_ITEMS:
            f -= self.factor("provisioned", unit)
        return f

    def items_in(self, unit: str, names=None) -> tuple[CostItem, ...]:
        """Items in ``unit``.  ``names`` None: what the plan pays (training, and serving as
        billed); given names: those busy items at their full factor."""
        if names is not None:
            return tuple(
                CostItem(n, self.gpu_seconds[n].scaled(self.factor(n, unit)).alternatives, unit)
                for n in names)
        out = [CostItem(n, self.gpu_seconds[n].scaled(self.factor(n, unit)).alternatives, unit)
               for n in TRAIN_ITEMS]
        if self.provisioned:
            out.append(CostItem("provisioned", self.gpu_seconds["provisioned"].scaled(
                self.factor("provisioned", unit)).alternatives, unit))
        for n in SERVE_ITEMS:
            f = self.objective_factor(n, unit)
            if self.provisioned and unit in ("usd", "gpu_hours", "gpu_s"):
                continue  # already paid by the provisioned item (f = 0)
            out.append(CostItem(n, self.gpu_seconds[n].scaled(f).alternatives, unit))
        return tuple(out)

    def total_in(self, unit: str, names=None) -> CostItem:
        """Sum of items as one item (each a single posynomial or a max: sums of maxes are
        expanded into a max over all combinations)."""
        alts = [()]
        for item in self.items_in(unit, names):
            alts = [a + p for a in alts for p in item.alternatives]
        return CostItem(f"total_{unit}", tuple(alts), unit)


def build_cost_model(setup: CostSetup, config: ServingConfig, train_hw: HardwareProfile,
                     serve_hw: HardwareProfile) -> CostModel:
    """The cost model of one serving configuration (``setup`` from
    ``planner.optimize.build.cost_setup``; profiles resolved by the caller)."""
    train, serve = setup.train, setup.serve
    m = setup.shape
    if m is not None:
        shape = given_shape(m.params, m.n_layer, m.d_model, m.n_heads, m.n_kv_heads, m.vocab,
                            train.seq_len)
    else:
        shape = rule_shape(train.seq_len)
    sd = serve.speculative
    rates = serving_rates(serve_hw, serve, config.weight_bits)
    draft_overhead = (sd.draft_step_overhead_s if sd and sd.draft_step_overhead_s is not None
                      else rates.overhead_s)
    draft = Draft(sd.acceptance if sd else 0.5, config.gamma,
                  sd.draft_params if sd else None, sd.draft_fraction if sd else None,
                  draft_overhead)
    demand = setup.demand
    g = config.gpus_per_replica
    capacity = capacity_of(serve, demand, g)
    kind = serve_hw.link_kind or ""
    latency_us = serve_hw.link_latency_us if "link_latency_us" in serve_hw.model_fields_set \
        else DEFAULT_LINK_LATENCY_US.get(kind, serve_hw.link_latency_us)
    link = Interconnect(g, serve_hw.link_bandwidth_per_direction, latency_us * 1e-6, 2.0, kind)
    roof = Roofline(rates, shape, capacity.batch, config.weight_bits, serve.kv_bits,
                    demand.prompt_tokens + demand.output_tokens / 2.0, draft, link, rule_shape())
    items = {
        "train": training_gpu_seconds(train_hw, train.precision, train.mfu, shape),
        "draft_train": draft_training_gpu_seconds(
            train_hw, train.precision, train.mfu, draft.params, draft.fraction,
            sd.draft_train_tokens if sd else None,
            active=bool(sd and sd.train_draft and uniform(config.gamma > 0))),
        **lifetime_items(roof, demand.requests, demand.prompt_tokens, demand.output_tokens, g),
    }
    if capacity.provisioned:
        alts = [()]
        for n in SERVE_ITEMS:
            alts = [a + p for a in alts for p in items[n].alternatives]
        # like terms summed once, left to right: the same sums as merging after every item
        busy = CostItem("busy", tuple(merge_like_terms(a) for a in alts), "gpu_s")
        items["provisioned"] = capacity.provisioned_item(busy)
    latency = {"time_per_output_token_s": loaded_time_per_output_token(
                   roof, demand.prompt_tokens, demand.output_tokens, g),
               "time_per_output_token_unloaded_s": time_per_output_token(roof, g),
               "time_to_first_token_s": time_to_first_token(roof, demand.prompt_tokens, g)}
    memory = replica_memory(roof, demand.prompt_tokens + demand.output_tokens)
    limit = g * serve_hw.hbm_bytes * (1.0 - serve_hw.hbm_headroom)
    return CostModel(config, train_hw, serve_hw, train, serve, demand, shape, roof, items,
                     latency, memory, limit, capacity)


def capacity_of(serve: ServeSetup, demand: Demand, gpus_per_replica: int) -> Capacity:
    """Capacity settings: Little's-law batch, billing (busy when no request rate is known)."""
    rate, life = demand.requests_per_second, demand.lifetime_seconds
    w = request_latency_s(serve.max_time_to_first_token_ms, serve.max_time_per_output_token_ms,
                          demand.output_tokens)
    billing, note = serve.billing, ""
    if billing == "provisioned" and (rate is None or life is None):
        billing = "busy"
        note = ("busy GPU-hours billed: no request rate to provision for (give "
                "inference.requests_per_month and months)")
    batch = effective_batch(serve.batch_size, rate, w, serve.min_replicas)
    return Capacity(billing, serve.peak_factor, serve.target_utilization, serve.min_replicas,
                    gpus_per_replica, rate, life, w, serve.batch_size, batch,
                    serve.cold_start_s, serve.keep_alive_s, note)
