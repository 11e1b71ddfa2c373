"""Everything a plan reports about a model (N, D) under one cost model, from the same items
the solvers minimised: itemised costs, serving footprint, latency, idealized runtime.
"""

from __future__ import annotations

import math
from dataclasses import replace

from planner.costs.inference import time_per_output_token, time_to_first_token
from planner.costs.model import SERVE_ITEMS, TRAIN_ITEMS, UNITS, CostModel
from planner.costs.speculative import expected_tokens, speedup


def cost_breakdown(cm: CostModel, params: float, tokens: float) -> dict[str, float]:
    """Dollars, GPU-hours and energy per item and in total (base units in key names).

    Busy items (``prefill_usd``, ``decode_usd``, ...) are at their full rates; under
    provisioned billing ``idle_<unit>`` is what the provisioned GPU-hours add on top (idle
    replicas, peak headroom, the min-replica floor), so items sum to the total."""
    gpu_s = {n: float(cm.gpu_seconds[n].value(params, tokens)) for n in cm.gpu_seconds}
    busy_s = sum(gpu_s[n] for n in SERVE_ITEMS)
    out: dict[str, float] = {}
    for unit in UNITS:
        per = {n: gpu_s[n] * cm.factor(n, unit) for n in TRAIN_ITEMS + SERVE_ITEMS}
        train = per["train"] + per["draft_train"]
        busy = sum(per[n] for n in SERVE_ITEMS)
        if cm.provisioned:
            inference = gpu_s["provisioned"] * cm.factor("provisioned", unit) + sum(
                gpu_s[n] * cm.objective_factor(n, unit) for n in SERVE_ITEMS)
        else:
            inference = busy
        for n, v in per.items():
            out[f"{n}_{unit}"] = v
        out[f"idle_{unit}"] = inference - busy
        if unit == "energy_kwh":
            out["train_energy_kwh"], out["inference_energy_kwh"] = train, inference
            out["energy_kwh"] = train + inference
        else:
            out[f"train_{unit}"], out[f"inference_{unit}"] = train, inference
            out[f"total_{unit}"] = train + inference
    out["busy_gpu_hours"] = busy_s / 3600.0
    out["provisioned_gpu_hours"] = (gpu_s["provisioned"] if cm.provisioned else busy_s) / 3600.0
    gpus = cm.train.gpus or cm.train.max_gpus
    if cm.train.deadline_days:
        seconds = cm.train.deadline_days * 86400.0
        out["train_gpus_for_deadline"] = float(
            math.ceil((gpu_s["train"] + gpu_s["draft_train"]) / seconds))
    if gpus:
        out["train_gpus"] = float(gpus)
        out["train_wall_clock_days"] = (gpu_s["train"] + gpu_s["draft_train"]) / gpus / 86400.0
    return out


def capacity_summary(cm: CostModel, params: float, tokens: float) -> dict:
    """Replicas (continuous, as optimised, and integer, as deployed), utilisation, provisioned
    vs busy GPU-hours, and the serving cost re-evaluated with the integer replica count."""
    cap = cm.capacity
    busy = sum(float(cm.gpu_seconds[n].value(params, tokens)) for n in SERVE_ITEMS)
    out: dict = {"billing": cap.billing, "peak_to_mean": cap.peak_to_mean,
                 "target_utilization": cap.target_utilization, "min_replicas": cap.min_replicas,
                 "configured_batch": cap.configured_batch, "batch_run": cap.batch,
                 "request_latency_s": cap.request_latency_s,
                 "busy_gpu_hours": busy / 3600.0}
    if cap.note:
        out["note"] = cap.note
    if cap.lifetime_s:
        cont, whole = cap.replicas(busy)
        g, life = cap.gpus_per_replica, cap.lifetime_s
        cold = cap.cold_starts() * g * (cap.cold_start_s + cap.keep_alive_s)
        prov_cont = (float(cm.gpu_seconds["provisioned"].value(params, tokens))
                     if cm.provisioned else g * life * cont + cold)
        prov_int = g * life * whole + cold
        out.update({
            "replicas_continuous": cont, "replicas": whole, "serving_gpus": whole * g,
            "provisioned_gpu_hours": prov_cont / 3600.0,
            "provisioned_gpu_hours_integer": prov_int / 3600.0,
            "utilization": busy / prov_cont if prov_cont else math.nan,
            "cold_starts": cap.cold_starts(),
        })
        if cm.provisioned:
            extra = sum(float(cm.gpu_seconds[n].value(params, tokens))
                        * cm.objective_factor(n, "usd") for n in SERVE_ITEMS)
            out["inference_usd_integer_replicas"] = prov_int * cm.factor(
                "provisioned", "usd") + extra
    return out


