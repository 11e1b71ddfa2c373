"""Everything a plan reports about a model (N, D) under one cost model, from the same items
the solvers minimised: itemised costs, serving footprint, latency, idealized runtime.
"""

from __future__ import annotations

import math
from dataclasses import replace

from planner.costs.inference import Draft, time_per_output_token, time_to_first_token
from planner.costs.model import SERVE_ITEMS, TRAIN_ITEMS, UNITS, CostModel
from planner.costs.speculative import expected_tokens, speedup


def cost_breakdown(cm: CostModel, params: float, tokens: float) -> dict[str, float]:
    """Dollars, GPU-hours and energy per item and in total (base units in key names)."""
    gpu_s = {n: float(cm.gpu_seconds[n].value(params, tokens)) for n in TRAIN_ITEMS + SERVE_ITEMS}
    out: dict[str, float] = {}
    for unit in UNITS:
        per = {n: gpu_s[n] * cm.factor(n, unit) for n in gpu_s}
        train = per["train"] + per["draft_train"]
        inference = sum(per[n] for n in SERVE_ITEMS)
        for n, v in per.items():
            out[f"{n}_{unit}"] = v
        if unit == "energy_kwh":
            out["train_energy_kwh"], out["inference_energy_kwh"] = train, inference
            out["energy_kwh"] = train + inference
        else:
            out[f"train_{unit}"], out[f"inference_{unit}"] = train, inference
            out[f"total_{unit}"] = train + inference
    gpus = cm.train.gpus or cm.train.max_gpus
    if cm.train.deadline_days:
        seconds = cm.train.deadline_days * 86400.0
        out["train_gpus_for_deadline"] = float(
            math.ceil((gpu_s["train"] + gpu_s["draft_train"]) / seconds))
    if gpus:
        out["train_gpus"] = float(gpus)
        out["train_wall_clock_days"] = (gpu_s["train"] + gpu_s["draft_train"]) / gpus / 86400.0
    return out


def _power_of_two_at_least(x: float) -> int:
    return 1 if x <= 1 else 2 ** math.ceil(math.log2(x))


def serving_metrics(cm: CostModel, params: float, tokens: float) -> dict:
    """Latency, footprint and decode regime of the plan's serving configuration."""
    roof, g, d = cm.roofline, cm.config.gpus_per_replica, cm.demand
    out: dict = {
        "hardware": cm.serve_hw.name,
        "batch_size": roof.batch,
        "weight_bits": cm.config.weight_bits,
        "kv_bits": roof.kv_bits,
        "gpus_per_replica": g,
        "replica_memory_bytes": float(cm.memory.value(params, tokens)),
        "replica_memory_limit_bytes": cm.memory_limit_bytes,
        "efficiency": roof.rates.basis,
        "shape_rule": cm.shape.source,
    }
    compute = sum(t.value(params, tokens) for t in roof.compute())
    memory = sum(t.value(params, tokens) for t in roof.memory()) if roof.memory() else 0.0
    out["decode_regime"] = "compute-bound" if compute >= memory else "memory-bound"
    if not roof.rates.simple:
        out["ridge_batch"] = roof.batch * memory / compute if compute else math.inf
    if d.by_request:
        tpot = float(cm.latency["time_per_output_token_s"].value(params, tokens))
        out["time_to_first_token_s"] = float(
            cm.latency["time_to_first_token_s"].value(params, tokens))
        out["time_per_output_token_s"] = tpot
        out["replica_decode_tokens_per_s"] = roof.batch / tpot  # while decoding
        if d.lifetime_seconds:
            # busy GPUs on average: all serving GPU-seconds (prefill + decode) over the lifetime
            busy = sum(float(cm.gpu_seconds[n].value(params, tokens)) for n in SERVE_ITEMS)
            out["replicas"] = max(1, math.ceil(busy / d.lifetime_seconds / g))
            out["serving_gpus"] = out["replicas"] * g
        out.update(idealized_runtime(cm, params, tokens))
    return out


def idealized_runtime(cm: CostModel, params: float, tokens: float) -> dict[str, float]:
    """Narayanan et al. 2023 (arXiv 2305.02440): ``runtime(p, o) = f(p) + τ·(o − 1)`` at batch 1
    without contention, tensor-parallel on the fewest accelerators that hold the model; the
    cost-aware variant multiplies by that number of accelerators."""
    roof, d, hw = cm.roofline, cm.demand, cm.serve_hw
    weights = params * cm.config.weight_bits / 8.0
    g_min = _power_of_two_at_least(weights / (hw.hbm_bytes * (1.0 - hw.hbm_headroom)))
    plain = replace(roof, batch=1, draft=Draft(roof.draft.alpha, 0, roof.draft.params,
                                               roof.draft.fraction))
    f = float(time_to_first_token(plain, d.prompt_tokens, g_min).value(params, tokens))
    tau = float(time_per_output_token(plain, g_min).value(params, tokens))
    runtime = f + tau * max(d.output_tokens - 1.0, 0.0)
    return {
        "idealized_runtime_s": runtime,
        "idealized_first_token_s": f,
        "idealized_per_token_s": tau,
        "idealized_accelerators": g_min,
        "idealized_accelerator_seconds": runtime * g_min,
        "idealized_cost_usd": runtime * g_min * hw.price_usd_per_hour / 3600.0,
    }


def speculative_summary(cm: CostModel, params: float, tokens: float) -> dict | None:
    """γ, E(α, γ), c and the speed-up actually obtained in the plan's roofline."""
    sd = cm.serve.speculative
    if sd is None:
        return None
    roof = cm.roofline
    draft_t = max(sum(t.value(params, tokens) for t in roof.draft_compute()),
                  sum(t.value(params, tokens) for t in roof.draft_memory()) if
                  roof.draft_memory() else 0.0)
    target_t = max(sum(t.value(params, tokens) for t in roof.compute()),
                   sum(t.value(params, tokens) for t in roof.memory()) if roof.memory() else 0.0)
    g = cm.config.gamma
    c = float(draft_t / target_t) if target_t else math.inf  # one draft step / one target step
    base = replace(cm.roofline, draft=replace(cm.roofline.draft, gamma=0))
    t_plain = float(time_per_output_token(base, cm.config.gpus_per_replica).value(params, tokens))
    t_sd = float(cm.latency["time_per_output_token_s"].value(params, tokens)) \
        if "time_per_output_token_s" in cm.latency else math.nan
    draft_params = sd.draft_params if sd.draft_params is not None else sd.draft_fraction * params
    return {
        "enabled": g > 0,
        "gamma": g,
        "acceptance": sd.acceptance,
        "draft_params": float(draft_params),
        "expected_tokens_per_pass": expected_tokens(sd.acceptance, g),
        "c": c,
        "speedup": t_plain / t_sd if g and t_sd else 1.0,
        "leviathan_speedup": speedup(sd.acceptance, g, c),
    }
