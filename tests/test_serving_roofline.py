"""Serving roofline pieces against hand counts: ring all-reduce, attention FLOPs of a
Llama-2-7B shape, one prefill roofline, loaded TPOT, ridge batch against a direct scan, draft
KV cache, default demand split, device HBM bytes."""

from dataclasses import replace

import numpy as np
import pytest

from planner.budget import budget_from_data, load_budget
from planner.costs.communication import Interconnect, ring_allreduce_seconds
from planner.costs.inference import prefill_alternatives
from planner.costs.model import ServingConfig
from planner.costs.shape import given_shape, rule_shape
from planner.costs.training import training_gpu_seconds
from planner.hardware import load_profile
from planner.optimize import optimize
from planner.optimize.setup import cost_model

LLAMA2_7B = dict(params=6.74e9, n_layer=32, d_model=4096, n_heads=32, n_kv_heads=32,
                 vocab=32000)


def budget(serve, model=None, tin=500, tout=200, **inference):
    inf = inference or {"requests": "1B"}
    data = {"schema_version": 1, "target": {"loss": 2.3},
            "inference": {**inf, "tokens_per_request": {"input": tin, "output": tout}},
            "train": {"hardware": "h100-sxm"}, "serve": serve, "objective": "usd"}
    if model:
        data["model"] = model
    return budget_from_data(data)


# ---- 2. tensor-parallel communication -------------------------------------------------------
def test_ring_allreduce_by_hand():
    # 8 GPUs, 1 MiB over 450 GB/s per direction + 10 µs: 2·7/8·2^20/450e9 + 1e-5
    assert ring_allreduce_seconds(2**20, 8, 450e9, 1e-5) == pytest.approx(
        1.75 * 2**20 / 450e9 + 1e-5, rel=1e-15)
    assert ring_allreduce_seconds(2**20, 1, 450e9, 1e-5) == 0.0


@pytest.mark.parametrize("g", [2, 4, 8])
def test_tp_step_is_two_allreduces_per_layer(g):
    """Llama-2-7B decode step at batch 16 on g H100s: 64 all-reduces of 16·4096·2 bytes."""
    shape = given_shape(6.74e9, 32, 4096, 32, 32, 32000, 4096)
    link = Interconnect(g, 450e9, 10e-6)
    t = sum(term.value(6.74e9, 1.0) for term in link.step_seconds(shape, 16))
    one = 2 * (g - 1) / g * 16 * 4096 * 2 / 450e9 + 10e-6
    assert t == pytest.approx(64 * one, rel=1e-12)


def test_more_gpus_per_replica_are_not_a_free_speedup():
    """70B at batch 1 on H100: TPOT at TP g = weight time/g + 160 all-reduces (each ≥ 10 µs)."""
    out = {}
    for g in (1, 2, 4, 8):
        b = budget({"hardware": "h100-sxm", "batch_size": 1, "gpus_per_replica": g},
                   tin=1, tout=2)
        cm = cost_model(b, ServingConfig(16, 0, g))
        out[g] = float(cm.latency["time_per_output_token_unloaded_s"].value(70e9, 1.0))
        if g > 1:
            n_layer = (70e9 / 196_608) ** (1 / 3)
            d_model = 128 * n_layer
            comm = 2 * n_layer * (2 * (g - 1) / g * d_model * 2 / 450e9 + 10e-6)
            no_comm = replace(cm.roofline, link=Interconnect(1, 1.0, 0.0))
            from planner.costs.inference import time_per_output_token
            bare = float(time_per_output_token(no_comm, g).value(70e9, 1.0))
            assert out[g] - bare == pytest.approx(comm, rel=1e-9)
    assert out[1] / out[8] < 8 * 0.95  # not an 8× speed-up


def test_pcie_profile_is_slower_to_all_reduce_than_nvlink():
    nv, pc = load_profile("h100-sxm"), load_profile("h100-pcie")
    assert (nv.link_kind, pc.link_kind) == ("nvlink", "pcie")
    assert nv.link_bandwidth_per_direction == 450e9 and pc.link_bandwidth_per_direction == 64e9


# ---- 3. attention FLOPs ---------------------------------------------------------------------
def test_attention_flops_match_a_per_layer_count_for_llama2_7b():
    shape = given_shape(**{k: v for k, v in LLAMA2_7B.items()}, seq_len=4096)
    n23 = 6.74e9 ** (2 / 3)
    ctx = 1000
    per_layer = 0
    for _head in range(32):  # QKᵀ: ctx dot products of d_head; A·V: ctx × d_head MACs
        per_layer += 2 * ctx * 128 + 2 * ctx * 128
    assert shape.attn_flops_coef * n23 * ctx == pytest.approx(32 * per_layer, rel=1e-12)
    # causal prefill of T tokens: Σ_t 4·n_layer·t·d_model = 2·n_layer·d_model·T(T+1)
    T = 2048
    rates = cost_model(budget({"hardware": "a100-80gb-sxm"}, LLAMA2_7B),
                             ServingConfig()).roofline.rates
    compute = prefill_alternatives(rates, shape, T, 16)[0]
    attn_s = compute[1].value(6.74e9, 1.0)
    exact = sum(4 * 32 * t * 4096 for t in range(1, T + 1))
    assert attn_s * rates.prefill_flops == pytest.approx(exact, rel=1.0 / T)
    # training: 6·n_layer·seq·d_model per token
    hw = load_profile("h100-sxm")
    item = training_gpu_seconds(hw, "bf16", 0.4, shape)
    per_token = item.value(6.74e9, 1.0) * hw.peak_flops("bf16") * 0.4
    assert per_token == pytest.approx(6 * 6.74e9 + 6 * 32 * 4096 * 4096, rel=1e-12)


