"""Capacity model: replicas for the peak rate at a target utilisation, min replicas, billing,
Little's-law batch, scale to zero; hand-computed from the budget's numbers."""

import math

import pytest

from planner.budget import budget_from_data
from planner.optimize import optimize
from planner.yaml_io import read_yaml_file

HOURS = 30 * 24  # a 30-day month


def pinned(rpm, **serve):
    """A 7B model pinned, simple FLOPs serving model (2N FLOPs per token at 50% of bf16 peak),
    so busy GPU-seconds per request are ``2·N·(T_in + T_out)/(F·0.5)`` exactly."""
    return budget_from_data({
        "schema_version": 1, "target": {"loss": 2.3}, "model": {"params": "7B"},
        "inference": {"requests_per_month": rpm, "months": 12,
                      "tokens_per_request": {"input": 500, "output": 200}},
        "train": {"hardware": "h100-sxm"},
        "serve": {"hardware": "h100-sxm", "mfu_prefill": 0.5, "mfu_decode": 0.5,
                  "gpus_per_replica": 1, **serve},
        "objective": "usd"})


BUSY_S_PER_REQUEST = 2 * 7e9 * 700 / (989e12 * 0.5)


def test_high_volume_replicas_and_provisioned_cost_by_hand():
    r = optimize(pinned("1B", peak_to_mean=2.0, target_utilization=0.8))
    lam = 1e9 / (30 * 86400)  # requests/s
    busy_replicas = lam * BUSY_S_PER_REQUEST  # 7.65 GPUs busy on average
    need = 2.0 * busy_replicas / 0.8  # sized for the peak at 80%
    cap = r.plan.serving["capacity"]
    assert need == pytest.approx(19.11, abs=0.01)
    assert cap["replicas_continuous"] == pytest.approx(need, rel=1e-9)
    assert cap["replicas"] == 20 == r.plan.serving["replicas"]
    assert cap["utilization"] == pytest.approx(0.8 / 2.0, rel=1e-9)
    hours = 12 * HOURS
    assert r.plan.costs["inference_usd"] == pytest.approx(need * hours * 3.00, rel=1e-9)
    assert cap["inference_usd_integer_replicas"] == pytest.approx(20 * hours * 3.00, rel=1e-9)
    assert r.plan.costs["busy_gpu_hours"] == pytest.approx(busy_replicas * hours, rel=1e-9)


def test_low_volume_pays_the_replica_it_keeps_up():
    r = optimize(pinned("1M"))
    cap = r.plan.serving["capacity"]
    assert cap["replicas"] == 1 and cap["replicas_continuous"] == 1.0
    assert r.plan.costs["inference_usd"] == pytest.approx(12 * HOURS * 3.00, rel=1e-12)
    busy_h = 1e6 * 12 * BUSY_S_PER_REQUEST / 3600
    assert r.plan.costs["busy_gpu_hours"] == pytest.approx(busy_h, rel=1e-9)
    assert cap["utilization"] == pytest.approx(busy_h / (12 * HOURS), rel=1e-9)
    # three replicas kept up cost three times as much
    three = optimize(pinned("1M", min_replicas=3))
    assert three.plan.costs["inference_usd"] == pytest.approx(3 * 12 * HOURS * 3.00, rel=1e-12)


def test_busy_billing_charges_busy_gpu_hours_only():
    r = optimize(pinned("1M", billing="busy"))
    busy_h = 1e6 * 12 * BUSY_S_PER_REQUEST / 3600
    assert r.plan.costs["inference_usd"] == pytest.approx(busy_h * 3.00, rel=1e-9)
    assert r.plan.serving["capacity"]["billing"] == "busy"


