"""Hardware cost model: roofline hand checks, dollar plans, quantisation, speculative decoding."""

import json
import math

import pytest

from planner.budget import load_budget
from planner.costs.evaluate import speculative_summary
from planner.costs.model import ServingConfig
from planner.costs.shape import rule_shape
from planner.costs.speculative import best_gamma, expected_tokens, speedup
from planner.errors import InfeasibleError, InputError
from planner.hardware import load_profile
from planner.laws.quantization import PENALTIES
from planner.optimize import optimize, prepare, solve
from planner.optimize.setup import cost_model

BASE = """schema_version: 1
law: epoch2024
target: {{loss: {loss}}}
inference:
  requests: {requests}
  tokens_per_request: {{input: {tin}, output: {tout}}}
train: {{hardware: h100-sxm, gpus: 1024, mfu: 0.4}}
serve:
{serve}
objective: {objective}
"""


def budget(serve="  hardware: h100-sxm", loss=2.1, requests="1B", tin=500, tout=200,
           objective="usd", extra=""):
    return load_budget(BASE.format(serve=serve, loss=loss, requests=requests, tin=tin,
                                   tout=tout, objective=objective) + extra)


def step_parts(cm, n):
    roof = cm.roofline
    compute = sum(t.value(n, 1.0) for t in roof.compute())
    memory = sum(t.value(n, 1.0) for t in roof.memory())
    return compute, memory


# ---- roofline ------------------------------------------------------------------------------
def test_decode_step_at_batch_1_is_weight_bytes_over_bandwidth():
    """7B in bf16 at batch 1 on h100-sxm: step = (weight bytes + KV bytes)/(BW × efficiency)."""
    b = budget("  hardware: h100-sxm\n  batch_size: 1", tin=1, tout=2)
    cm = cost_model(b, ServingConfig(16, 0, 1))
    hw = load_profile("h100-sxm")
    n = 7e9
    compute, memory = step_parts(cm, n)
    eff_bw = hw.hbm_bandwidth * hw.workload.decode_bandwidth
    weight_bytes = 2 * n
    ctx = 1 + 2 / 2  # average context: prompt + half the output
    n_layer = (n / 196_608) ** (1 / 3)
    kv_bytes = 2 * n_layer * (128 * n_layer / 8) * ctx * 2  # K,V × layers × kv dims × 2 bytes
    assert memory == pytest.approx((weight_bytes + kv_bytes) / eff_bw, rel=1e-12)
    assert weight_bytes / eff_bw == pytest.approx(memory, rel=1e-4)  # KV negligible here
    assert memory > compute  # memory-bound
    assert 2 * n / eff_bw == pytest.approx(5.36e-3, rel=0.01)  # 14 GB at 2.61 TB/s


def test_large_batch_is_compute_bound_and_crossover_matches_ridge():
    """Idealized efficiencies, tiny context: the regime flips at F·b_w/(16·BW)."""
    hw = load_profile("h100-sxm")
    ridge = hw.ridge_batch("bf16", 16)
    assert ridge == pytest.approx(295, abs=1)  # F·b_w/(16·BW) = 989e12·16/(16·3350e9)
    regimes = {}
    for batch in (int(ridge) - 5, int(ridge) + 5, 2048):
        b = budget(f"  hardware: h100-sxm\n  batch_size: {batch}\n  efficiency: idealized",
                   tin=1, tout=0)
        cm = cost_model(b, ServingConfig(16, 0, 1))
        compute, memory = step_parts(cm, 7e9)
        regimes[batch] = compute > memory
        # exact crossover, KV included: b* = weight_bytes / (2N/F − kv/BW)
        kv_per_seq = sum(t.value(7e9, 1) for t in cm.roofline.memory()[1:]) / batch
        b_star = (2 * 7e9 / hw.hbm_bandwidth) / (2 * 7e9 / hw.peak_flops("bf16") - kv_per_seq)
        assert b_star == pytest.approx(ridge, rel=0.01)
    assert regimes == {int(ridge) - 5: False, int(ridge) + 5: True, 2048: True}


def test_ridge_batches_of_reference_section_5():
    assert load_profile("a100-80gb-sxm").ridge_batch() == pytest.approx(153, abs=1)
    assert load_profile("h200-sxm").ridge_batch() == pytest.approx(206, abs=1)