def _power_of_two_at_least(x: float) -> int:
    return 1 if x <= 1 else 2 ** math.ceil(math.log2(x))


def serving_metrics(cm: CostModel, params: float, tokens: float) -> dict:
    """Latency, footprint, capacity and decode regime of the plan's serving configuration."""
    roof, g, d = cm.roofline, cm.config.gpus_per_replica, cm.demand
    out: dict = {
        "hardware": cm.serve_hw.name,
        "batch_size": roof.batch,
        "configured_batch_size": cm.serve.batch_size,
        "weight_bits": cm.config.weight_bits,
        "kv_bits": roof.kv_bits,
        "gpus_per_replica": g,
        "interconnect": cm.serve_hw.link_kind or cm.serve_hw.link or "unknown",
        "replica_memory_bytes": float(cm.memory.value(params, tokens)),
        "replica_memory_limit_bytes": cm.memory_limit_bytes,
        "efficiency": roof.rates.basis,
        "shape_rule": cm.shape.source,
        "demand_split": d.split,
    }
    compute = sum(t.value(params, tokens) for t in roof.compute())
    memory = sum(t.value(params, tokens) for t in roof.memory()) if roof.memory() else 0.0
    out["decode_regime"] = "compute-bound" if compute >= memory else "memory-bound"
    if not roof.rates.simple:
        ridge = roof.ridge_batch(params)
        out["ridge_batch"] = ridge if math.isfinite(ridge) else "never"
    tpot = float(cm.latency["time_per_output_token_s"].value(params, tokens))
    out["time_to_first_token_s"] = float(
        cm.latency["time_to_first_token_s"].value(params, tokens))
    out["time_per_output_token_s"] = tpot
    out["time_per_output_token_unloaded_s"] = float(
        cm.latency["time_per_output_token_unloaded_s"].value(params, tokens))
    out["replica_decode_tokens_per_s"] = roof.batch / tpot  # with prefill interleaved
    out["capacity"] = capacity_summary(cm, params, tokens)
    if "replicas" in out["capacity"]:
        out["replicas"] = out["capacity"]["replicas"]
        out["serving_gpus"] = out["capacity"]["serving_gpus"]
        out["utilization"] = out["capacity"]["utilization"]
    out.update(idealized_runtime(cm, params, tokens))
    return out


def idealized_runtime(cm: CostModel, params: float, tokens: float) -> dict[str, float]:
    """Narayanan et al. 2023 (arXiv 2305.02440): ``runtime(p, o) = f(p) + τ·(o − 1)`` at batch 1
    without contention, tensor-parallel on the fewest accelerators that hold the model, with the
    plan's speculative decoding (τ per generated token); the cost-aware variant multiplies by
    that number of accelerators."""
    roof, d, hw = cm.roofline, cm.demand, cm.serve_hw
    weights = params * cm.config.weight_bits / 8.0
    g_min = _power_of_two_at_least(weights / (hw.hbm_bytes * (1.0 - hw.hbm_headroom)))
    plain = replace(roof, batch=1, link=replace(roof.link, gpus=g_min))
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
        "idealized_speculative_gamma": roof.draft.gamma,
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
    t_sd = float(cm.latency["time_per_output_token_unloaded_s"].value(params, tokens))
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
