"""One budget at several demand levels from one stacked build (planner.analysis.levels): every
configuration's scenario at every level equals the level's budget prepared on its own."""

import numpy as np
import pytest

from planner.analysis.levels import needs_prepare, prepare_levels, scenario_at
from planner.budget import budget_from_data, load_budget
from planner.budget.edit import budget_data, set_field
from planner.optimize import prepare

CHAT = """schema_version: 1
law: epoch2024
target: {match: {params: 7B}}
inference: {requests_per_month: 300M, months: 12, tokens_per_request: {input: 1000, output: 300}}
train: {hardware: h100-sxm, gpus: 512, mfu: 0.4, deadline_days: 60}
serve:
  hardware: [h100-sxm, l40s]
  batch_size: 32
  weight_bits: auto
  compute_precision: fp8
  quantization_penalty: ouyang2024
  max_time_per_output_token_ms: 40
  max_gpus_per_replica: 2
  min_replicas: 2
  speculative: {acceptance: 0.8, draft_params: 68M, gamma: auto, max_gamma: 2}
objective: usd
"""


def at_levels(text, multipliers):
    b = load_budget(text)
    data, marks, where = budget_data(b)
    return [budget_from_data(set_field(data, "inference.tokens",
                                       b.inference.total_tokens * m, b), marks, where)
            for m in multipliers]


def values(sc, n, d):
    """Every number a solver reads from a scenario, at (N, D)."""
    out = [sc.objective_value(n, d)] + [it.value(n, d) for it in sc.objective]
    out += [c.item.value(n, d) for c in sc.constraints]
    out += [np.full(n.shape, float(c.limit)) for c in sc.constraints]
    out += [sc.loss_lhs(n, d)]
    return np.concatenate([np.broadcast_to(np.asarray(v, dtype=float), n.shape) for v in out])


def test_stacked_levels_equal_levels_prepared_one_at_a_time():
    # ×0.001 brings the Little's-law batch below the configured 32 and the scale-to-zero floor
    # into play: numbers that enter the formulas non-linearly
    budgets = at_levels(CHAT, (0.001, 0.1, 3.0, 100.0))
    stacked = prepare_levels(budgets)
    assert all(needs_prepare(p) for p in stacked)  # the stacked build, not the fallback
    n = np.array([1e9, 5e9, 2e10])
    d = np.array([3e11, 2e12, 8e12])
    compared = 0
    for b, mine in zip(budgets, stacked):
        ref = prepare(b)
        assert len(mine.candidates) == len(ref.candidates) == 2 * 6 * 3 * 2
        assert mine.target_loss == ref.target_loss
        for a, r in zip(mine.candidates, ref.candidates):
            assert a.configuration() == r.configuration() and a.label() == r.label()
            got, want = values(a.scenario, n, d), values(r.scenario, n, d)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
            compared += 1
    assert compared == 4 * 72
    # the stacked build held one number per level: at ×0.001 and ×0.1 the two replicas kept
    # up (min_replicas: 2) cost the same, above that the busy hours grow with demand
    costs = [float(p.candidates[0].scenario.objective_value(5e9, 2e12)) for p in stacked]
    assert costs[0] == costs[1] < costs[2] < costs[3]


def test_levels_that_do_not_stack_are_prepared_one_at_a_time():
    flops = at_levels("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\n"
                      "inference: {tokens: 1T}\nobjective: flops\n", (0.1, 10.0))
    out = prepare_levels(flops)  # no hardware: one cheap scenario each, no stacked build
    assert not any(needs_prepare(p) for p in out)
    b = load_budget(CHAT)
    data, marks, where = budget_data(b)
    other = budget_from_data(set_field(data, "serve.hardware", "h200-sxm", b), marks, where)
    out = prepare_levels([b, other])  # a hardware list vs one name: not one stacked build
    assert not any(needs_prepare(p) for p in out)
    assert [len(p.candidates) for p in out] == [72, 36]


def test_scenario_at_refuses_coefficients_of_another_shape():
    p = prepare(load_budget(CHAT))
    sc = p.candidates[0].scenario
    assert scenario_at(sc, 0, 3) == sc  # nothing stacked: unchanged
    from planner.analysis.levels import map_coefficients

    wide = map_coefficients(sc, lambda x: np.full(2, x))
    with pytest.raises(ValueError, match="shape"):
        scenario_at(wide, 0, 3)


def test_a_level_its_own_budget_disagrees_with_is_planned_one_at_a_time(monkeypatch):
    """The demand study checks each stacked level's optimum against the level's own budget;
    where they disagree (forced here) the level is prepared and planned alone, with the same
    optimum, and its figures read the prepared problem."""
    from planner.analysis import curves

    b = load_budget(CHAT)
    fast = curves.demand_study(b, prepare(b))
    assert sum(needs_prepare(p) for p in fast["problems"]) == 6
    monkeypatch.setattr(curves, "_costs_agree", lambda *a, **k: False)
    slow = curves.demand_study(b, prepare(b))
    assert not any(needs_prepare(p) for p in slow["problems"])
    for i, (a, r) in enumerate(zip(fast["optima"], slow["optima"])):
        np.testing.assert_allclose(a, r, rtol=1e-9, atol=0)
        if i != slow["base_index"]:
            assert slow["results"][i].ok and fast["results"][i] is None