def test_quantised_weights_move_fewer_bytes():
    b = budget("  hardware: h100-sxm\n  batch_size: 1", tin=1, tout=2)
    m16 = step_parts(cost_model(b, ServingConfig(16, 0, 1)), 7e9)[1]
    m4 = step_parts(cost_model(b, ServingConfig(4, 0, 1)), 7e9)[1]
    assert m4 / m16 == pytest.approx(0.25, rel=0.01)


def test_shape_rule_gives_llama_like_sizes():
    s = rule_shape()
    n = 7e9
    n_layer = (n / 196_608) ** (1 / 3)
    assert n_layer == pytest.approx(32.9, abs=0.1)
    # 64 KiB of bf16 KV per token for a 32-layer, d_model 4096, GQA-8 model
    assert s.kv_elems_coef * (196_608 * 32**3) ** (2 / 3) * 2 == pytest.approx(65536, rel=1e-9)


def test_given_shape_counts_mha_kv_exactly():
    """Llama-2-7B (MHA: 32 KV heads of 128): 512 KiB of bf16 KV per token."""
    extra = ("model: {params: 6.74B, n_layer: 32, d_model: 4096, n_heads: 32, n_kv_heads: 32, "
             "vocab: 32000}\n")
    b = budget(extra=extra)
    cm = cost_model(b, ServingConfig(16, 0, 1))
    kv_elems = cm.shape.kv_elems_coef * 6.74e9 ** (2 / 3)
    assert kv_elems * 2 == pytest.approx(2 * 32 * 32 * 128 * 2, rel=1e-12)
    assert cm.shape.weight_read_fraction == pytest.approx(1 - 32000 * 4096 / 6.74e9)


# ---- dollar plans --------------------------------------------------------------------------
DOLLAR_CASES = [
    "  hardware: h100-sxm\n  batch_size: 64",
    "  hardware: a100-80gb-sxm\n  batch_size: 16\n  max_time_per_output_token_ms: 40",
    "  hardware: h200-sxm\n  batch_size: 256\n  weight_bits: 8\n  compute_precision: fp8",
    "  hardware: h100-sxm\n  batch_size: 8\n  weight_bits: 4\n  quantization_penalty: kumar2024",
]


@pytest.mark.parametrize("serve", DOLLAR_CASES)
@pytest.mark.parametrize("objective", ["usd", "gpu_hours", "energy_kwh"])
def test_dollar_plans_agree_between_solvers(serve, objective):
    b = budget(serve, objective=objective, requests="5B")
    problem = prepare(b)
    assert len(problem.candidates) >= 1
    for cand in problem.candidates[:2]:
        a, g = solve(cand.scenario, "iso_loss"), solve(cand.scenario, "gp")
        assert a.status == g.status == "optimal"
        assert a.objective == pytest.approx(g.objective, rel=1e-6)
        assert a.params == pytest.approx(g.params, rel=1e-3)


def test_usd_reduces_to_flops_when_every_flop_costs_the_same():
    """FLOPs budgets count 6ND + 2N per served token; dollar budgets add training attention
    (6·n_layer·seq·d_model per token, Kaplan et al. 2020).  At seq_len 1 that term is ~2e-5 of
    6N, so the plans agree to 1e-4, and the dollars are the FLOPs (with it) at one price."""
    serve = ("  hardware: h100-sxm\n  mfu_prefill: 0.4\n  mfu_decode: 0.4\n"
             "  compute_precision: bf16")

    def short(objective):
        return load_budget(BASE.format(serve=serve, loss=2.1, requests="1B", tin=500, tout=200,
                                       objective=objective).replace("mfu: 0.4}",
                                                                    "mfu: 0.4, seq_len: 1}"))

    usd = optimize(short("usd"))
    flops = optimize(short("flops"))
    assert usd.plan.params == pytest.approx(flops.plan.params, rel=1e-4)
    assert usd.plan.train_tokens == pytest.approx(flops.plan.train_tokens, rel=1e-4)
    # and the dollars are FLOPs × price / (peak × MFU × 3600)
    hw = load_profile("h100-sxm")
    per_flop = hw.price_usd_per_hour / 3600 / (hw.peak_flops("bf16") * 0.4)
    n_layer = (usd.plan.params / 196_608) ** (1 / 3)
    attention = 6 * n_layer * 1 * 128 * n_layer * usd.plan.train_tokens
    assert usd.plan.costs["total_usd"] == pytest.approx(
        (usd.plan.total_flops + attention) * per_flop, rel=1e-9)


