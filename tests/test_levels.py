"""One budget at several demand levels from one stacked build (planner.analysis.levels): every
configuration's scenario at every level equals the level's budget prepared on its own."""

from dataclasses import asdict

import numpy as np
import pytest

from planner.analysis.levels import stack_levels
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
    """Every number a solver reads from a scenario (or a batch of them), at (N, D)."""
    out = [sc.objective_value(n, d)] + [it.value(n, d) for it in sc.objective]
    out += [c.item.value(n, d) for c in sc.constraints]
    out += [c.limit for c in sc.constraints]
    out += [sc.loss_lhs(n, d)]
    return np.array([np.asarray(v, dtype=float) for v in out])


@pytest.fixture(scope="module")
def build():
    # ×0.001 brings the Little's-law batch below the configured 32 and the two replicas kept
    # up (min_replicas: 2) into play: numbers that enter the formulas non-linearly
    budgets = at_levels(CHAT, (0.001, 0.1, 3.0, 100.0))
    return budgets, stack_levels(budgets)


def test_stacked_levels_equal_levels_prepared_one_at_a_time(build):
    budgets, stacked = build
    assert stacked is not None and stacked.points == 4
    k = stacked.configurations
    assert k == 2 * 6 * 3 * 2  # serving hardware × bits × (γ 0-2) × GPUs per replica
    compared = 0
    for j, b in enumerate(budgets):
        ref = prepare(b)
        assert stacked.losses[j] == ref.target_loss
        assert [{**asdict(m["config"]), "train_hardware": m["train_hardware"],
                 "serve_hardware": m["serve_hardware"], "draft": m["draft"]}
                for m in stacked.metas] == [c.configuration() for c in ref.candidates]
        level = stacked.level(j)
        assert level.batch_size() == k
        for n, d in ((1e9, 3e11), (5e9, 2e12), (2e10, 8e12)):
            got = values(level, n, d)  # (numbers, configurations)
            want = np.stack([values(c.scenario, n, d) for c in ref.candidates], axis=1)
            np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), rtol=1e-12,
                                       atol=0)
            compared += 1
    assert compared == 12
    # one number per level: at ×0.001 and ×0.1 the two replicas kept up cost the same, above
    # that the busy hours grow with demand
    costs = [float(stacked.level(j).objective_value(5e9, 2e12)[0]) for j in range(4)]
    assert costs[0] == costs[1] < costs[2] < costs[3]


def test_one_solve_gives_each_configurations_optimum_at_each_level(build):
    from planner.optimize.choices import candidate_optima

    budgets, stacked = build
    obj, n, d = stacked.solve()
    assert obj.shape == (stacked.configurations, 4)
    for j, b in enumerate(budgets):
        ref_obj, ref_n, ref_d = candidate_optima(prepare(b))
        ok = np.isfinite(ref_obj)
        assert ok.sum() > 10 and np.array_equal(np.isfinite(obj[:, j]), ok)
        np.testing.assert_allclose(obj[ok, j], ref_obj[ok], rtol=1e-9)
        np.testing.assert_allclose(n[ok, j], ref_n[ok], rtol=1e-9)
        np.testing.assert_allclose(d[ok, j], ref_d[ok], rtol=1e-9)
        best = int(np.argmin(obj[:, j]))
        assert stacked.own_cost(j, best, n[best, j], d[best, j]) == pytest.approx(
            obj[best, j], rel=1e-9)


def test_levels_that_do_not_stack_are_left_to_prepare():
    flops = at_levels("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\n"
                      "inference: {tokens: 1T}\nobjective: flops\n", (0.1, 10.0))
    assert stack_levels(flops) is None  # no hardware: one cheap scenario each
    b = load_budget(CHAT)
    data, marks, where = budget_data(b)
    other = budget_from_data(set_field(data, "serve.hardware", "h200-sxm", b), marks, where)
    assert stack_levels([b, other]) is None  # a hardware list vs one name
    assert stack_levels([b]) is None


def test_a_level_its_own_budget_disagrees_with_is_planned_one_at_a_time(monkeypatch):
    """The demand study checks each stacked level's optimum against the level's own budget;
    where they disagree (forced here) the level is prepared and planned alone, with the same
    optimum, and its figure reads the prepared problem."""
    from planner.analysis import curves
    from planner.analysis.levels import Level
    from planner.optimize.problem import Problem
    from planner.optimize.stacked_plans import StackedBuild

    b = load_budget(CHAT)
    fast = curves.demand_study(b, prepare(b))
    assert sum(isinstance(p, Level) for p in fast["problems"]) == 6
    monkeypatch.setattr(StackedBuild, "own_cost", lambda self, j, best, n, d: -1.0)
    slow = curves.demand_study(b, prepare(b))
    assert all(isinstance(p, Problem) for p in slow["problems"])
    for i, (a, r) in enumerate(zip(fast["optima"], slow["optima"])):
        np.testing.assert_allclose(a, r, rtol=1e-9, atol=0)
        if i != slow["base_index"]:
            assert slow["results"][i].ok and fast["results"][i] is None
    grid = np.logspace(9, 10.5, 20)
    for i in (0, 6):  # the figure's curves: from the stacked build and from the prepared level
        lv = fast["problems"][i]
        a = curves.curve_costs(None, grid, stacked=lv.levels.level(lv.j))
        r = curves.curve_costs(slow["problems"][i], grid)
        for key in ("objective", "tokens", "train", "candidate"):
            np.testing.assert_allclose(a[key], r[key], rtol=1e-12, atol=0)



def _cheapest_agree(build):
    """``solve_cheapest`` against ``solve`` (every configuration's optimum) on ``build``: the
    cheapest of all and of each hardware and draft option, at every point, is the same
    configuration at the same cost, N and D; every configuration it did not rule out has the
    optimum ``solve`` gives.  Returns how many it ruled out."""
    full_obj, full_n, full_d = build.solve()
    obj, n, d = build.solve_cheapest()
    kept = np.isfinite(obj)
    np.testing.assert_array_equal(np.isfinite(full_obj[kept]), True)
    np.testing.assert_allclose(obj[kept], full_obj[kept], rtol=1e-12)
    np.testing.assert_allclose(n[kept], full_n[kept], rtol=1e-12)
    np.testing.assert_allclose(d[kept], full_d[kept], rtol=1e-12)
    groups = build._groups()
    assert len(groups) >= 1
    for g in groups:
        for j in range(build.points):
            want = int(np.argmin(full_obj[g, j]))
            assert int(np.argmin(obj[g, j])) == want
            assert obj[g[want], j] == pytest.approx(full_obj[g[want], j], rel=1e-12) or \
                not np.isfinite(full_obj[g[want], j])
    return int((~kept & np.isfinite(full_obj)).sum())


def test_cheapest_solve_rules_out_only_configurations_that_cannot_win(build):
    _, stacked = build
    ruled_out = _cheapest_agree(stacked)
    assert ruled_out > 0  # it did skip work: dominated configurations read inf


@pytest.mark.parametrize("name", ["chat-assistant", "which-gpu", "which-draft"])
def test_cheapest_solve_on_examples_with_choices_and_an_infeasible_option(name, examples_dir):
    budgets = at_levels((examples_dir / f"{name}.yaml").read_text(), (0.01, 0.3, 10.0))
    stacked = stack_levels(budgets)
    assert stacked is not None
    _cheapest_agree(stacked)