def test_scale_to_zero_charges_cold_starts():
    r = optimize(pinned("10K", min_replicas=0, cold_start_s=60, keep_alive_s=300))
    lam = 1e4 / (30 * 86400)
    life = 12 * 30 * 86400
    starts = life * lam * math.exp(-lam * 300)  # Poisson gaps longer than the keep-alive
    busy = 1e4 * 12 * BUSY_S_PER_REQUEST
    expect_s = starts * (60 + 300) + busy / 0.8  # peak_to_mean 1
    assert r.plan.serving["capacity"]["cold_starts"] == pytest.approx(starts, rel=1e-12)
    assert r.plan.costs["inference_usd"] == pytest.approx(expect_s / 3600 * 3.00, rel=1e-9)
    assert r.plan.costs["inference_usd"] < 12 * HOURS * 3.00  # cheaper than a replica kept up


def test_load_profile_gives_the_peak_to_mean_factor():
    day = [1.0] * 16 + [4.0] * 8  # 8 busy hours at 4× the night rate: mean 2, peak 4
    r = optimize(pinned("1B", load_profile=day))
    assert r.plan.serving["capacity"]["peak_to_mean"] == pytest.approx(2.0)


def test_littles_law_batch_at_low_load():
    # W = TTFT limit + T_out·TPOT limit = 0.5 + 200·0.05 = 10.5 s; λ = 1M/month
    r = optimize(pinned("1M", batch_size=64, max_time_to_first_token_ms=500,
                        max_time_per_output_token_ms=50))
    lam = 1e6 / (30 * 86400)
    assert r.plan.serving["batch_size"] == pytest.approx(lam * 10.5, rel=1e-12)  # 4.05
    high = optimize(pinned("1B", batch_size=64, max_time_to_first_token_ms=500,
                           max_time_per_output_token_ms=50))
    assert high.plan.serving["batch_size"] == 64  # the fleet scales: configured batch


def test_code_model_at_100k_requests_charges_the_replica():
    """Issue 11 check: 100K requests/month for 24 months busy ~ $0.7K-3K, one A100 kept up for
    24 months = 24 × 720 h × $1.80 = $31,104."""
    data, _ = read_yaml_file("examples/code-model.yaml")
    data["inference"]["requests_per_month"] = "100K"
    r = optimize(budget_from_data(data), check=True)
    assert r.plan.costs["inference_usd"] == pytest.approx(24 * HOURS * 1.80, rel=1e-9)
    assert r.plan.serving["capacity"]["replicas"] == 1
    assert r.plan.costs["busy_gpu_hours"] * 1.80 < 0.1 * r.plan.costs["inference_usd"]
    assert r.diagnostics["cross_check"]["objective_rel_diff"] < 1e-6
    # a replica that costs the same whatever N is: serving no longer pulls N down
    busy = optimize(budget_from_data({**data, "serve": {**data["serve"], "billing": "busy"}}))
    assert r.plan.params > busy.plan.params


@pytest.mark.parametrize("rpm", ["100K", "12M", "1B"])
def test_solvers_agree_on_provisioned_plans(rpm):
    data, _ = read_yaml_file("examples/code-model.yaml")
    data["inference"]["requests_per_month"] = rpm
    data["serve"] = {**data["serve"], "peak_to_mean": 3.0}
    r = optimize(budget_from_data(data), check=True)
    assert r.diagnostics["cross_check"]["objective_rel_diff"] < 1e-6
    assert r.diagnostics["cross_check"]["params_rel_diff"] < 1e-3


def test_energy_charges_idle_replicas_at_idle_power():
    r = optimize(pinned("1M"))
    c = r.plan.costs
    idle_h = 12 * HOURS - c["busy_gpu_hours"]
    # h100-sxm (Splitwise, arXiv 2311.18677): idle 75 W, prefill at TDP 700 W, decode 380 W;
    # PUE 1.2
    assert c["idle_energy_kwh"] == pytest.approx(idle_h * 0.075 * 1.2, rel=1e-9)
    assert c["prefill_energy_kwh"] == pytest.approx(c["prefill_gpu_hours"] * 0.700 * 1.2,
                                                    rel=1e-9)
    assert c["decode_energy_kwh"] == pytest.approx(c["decode_gpu_hours"] * 0.380 * 1.2,
                                                   rel=1e-9)