def test_training_attention_uses_the_shape_rule_without_a_model_block():
    hw = load_profile("h100-sxm")
    n = 7e9
    n_layer = (n / 196_608) ** (1 / 3)
    item = training_gpu_seconds(hw, "bf16", 0.4, rule_shape(8192))
    per_token = item.value(n, 1.0) * hw.peak_flops("bf16") * 0.4
    assert per_token == pytest.approx(6 * n + 6 * n_layer * 8192 * 128 * n_layer, rel=1e-12)


# ---- 4. one prefill roofline ----------------------------------------------------------------
def test_lifetime_prefill_and_ttft_use_one_roofline():
    """Batch-1 L40S with 300-token prompts: weight reads outweigh compute; lifetime prefill
    GPU-seconds per request = TTFT − step overhead (1 GPU)."""
    b = budget({"hardware": "l40s", "batch_size": 1, "gpus_per_replica": 1}, tin=300, tout=150)
    cm = cost_model(b, ServingConfig(16, 0, 1))
    n = 3e9
    ttft = float(cm.latency["time_to_first_token_s"].value(n, 1.0))
    per_request = float(cm.gpu_seconds["prefill"].value(n, 1.0)) / 1e9
    assert per_request == pytest.approx(ttft - 5e-4, rel=1e-12)
    hw = load_profile("l40s")
    weights = n * 2 / (hw.hbm_bandwidth * hw.workload.decode_bandwidth)
    assert per_request == pytest.approx(weights, rel=1e-12)  # memory side binds here


def test_loaded_tpot_adds_the_interleaved_prefill():
    b = budget({"hardware": "h100-sxm", "batch_size": 64}, tin=2000, tout=400)
    cm = cost_model(b, ServingConfig(16, 0, 1))
    n = 4e9
    tpot = float(cm.latency["time_per_output_token_unloaded_s"].value(n, 1.0))
    ttft = float(cm.latency["time_to_first_token_s"].value(n, 1.0))
    loaded = float(cm.latency["time_per_output_token_s"].value(n, 1.0))
    assert loaded == pytest.approx(tpot + 64 * ttft / 400, rel=1e-12)
    assert loaded > 1.5 * tpot  # 2000-token prompts: prefill is a large share of a step


def test_latency_items_built_once_per_roofline_and_arguments():
    """TPOT and TTFT are built once per roofline and arguments (the cost model asks for them
    alone and inside loaded TPOT); other GPU counts, prompts or rooflines get their own."""
    from planner.costs.inference import time_per_output_token, time_to_first_token

    b = budget({"hardware": "h100-sxm", "batch_size": 64}, tin=2000, tout=400)
    cm = cost_model(b, ServingConfig(16, 0, 1))
    roof, n = cm.roofline, 4e9
    assert time_per_output_token(roof, 1) is cm.latency["time_per_output_token_unloaded_s"]
    assert time_to_first_token(roof, 2000, 1) is cm.latency["time_to_first_token_s"]
    one = float(time_per_output_token(roof, 1).value(n, 1.0))
    two = float(time_per_output_token(roof, 2).value(n, 1.0))  # weights split over 2 GPUs
    assert 0.45 * one < two < 0.75 * one  # plus all-reduces, not half
    # a roofline at batch 1 is another roofline, with its own (shorter) step
    single = replace(roof, batch=1.0)
    assert float(time_per_output_token(single, 1).value(n, 1.0)) < one
    # prompts as an array (unhashable): built each call, per element as for a scalar
    ttft = time_to_first_token(roof, np.array([2000.0, 500.0]), 1).value(n, 1.0)
    assert ttft[0] == pytest.approx(float(cm.latency["time_to_first_token_s"].value(n, 1.0)),
                                    rel=1e-12)
    assert ttft[1] < ttft[0]


# ---- 5. ridge batch -------------------------------------------------------------------------
def _first_compute_bound_batch(cm, n, limit=200_000):
    for bb in np.unique(np.geomspace(1, limit, 4000).astype(int)):
        roof = replace(cm.roofline, batch=float(bb))
        c = sum(t.value(n, 1.0) for t in roof.compute())
        m = sum(t.value(n, 1.0) for t in roof.memory())
        if c >= m:
            return bb
    return None


def test_ridge_batch_matches_a_direct_scan():
    b = budget({"hardware": "h100-sxm", "batch_size": 8}, tin=100, tout=100)
    cm = cost_model(b, ServingConfig(16, 0, 1))
    n = 7e9
    ridge = cm.roofline.ridge_batch(n)
    scan = _first_compute_bound_batch(cm, n)
    assert scan is not None and ridge == pytest.approx(scan, rel=0.01)
    # the weight-only ridge of the profile ignores KV and is lower
    assert ridge > load_profile("h100-sxm").ridge_batch() * 0.65 / 0.78