def test_costs_are_itemised_and_consistent():
    r = optimize(budget("  hardware: a100-80gb-sxm\n  batch_size: 32"))
    c = r.plan.costs
    assert c["total_usd"] == pytest.approx(c["train_usd"] + c["inference_usd"])
    assert c["inference_usd"] == pytest.approx(
        c["prefill_usd"] + c["decode_usd"] + c["draft_usd"] + c["overhead_usd"]
        + c["communication_usd"] + c["idle_usd"])
    assert c["train_usd"] == pytest.approx(c["train_gpu_hours"] * 3.00)  # h100-sxm price
    assert c["inference_usd"] == pytest.approx(c["inference_gpu_hours"] * 1.80)  # a100-80
    n_layer = (r.plan.params / 196_608) ** (1 / 3)  # shape rule, d_model = 128·n_layer
    attention = 6 * n_layer * 4096 * 128 * n_layer  # per token at train.seq_len 4096
    assert c["train_gpu_hours"] == pytest.approx(
        (6 * r.plan.params + attention) * r.plan.train_tokens / (989e12 * 0.4) / 3600)
    # energy per phase (kW × PUE 1.2): training and prefill at TDP (H100 0.7, A100 0.4),
    # memory-bound work at the A100's 0.25 and idle provisioned hours at 0.063 (Splitwise)
    memory_bound = sum(c[f"{n}_gpu_hours"] for n in ("decode", "draft", "overhead",
                                                     "communication"))
    assert c["energy_kwh"] == pytest.approx(1.2 * (
        c["train_gpu_hours"] * 0.7 + c["prefill_gpu_hours"] * 0.4 + memory_bound * 0.25
        + c["idle_gpu_hours"] * 0.063))
    assert r.plan.objective == pytest.approx(c["total_usd"])
    assert r.plan.costs["total_usd"] < r.baseline.costs["total_usd"]


def test_json_has_the_capacity_tool_keys():
    r = optimize(load_budget("examples/chat-assistant.yaml"))
    doc = json.loads(__import__("planner.render.terminal", fromlist=["to_json"]).to_json(r))
    p = doc["plan"]
    for k in ("train_usd", "inference_usd", "total_usd", "train_gpu_hours",
              "inference_gpu_hours", "energy_kwh"):
        assert p["costs"][k] > 0
    for k in ("time_to_first_token_s", "time_per_output_token_s", "idealized_runtime_s",
              "gpus_per_replica"):
        assert p["serving"][k] > 0
    assert p["weight_bits"] in (16, 8, 6, 5, 4, 3)
    assert p["loss_penalty"] >= 0
    assert "gamma" in p["speculative"] and "speedup" in p["speculative"]
    for name, c in p["constraints"].items():
        assert "slack" in c
    assert p["constraints"]["max_time_per_output_token"]["slack"] >= -1e-9


def test_idealized_runtime_matches_its_definition():
    r = optimize(budget("  hardware: h100-sxm", tin=512, tout=128))
    s = r.plan.serving
    assert s["idealized_runtime_s"] == pytest.approx(
        s["idealized_first_token_s"] + s["idealized_per_token_s"] * 127)
    assert s["idealized_cost_usd"] == pytest.approx(
        s["idealized_runtime_s"] * s["idealized_accelerators"] * 3.00 / 3600)


# ---- quantisation --------------------------------------------------------------------------
def test_penalty_magnitudes_of_reference_section_2():
    assert float(PENALTIES["ouyang2024"].penalty(7e9, 2e12, 4)) == pytest.approx(0.14, abs=0.01)
    assert float(PENALTIES["kumar2024"].penalty(7e9, 2e12, 4)) == pytest.approx(0.05, abs=0.005)
    assert float(PENALTIES["ouyang2024"].penalty(7e9, 2e12, 16)) == 0.0


