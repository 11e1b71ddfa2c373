"""Sensitivity (tornado): law constants by ± one standard error (or ±x%), MFU, prices and
demand by ±x%, re-solved."""

import pytest

from planner.analysis.sensitivity import sensitivity
from planner.optimize import optimize

FLOPS = """schema_version: 1
law: epoch2024
target: {loss: 2.05}
inference: {tokens: 5T}
objective: flops
"""

MATCH = FLOPS.replace("target: {loss: 2.05}", "target: {match: {params: 13B}}")

DOLLAR = """schema_version: 1
law: epoch2024
target: {loss: 2.1}
inference: {requests: 5B, tokens_per_request: {input: 1000, output: 250}}
train: {hardware: h100-sxm, gpus: 1024, mfu: 0.4}
serve: {hardware: a100-80gb-sxm, batch_size: 32, weight_bits: 16}
objective: usd
"""


def rel(a, b):
    return abs(a / b - 1.0)


@pytest.mark.parametrize("text", [FLOPS, MATCH, DOLLAR])
def test_plus_and_minus_x_bracket_the_base_plan(text):
    s = sensitivity(text, fraction=0.05)
    base = optimize(text)
    assert rel(s.base.params, base.plan.params) < 1e-12
    assert rel(s.base.objective, base.plan.objective) < 1e-12
    checked = 0
    for r in s.rows:
        assert r.low.feasible and r.high.feasible, r.name
        for metric in ("params", "objective"):
            lo, hi, b = getattr(r.low, metric), getattr(r.high, metric), getattr(s.base, metric)
            assert min(lo, hi) <= b * (1 + 1e-9) and b <= max(lo, hi) * (1 + 1e-9), \
                (r.name, metric, lo, b, hi)
        checked += 1
    assert checked == len(s.rows) >= 5


def test_directions_and_magnitudes_on_a_flops_budget():
    s = sensitivity(FLOPS, fraction=0.2, law_by="fraction")
    rows = {r.name: r for r in s.rows}
    assert set(rows) == {"law.E", "law.A", "law.B", "law.alpha", "law.beta",
                         "inference.demand"}
    # more demand: a smaller model; its cost grows less than the demand
    lo, hi = rows["inference.demand"].change("params", s.base.params)
    assert lo > 0 > hi
    lo, hi = rows["inference.demand"].change("objective", s.base.objective)
    assert 0 < hi < 0.2 and -0.2 < lo < 0
    # a larger parameter term A needs a larger model
    lo, hi = rows["law.A"].change("params", s.base.params)
    assert lo < 0 < hi
    # E + 20% puts the irreducible loss above the 2.05 target
    assert not rows["law.E"].high.feasible and "irreducible loss" in rows["law.E"].high.note
    assert any("no MFU or price rows" in n for n in s.notes)


def test_perturbed_constant_equals_a_budget_with_that_constant():
    s = sensitivity(FLOPS, fraction=0.1, law_by="fraction")
    row = next(r for r in s.rows if r.name == "law.B")
    inline = FLOPS.replace("law: epoch2024", "law: {E: 1.8172, A: 482.01, B: %r, alpha: 0.3478, "
                           "beta: 0.3658}" % (2085.43 * 1.1))
    ref = optimize(inline)
    assert rel(row.high.params, ref.plan.params) < 1e-12
    assert rel(row.high.objective, ref.plan.objective) < 1e-12


def test_match_target_moves_with_the_law():
    """E shifts the reference model's loss by the same amount: the plan does not move."""
    s = sensitivity(MATCH, fraction=0.2, law_by="fraction")
    row = next(r for r in s.rows if r.name == "law.E")
    assert rel(row.high.params, s.base.params) < 1e-9
    assert rel(row.low.objective, s.base.objective) < 1e-9


def test_hardware_rows_match_budgets_with_those_inputs():
    s = sensitivity(DOLLAR, fraction=0.2)
    rows = {r.name: r for r in s.rows}
    assert {"train.mfu", "train.price", "serve.price", "inference.demand"} <= set(rows)
    assert rows["serve.price"].base_value == pytest.approx(1.8)  # a100-80gb-sxm profile
    ref = optimize(DOLLAR.replace("serve: {hardware: a100-80gb-sxm,", "serve: {hardware: "
                                  "{extends: a100-80gb-sxm, price_usd_per_hour: 2.16},"))
    assert rel(rows["serve.price"].high.objective, ref.plan.objective) < 1e-9
    ref = optimize(DOLLAR.replace("mfu: 0.4", "mfu: 0.32"))
    assert rel(rows["train.mfu"].low.params, ref.plan.params) < 1e-9
    # dearer serving: a smaller model; dearer training: a larger one
    assert rows["serve.price"].change("params", s.base.params)[1] < 0
    assert rows["train.price"].change("params", s.base.params)[1] > 0
    d = s.to_dict()
    assert d["objective_unit"] == "usd" and len(d["rows"]) == len(s.rows)


