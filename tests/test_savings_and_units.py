"""The saving split into model size and serving options, constraint units, the uncertainty
headline (median and P90 first)."""

import math
from pathlib import Path

import pytest
from scipy.optimize import brentq

from planner.budget import load_budget
from planner.optimize import optimize, prepare
from planner.render.terminal import savings_lines, uncertainty_line

ROOT = Path(__file__).resolve().parent.parent
CHAT = ROOT / "examples" / "chat-assistant.yaml"


@pytest.fixture(scope="module")
def chat():
    return optimize(CHAT)


def test_baseline_served_with_the_same_options_reaches_the_target_as_served(chat):
    b, plain = chat.baseline, chat.baseline_plain
    assert b.extra["served_loss"] == pytest.approx(chat.target_loss, rel=1e-9)
    assert plain.extra["weight_bits"] == 16 and "speculative" not in plain.extra \
        or not plain.extra["speculative"]["enabled"]
    # the same options make the Chinchilla model cheaper to serve, never dearer
    assert b.objective <= plain.objective
    # compute-optimal for its configuration: moving N by ±1% along the same served iso-loss
    # curve (D from brentq on the served loss, independent of the planner's curve code)
    problem = prepare(load_budget(CHAT))
    cand = next(c for c in problem.candidates
                if c.config.label() == b.extra["configuration"])
    sc = cand.scenario

    def served(n, d):
        return float(problem.law.loss(n, d)) + sum(float(t.value(n, d)) for t in sc.loss_extra)

    def tokens(n):  # the smallest D reaching the target (the penalty grows with D)
        hi = math.log(3 * b.train_tokens)
        return math.exp(brentq(lambda v: served(n, math.exp(v)) - chat.target_loss,
                               math.log(1e9), hi, xtol=1e-14))

    flops = 6 * b.params * tokens(b.params)
    assert flops == pytest.approx(b.train_flops, rel=1e-7)
    for f in (0.99, 1.01):
        assert 6 * b.params * f * tokens(b.params * f) > flops


def test_saving_splits_into_model_size_and_serving_options(chat):
    s = chat.savings
    plain, b, p = chat.baseline_plain, chat.baseline, chat.plan
    assert s["from_model_size"] == pytest.approx(b.objective - p.objective, rel=1e-12)
    assert s["from_serving_options"] == pytest.approx(plain.objective - b.objective, rel=1e-12)
    assert s["objective_fraction"] == pytest.approx(1 - p.objective / b.objective, rel=1e-12)
    # the numbers: 82% against plain serving, about half of it from sizing alone
    assert s["against_plain_fraction"] == pytest.approx(0.821, abs=0.01)
    assert 0.45 < s["objective_fraction"] < 0.55
    lines = savings_lines(chat)
    assert "served the same way" in lines[0] and "model size" in lines[1]
    doc = chat.to_dict()
    assert doc["baseline_plain"]["params"] == pytest.approx(plain.params)
    assert {"from_model_size", "from_serving_options"} <= set(doc["savings"])


def test_single_configuration_budget_has_no_serving_split():
    r = optimize(ROOT / "examples" / "code-model.yaml")
    # its candidates differ only in GPUs per replica: the same model, the same cost
    assert abs(r.savings["from_serving_options"]) < 1e-9 * r.baseline_plain.objective
    assert r.baseline_plain.params == pytest.approx(r.baseline.params, rel=1e-9)
    assert len(savings_lines(r)) == 1


def test_constraints_are_shown_in_the_units_of_their_keys(chat):
    c = chat.plan.constraints
    assert c["deadline_days"]["unit"] == "days"
    assert c["deadline_days"]["limit_in_unit"] == pytest.approx(90.0)
    assert c["deadline_days"]["value_in_unit"] == pytest.approx(
        chat.plan.costs["train_wall_clock_days"], rel=1e-9)
    tpot = c["max_time_per_output_token"]
    assert tpot["unit"] == "ms" and tpot["limit_in_unit"] == pytest.approx(30.0)
    assert tpot["value_in_unit"] == pytest.approx(
        1e3 * chat.plan.serving["time_per_output_token_s"], rel=1e-9)
    mem = c["memory_fit"]
    assert mem["unit"] == "GiB"
    assert mem["value_in_unit"] == pytest.approx(mem["value"] / 2**30, rel=1e-12)


def test_uncertainty_headline_leads_with_median_and_p90():
    u = {"n_samples": 4, "source": "bootstrap", "objective_unit": "usd",
         "params": {"p10": 1e9, "p50": 2e9, "p90": 3e9},
         "objective": {"p10": 1e5, "p50": 2e5, "p90": 3e5},
         "median_regret_fraction": 0.03, "p90_regret_fraction": 0.4,
         "expected_regret_fraction": 20.0, "regret_tail_share": 0.99,
         "infeasible_fraction": 0.0}
    line = uncertainty_line(u)
    assert line.index("median 3.0%") < line.index("P90 40.0%") < line.index("mean 2000.0%")
    assert "99% of it from the worst 10%" in line