@pytest.mark.parametrize("penalty", ["ouyang2024", "kumar2024"])
@pytest.mark.parametrize("requests", ["100M", "10B", "1T"])
def test_auto_bits_never_worse_than_exhaustive_and_meets_target(penalty, requests):
    serve = (f"  hardware: h100-sxm\n  batch_size: 16\n  quantization_penalty: {penalty}\n"
             "  weight_bits: {bits}")
    auto = optimize(budget(serve.format(bits="auto"), requests=requests))
    fixed = {}
    for bits in (16, 8, 6, 5, 4, 3):
        r = optimize(budget(serve.format(bits=bits), requests=requests))
        if r.ok:
            fixed[bits] = r
        else:
            assert r.status == "infeasible" and r.plan is None
    best = min(fixed.values(), key=lambda r: r.plan.objective)
    assert auto.plan.objective <= best.plan.objective * (1 + 1e-9)
    assert auto.plan.objective == pytest.approx(best.plan.objective, rel=1e-9)
    assert auto.plan.extra["served_loss"] <= 2.1 * (1 + 1e-9)
    for bits, r in fixed.items():
        assert r.plan.extra["served_loss"] <= 2.1 * (1 + 1e-9)
        if bits < 16:  # a quantised plan is never a smaller model than the bf16 plan
            assert r.plan.params >= fixed[16].plan.params * (1 - 1e-9)


def test_kaplan_law_refuses_an_additive_penalty():
    # a budget validator now (the law's form is known without files): load_budget refuses it
    with pytest.raises(InputError, match=r"<string>:5:8: serve.quantization_penalty: .*additive"):
        load_budget("schema_version: 1\nlaw: kaplan2020\ntarget: {loss: 2.5}\n"
                    "inference: {tokens: 1T}\nserve: {weight_bits: 4}\nobjective: usd\n")


# ---- speculative decoding ------------------------------------------------------------------
@pytest.mark.parametrize("alpha,gamma,frac", [(0.8, 4, 0.01), (0.75, 7, 0.005),
                                              (0.6, 3, 0.05)])
def test_speedup_reproduces_leviathan(alpha, gamma, frac):
    """Batch 1, memory-bound, no overhead: our roofline's speed-up is E/(γc + 1) exactly."""
    serve = (f"  hardware: h100-sxm\n  batch_size: 1\n  efficiency: idealized\n"
             f"  speculative: {{acceptance: {alpha}, draft_fraction: {frac}, gamma: {gamma}}}")
    b = budget(serve, tin=1, tout=2)
    cm = cost_model(b, ServingConfig(16, gamma, 1))
    spec = speculative_summary(cm, 7e9, 1e12)
    # c is the draft/target step-time ratio: ≈ the size ratio when both are memory-bound
    assert spec["c"] == pytest.approx(frac, rel=0.02)
    assert spec["speedup"] == pytest.approx(speedup(alpha, gamma, spec["c"]), rel=1e-9)
    assert expected_tokens(alpha, gamma) == pytest.approx(
        (1 - alpha ** (gamma + 1)) / (1 - alpha))


def test_reference_points_of_leviathan():
    # T5-XXL with a 77M draft: α = 0.75, γ = 7 gives 3.4× with c ≈ 0.0 ... 0.05
    assert speedup(0.75, 7, 0.0) == pytest.approx(3.6, abs=0.05)
    assert 3.0 < speedup(0.75, 7, 0.02) < 3.6
    assert best_gamma(0.5, 0.6) == 0  # α ≤ c: never pays


@pytest.mark.parametrize("alpha,expect_on", [(0.04, False), (0.3, False), (0.9, True)])
def test_optimizer_switches_speculation_off_where_it_does_not_pay(alpha, expect_on):
    serve = (f"  hardware: h100-sxm\n  batch_size: 1\n"
             f"  speculative: {{acceptance: {alpha}, draft_fraction: 0.3, gamma: auto}}")
    r = optimize(budget(serve))
    spec = r.plan.extra["speculative"]
    assert spec["enabled"] is expect_on
    if not expect_on:
        assert spec["gamma"] == 0
    else:
        assert spec["speedup"] > 1


def test_speculation_stops_paying_at_large_batch():
    """Compute-bound decode: the extra arithmetic makes every γ ≥ 1 cost more."""
    serve = ("  hardware: h100-sxm\n  batch_size: 4096\n  efficiency: idealized\n"
             "  speculative: {acceptance: 0.8, draft_fraction: 0.02, gamma: auto}")
    r = optimize(budget(serve, tin=1, tout=64))
    assert r.plan.serving["decode_regime"] == "compute-bound"
    assert r.plan.extra["speculative"]["gamma"] == 0
    small = optimize(budget(serve.replace("4096", "1"), tin=1, tout=64))
    assert small.plan.extra["speculative"]["gamma"] > 0