def test_ridge_batch_is_never_when_kv_grows_as_fast_as_compute():
    """The chat shape (2000 + 400 tokens, GQA 8, 16-bit KV) on H100: per sequence the KV read
    of c̄ tokens takes longer than its FLOPs, so no batch is compute-bound."""
    b = budget({"hardware": "h100-sxm", "batch_size": 64}, tin=2000, tout=400)
    cm = cost_model(b, ServingConfig(16, 0, 1))
    assert cm.roofline.ridge_batch(4e9) == float("inf")
    assert _first_compute_bound_batch(cm, 4e9) is None
    r = optimize(load_budget("examples/chat-assistant.yaml"))
    assert r.plan.serving["ridge_batch"] == "never"


# ---- 5. draft KV and overhead knob ----------------------------------------------------------
def test_draft_kv_cache_counts_in_memory_and_overhead_knob_is_separate():
    spec = {"acceptance": 0.8, "draft_params": "1B", "gamma": 4}
    base = {"hardware": "h100-sxm", "batch_size": 32, "speculative": spec}
    cm = cost_model(budget(base), ServingConfig(16, 4, 1))
    cm0 = cost_model(budget(base), ServingConfig(16, 0, 1))
    ctx = 700
    n_layer_d = (1e9 / 196_608) ** (1 / 3)
    draft_kv = 32 * 2 * n_layer_d * (128 * n_layer_d / 8) * ctx * 2  # batch × K,V × bytes
    extra = float(cm.memory.value(7e9, 1.0) - cm0.memory.value(7e9, 1.0))
    assert extra == pytest.approx(1e9 * 2 + draft_kv, rel=1e-9)
    knob = cost_model(budget({**base, "speculative": {**spec,
                                                           "draft_step_overhead_s": 0.002}}),
                            ServingConfig(16, 4, 1))
    diff = float(knob.gpu_seconds["overhead"].value(7e9, 1.0)
                 - cm.gpu_seconds["overhead"].value(7e9, 1.0))
    iterations = 1e9 * 200 / (32 * cm.roofline.draft.tokens_per_pass)
    assert diff == pytest.approx(iterations * 4 * (0.002 - 5e-4), rel=1e-9)


def test_idealized_runtime_includes_speculation():
    """Batch 1, 1 GPU: τ is the speculative step time over E(α, γ), below plain decoding."""
    spec = {"acceptance": 0.8, "draft_params": "68M", "gamma": 4}
    b = budget({"hardware": "h100-sxm", "batch_size": 1, "gpus_per_replica": 1,
                "speculative": spec})
    r = optimize(b)
    s, n = r.plan.serving, r.plan.params
    assert s["idealized_speculative_gamma"] == 4 and s["idealized_accelerators"] == 1
    cm = cost_model(b, ServingConfig(16, 4, 1))
    roof = cm.roofline
    it = max(sum(t.value(n, 1.0) for t in p) for p in roof.iteration_alternatives())
    e = (1 - 0.8**5) / (1 - 0.8)
    tau = (it + 5e-4 * (1 + 4)) / e  # target + 4 draft steps, each with its step overhead
    assert s["idealized_per_token_s"] == pytest.approx(tau, rel=1e-9)
    plain = replace(roof, draft=replace(roof.draft, gamma=0))
    tau0 = max(sum(t.value(n, 1.0) for t in p) for p in plain.iteration_alternatives()) + 5e-4
    assert s["idealized_per_token_s"] < tau0  # speculation pays here, less than plain


# ---- 7. demand as a token total -------------------------------------------------------------
def test_token_total_gets_a_stated_default_split():
    data = {"schema_version": 1, "target": {"loss": 2.3}, "inference": {"tokens": "1.25T"},
            "serve": {"hardware": "h100-sxm"}, "objective": "usd"}
    r = optimize(budget_from_data(data))
    assert "default split: 1000 input + 250 output" in r.plan.serving["demand_split"]
    assert r.plan.costs["decode_usd"] > 0  # output tokens are decoded, not prefilled
    b = budget_from_data(data)
    assert b.inference.lifetime_requests == pytest.approx(1e9)
    assert b.inference.output_tokens == pytest.approx(0.25e12)
    given = budget_from_data({**data, "inference": {"tokens": "1.25T", "tokens_per_request":
                                                    {"input": 2000, "output": 500}}})
    assert given.inference.lifetime_requests == pytest.approx(0.5e9)


# ---- 6. HBM bytes ---------------------------------------------------------------------------
def test_hbm_bytes_are_what_the_device_has():
    assert load_profile("a100-80gb-sxm").hbm_bytes == 80 * 2**30
    assert load_profile("h100-sxm").hbm_bytes == 81559 * 2**20
    assert load_profile("a100-40gb-sxm").hbm_bytes == 40 * 2**30
    assert "nvidia-smi" in load_profile("h200-sxm").hbm_capacity_source