def test_law_constants_move_by_one_standard_error():
    """epoch2024's published standard errors (Besiroglu et al. 2024: α ± 0.02, B ± 1293.23):
    the α + 1 SE row equals a budget with α = 0.3678 written inline."""
    s = sensitivity(FLOPS, fraction=0.2)
    rows = {r.name: r for r in s.rows}
    assert rows["law.alpha"].high.value == pytest.approx(0.3478 + 0.02)
    assert rows["law.B"].low.value == pytest.approx(2085.43 - 1293.23)
    assert rows["inference.demand"].high.value == pytest.approx(5e12 * 1.2)
    inline = FLOPS.replace("law: epoch2024", "law: {E: 1.8172, A: 482.01, B: 2085.43, "
                           "alpha: 0.3678, beta: 0.3658}")
    ref = optimize(inline)
    assert rel(rows["law.alpha"].high.params, ref.plan.params) < 1e-12
    assert any("one standard error" in n for n in s.notes)
    # ±20% of an exponent is far wider than its uncertainty: the ±1 SE bars are narrower
    wide = {r.name: r for r in sensitivity(FLOPS, fraction=0.2, law_by="fraction").rows}
    for name in ("law.alpha", "law.beta"):
        se_span = rows[name].span("params", s.base.params)
        assert se_span < wide[name].span("params", s.base.params), name


CHOICES = """schema_version: 1
law: epoch2024
target: {match: {params: 7B}}
inference: {requests_per_month: 300M, months: 12, tokens_per_request: {input: 1000, output: 300}}
train: {hardware: [a100-80gb-sxm, h100-sxm], gpus: 512, mfu: 0.4}
serve:
  hardware: [h100-sxm, l40s]
  batch_size: 32
  weight_bits: auto
  compute_precision: fp8
  quantization_penalty: ouyang2024
  max_time_per_output_token_ms: 40
  max_gpus_per_replica: 4
  speculative:
    gamma: auto
    max_gamma: 3
    drafts:
      - {name: small, params: 68M, acceptance: 0.6, train: false}
      - {name: own, fraction: 0.01, acceptance: 0.8, train: true}
objective: usd
"""


def test_held_configuration_rows_equal_full_budgets_solved_one_at_a_time():
    """With discrete choices the perturbed budgets are built for the plan's configuration
    alone (``pin_configuration``): each row equals the full perturbed budget (every hardware,
    draft, bits, γ and GPU count), restricted to that configuration and solved on its own."""
    from planner.budget import budget_from_data, load_budget
    from planner.budget.edit import budget_data, scale_demand, set_field
    from planner.optimize import prepare, solve_candidates
    from planner.optimize.choices import pin_choices

    budget = load_budget(CHOICES)
    base = optimize(budget)
    full = prepare(budget)
    assert len(full.candidates) == 2 * 2 * 6 * 7 * 3  # train × serve × bits × (γ, draft) × GPUs
    s = sensitivity(budget, fraction=0.2)
    chosen = next(c for c in full.candidates if c.configuration() == base.configuration)
    assert s.configuration == chosen.label()
    data, marks, where = budget_data(budget)
    data = pin_choices(data, chosen)  # hardware and draft only: every bits/γ/GPU combination
    cm = chosen.cost_model
    edits = {
        "train.mfu": lambda v: set_field(data, "train.mfu", v, budget),
        "train.price": lambda v: set_field(data, "train.hardware.price_usd_per_hour", v, budget),
        "serve.price": lambda v: set_field(data, "serve.hardware.price_usd_per_hour", v, budget),
        "inference.demand": lambda v: scale_demand(data, budget, v / budget.inference
                                                   .total_tokens),
    }
    rows = {r.name: r for r in s.rows}
    assert rows["train.price"].base_value == cm.train_hw.price_usd_per_hour
    compared = 0
    for name, edit in edits.items():
        for out in (rows[name].low, rows[name].high):
            p = prepare(budget_from_data(edit(out.value), marks, where))
            assert len(p.candidates) >= 6 * 3  # bits × GPUs (× γ with a draft)
            k = next(i for i, c in enumerate(p.candidates)
                     if c.configuration() == chosen.configuration())
            sol, _ = solve_candidates(p.restricted(k), "iso_loss")
            assert sol.status == "optimal" and out.feasible
            assert rel(out.params, sol.params) < 1e-9, name
            assert rel(out.train_tokens, sol.tokens) < 1e-9, name
            assert rel(out.objective, sol.objective) < 1e-9, name
            compared += 1
    assert compared == 8
    # the moves have their signs: dearer serving, a smaller model; dearer training, larger
    assert rows["serve.price"].change("params", s.base.params)[1] < 0
    assert rows["train.price"].change("params", s.base.params)[1] > 0