# ---- constraints ---------------------------------------------------------------------------
def test_infeasible_constraints_exit_3_and_name_the_binding_ones():
    serve = "  hardware: h100-sxm\n  max_time_per_output_token_ms: 0.01"
    result = optimize(budget(serve))
    assert result.status == "infeasible" and result.plan is None
    assert "max_time_per_output_token" in result.binding_constraints
    with pytest.raises(InfeasibleError, match="max_time_per_output_token") as exc:
        result.raise_for_status()
    assert "max_time_per_output_token" in exc.value.binding


def test_deadline_binds_and_slack_is_reported():
    extra = "constraints: {max_train_tokens: 20T}\n"
    b = budget("  hardware: h100-sxm", requests="1T", extra=extra)
    free = optimize(b)
    days = free.plan.costs["train_wall_clock_days"]
    text = BASE.format(serve="  hardware: h100-sxm", loss=2.1, requests="1T", tin=500, tout=200,
                       objective="usd").replace("mfu: 0.4}", f"mfu: 0.4, deadline_days: "
                                                             f"{days / 2}}}")
    tight = optimize(load_budget(text))
    c = tight.plan.constraints["deadline_days"]
    assert c["active"] and abs(c["slack"]) < 1e-5
    assert tight.plan.costs["train_wall_clock_days"] == pytest.approx(days / 2, rel=1e-5)
    assert tight.plan.params > free.plan.params  # less time to train: a bigger, shorter run
    assert tight.plan.objective > free.plan.objective


def test_memory_fit_chooses_enough_gpus_per_replica():
    serve = "  hardware: a100-40gb-sxm\n  batch_size: 8"
    r = optimize(budget(serve, loss=1.95, requests="1M"))
    s = r.plan.serving
    assert s["replica_memory_bytes"] <= s["replica_memory_limit_bytes"]
    weights = r.plan.params * 2
    assert s["gpus_per_replica"] >= math.ceil(weights / (40e9 * 0.9))


def test_draft_training_cost_is_charged_when_the_draft_must_be_trained():
    spec = "  speculative: {{acceptance: 0.8, draft_params: 100M, gamma: 4, train_draft: {t}}}"
    serve = "  hardware: h100-sxm\n  batch_size: 1\n" + spec
    trained = optimize(budget(serve.format(t="true")))
    free = optimize(budget(serve.format(t="false")))
    assert free.plan.costs["draft_train_usd"] == 0.0
    c = trained.plan.costs
    # 6·N_d·D/(peak·MFU) GPU-seconds at the training price (draft trained on the same D)
    expect = 6 * 100e6 * trained.plan.train_tokens / (989e12 * 0.4) / 3600 * 3.00
    assert c["draft_train_usd"] == pytest.approx(expect, rel=1e-9)
    assert trained.plan.objective > free.plan.objective


@pytest.mark.slow
def test_solvers_agree_where_the_roofline_derivative_has_kinks():
    """Regression: 100× the chat assistant's demand put the optimum at a kink of the decode
    roofline max, where regula falsi stalled (objective 7.7e-5 too high)."""
    from planner.budget import budget_from_data
    from planner.yaml_io import read_yaml_file

    data, _ = read_yaml_file("examples/chat-assistant.yaml")
    for rpm in ("100B", "1B", "10M"):
        data["inference"]["requests_per_month"] = rpm
        r = optimize(budget_from_data(data), check=True)
        assert r.diagnostics["cross_check"]["objective_rel_diff"] < 1e-6
        assert r.diagnostics["cross_check"]["params_rel_diff"] < 1e-3


def test_quantisation_penalty_extrapolation_is_warned():
    r = optimize(budget("  hardware: h100-sxm\n  weight_bits: 8"))
    assert any("ouyang2024" in w and "extrapolates" in w for w in r.warnings)
    plain = optimize(budget("  hardware: h100-sxm\n  weight_bits: 16"))
    assert not any("quantisation" in w for w in plain.warnings)
