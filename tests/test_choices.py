"""Hardware and draft as discrete choices: the optimizer's pick equals the best of planning each
option alone (exhaustive), the runner-up rows equal those single-option plans, and a list none
of whose options is feasible exits 3 naming the constraints."""

import copy
import json

import pytest
import yaml
from typer.testing import CliRunner

from planner.budget import load_budget
from planner.cli import app
from planner.errors import InputError
from planner.optimize import optimize

runner = CliRunner()

GPU = """schema_version: 1
law: epoch2024
target: {match: {params: 13B}}
inference:
  requests_per_month: 1B
  months: 18
  tokens_per_request: {input: 2000, output: 400}
train: {hardware: h100-sxm, gpus: 1024, mfu: 0.4, deadline_days: 90}
serve:
  hardware: [h100-sxm, h200-sxm, l40s, mi300x]
  batch_size: 64
  weight_bits: 8
  compute_precision: fp8
  gpus_per_replica: 1
  max_time_per_output_token_ms: 30
objective: usd
"""

DRAFT = """schema_version: 1
law: epoch2024
target: {match: {params: 13B}}
inference:
  requests_per_month: 1B
  months: 18
  tokens_per_request: {input: 2000, output: 400}
train: {hardware: h100-sxm, gpus: 1024, mfu: 0.4}
serve:
  hardware: h100-sxm
  batch_size: 64
  weight_bits: 16
  gpus_per_replica: 1
  speculative:
    max_gamma: 6
    drafts:
      - {name: small, params: 68M, acceptance: 0.6}
      - {name: own, fraction: 0.01, acceptance: 0.8, train: true}
      - {name: big, params: 1B, acceptance: 0.9, train: false}
objective: usd
"""


def data(text):
    return yaml.safe_load(text)


def rel(a, b):
    return abs(a / b - 1.0)


def alone(base: dict, **serve) -> dict:
    d = copy.deepcopy(base)
    d["serve"].update(serve)
    return d


def test_hardware_choice_is_the_best_of_each_hardware_alone():
    base = data(GPU)
    got = optimize(base)
    singles = {hw: optimize(alone(base, hardware=hw)) for hw in base["serve"]["hardware"]}
    feasible = {hw: r for hw, r in singles.items() if r.ok}
    best = min(feasible, key=lambda hw: feasible[hw].plan.objective)
    ref = feasible[best]
    assert got.configuration["serve_hardware"] == best
    for key in ("params", "train_tokens", "objective"):
        assert rel(getattr(got.plan, key), getattr(ref.plan, key)) < 1e-9, key
    assert got.plan.serving["hardware"] == best
    # the baseline is costed on the chosen hardware: the saving is that of sizing N and D
    assert rel(got.baseline.objective, ref.baseline.objective) < 1e-9
    assert got.baseline.serving["hardware"] == best
    # the runner-up rows are the single-hardware plans, cheapest first
    rows = [r for r in got.alternatives if r["choice"] == "serve_hardware"]
    assert [r["name"] for r in rows if r["status"] == "optimal"] == sorted(
        feasible, key=lambda hw: feasible[hw].plan.objective)
    for r in rows:
        one = singles[r["name"]]
        assert r["chosen"] == (r["name"] == best)
        if r["status"] != "optimal":
            assert not one.ok
            continue
        assert rel(r["params"], one.plan.params) < 1e-9
        assert rel(r["train_tokens"], one.plan.train_tokens) < 1e-9
        assert rel(r["objective"], one.plan.objective) < 1e-9
        assert r["vs_plan"] == pytest.approx(one.plan.objective / ref.plan.objective - 1,
                                             abs=1e-9)
        assert r["binding"] == list(one.active_constraints)
        assert r["configuration"]["serve_hardware"] == r["name"]


def test_a_hardware_that_misses_the_latency_limit_is_reported_infeasible():
    base = data(GPU)
    base["target"] = {"match": {"params": 70e9}}
    base["serve"].update(hardware=["h100-sxm", "l40s"], gpus_per_replica="auto",
                         max_gpus_per_replica=8, max_time_per_output_token_ms=10)
    got = optimize(base)
    l40s = optimize(alone(base, hardware="l40s"))
    assert l40s.status == "infeasible"
    assert got.configuration["serve_hardware"] == "h100-sxm"
    ref = optimize(alone(base, hardware="h100-sxm"))
    assert rel(got.plan.objective, ref.plan.objective) < 1e-9
    (row,) = [r for r in got.alternatives if r["name"] == "l40s"]
    assert row["status"] == "infeasible" and row["params"] is None
    # the latency limit alone rules out every L40S configuration: dropping it makes L40S feasible
    assert row["binding"] == ["max_time_per_output_token"]
    relaxed = alone(base, hardware="l40s")
    del relaxed["serve"]["max_time_per_output_token_ms"]
    assert optimize(relaxed).ok


def test_deadline_applies_per_training_hardware():
    base = data(GPU)
    base["serve"]["hardware"] = "h100-sxm"
    base["train"].update(hardware=["a100-80gb-sxm", "h100-sxm"], deadline_days=1.0)
    got = optimize(base)
    singles = {hw: optimize({**base, "train": {**base["train"], "hardware": hw}})
               for hw in ("a100-80gb-sxm", "h100-sxm")}
    ok = {hw: r for hw, r in singles.items() if r.ok}
    best = min(ok, key=lambda hw: ok[hw].plan.objective)
    assert got.configuration["train_hardware"] == best
    assert rel(got.plan.objective, ok[best].plan.objective) < 1e-9
    # 1 day on 1024 GPUs: the A100 (312 bf16 TFLOP/s) cannot train this model in time
    assert not singles["a100-80gb-sxm"].ok
    assert "deadline_days" in singles["a100-80gb-sxm"].binding_constraints
    (row,) = [r for r in got.alternatives if r["name"] == "a100-80gb-sxm"]
    assert row["choice"] == "train_hardware" and row["binding"] == ["deadline_days"]


def test_draft_choice_is_the_best_of_each_draft_alone():
    base = data(DRAFT)
    got = optimize(base)
    sd = base["serve"]["speculative"]
    plans = {"none": optimize(alone(base, speculative=None))}
    for d in sd["drafts"]:
        single = {"acceptance": d["acceptance"], "max_gamma": sd["max_gamma"],
                  "train_draft": d.get("train", False)}
        single.update({"draft_params": d["params"]} if "params" in d
                      else {"draft_fraction": d["fraction"]})
        plans[d["name"]] = optimize(alone(base, speculative=single))
    best = min(plans, key=lambda k: plans[k].plan.objective)
    ref = plans[best]
    assert ref.configuration["gamma"] > 0 or best == "none"
    assert got.configuration["draft"] == best
    assert got.configuration["gamma"] == ref.configuration["gamma"]
    for key in ("params", "train_tokens", "objective"):
        assert rel(getattr(got.plan, key), getattr(ref.plan, key)) < 1e-9, key
    rows = {r["name"]: r for r in got.alternatives}
    assert set(rows) == {"none", "small", "own", "big"}
    for name, one in plans.items():
        if name == "none" or one.configuration["gamma"] > 0:  # that draft alone speculates
            assert rel(rows[name]["objective"], one.plan.objective) < 1e-9, name
            assert rel(rows[name]["params"], one.plan.params) < 1e-9, name
    # the trained draft's row pays for training it; existing drafts do not
    own = optimize(alone(base, speculative={"acceptance": 0.8, "draft_fraction": 0.01,
                                            "max_gamma": 6, "train_draft": True}))
    assert own.plan.costs["draft_train_usd"] > 0
    assert got.plan.costs.get("draft_train_usd", 0.0) == (
        0.0 if best != "own" else pytest.approx(ref.plan.costs["draft_train_usd"]))


def test_no_feasible_choice_exits_3_naming_the_constraints(tmp_path):
    base = data(GPU)
    base["target"] = {"match": {"params": 70e9}}
    base["serve"].update(hardware=["l40s", "a100-80gb-pcie"], compute_precision="bf16",
                         max_time_per_output_token_ms=1)
    p = tmp_path / "none.yaml"
    p.write_text(yaml.safe_dump(base))
    res = runner.invoke(app, ["optimize", str(p)])
    assert res.exit_code == 3
    assert "no choice is feasible" in res.stderr
    assert "serving hardware l40s: max_time_per_output_token" in res.stderr
    assert "serving hardware a100-80gb-pcie: max_time_per_output_token" in res.stderr
    assert "Traceback" not in res.stderr


def test_terminal_and_json_show_the_runner_up_choices(tmp_path):
    p = tmp_path / "gpu.yaml"
    p.write_text(GPU)
    res = runner.invoke(app, ["optimize", str(p)])
    assert res.exit_code == 0, res.stderr
    assert "Runner-up choices" in res.stdout and "(chosen)" in res.stdout
    res = runner.invoke(app, ["optimize", str(p), "--json"])
    doc = json.loads(res.stdout)
    assert {"plan", "baseline", "configuration", "savings"} <= set(doc)
    names = [r["name"] for r in doc["alternatives"]]
    assert sorted(names) == ["h100-sxm", "h200-sxm", "l40s", "mi300x"]
    assert doc["configuration"]["serve_hardware"] in names


def test_single_choice_budgets_keep_their_form():
    r = optimize("examples/chat-assistant.yaml")
    assert r.alternatives == ()
    assert r.configuration["draft"] in ("none", "draft")
    assert r.configuration["serve_hardware"] == "h100-sxm"
    assert r.to_dict()["alternatives"] == []


def test_sweep_point_of_a_list_budget_plans_all_choices(tmp_path):
    from planner.analysis.sweep import parse_vary, sweep

    p = tmp_path / "gpu.yaml"
    p.write_text(GPU)
    res = sweep(p, [parse_vary("inference.requests_per_month=1e8:1e10:3")])
    assert res.diagnostics["batched_points"] == 3  # every point and every choice in one batch
    for pt in res.points:
        d = data(GPU)
        d["inference"]["requests_per_month"] = pt.inputs["inference.requests_per_month"]
        ref = optimize(d)
        assert pt.result.configuration == ref.configuration
        assert rel(pt.result.plan.objective, ref.plan.objective) < 1e-9
        assert [r["name"] for r in pt.result.alternatives] == [
            r["name"] for r in ref.alternatives]


def test_sensitivity_perturbs_the_chosen_hardware_price_only():
    from planner.analysis.sensitivity import sensitivity
    from planner.budget.edit import set_field
    from planner.optimize import prepare, solve_candidates

    base = data(GPU)
    base["serve"]["hardware"] = ["h100-sxm", "h200-sxm"]
    r = optimize(base)
    chosen = r.configuration["serve_hardware"]
    sens = sensitivity(base, 0.2, problem=prepare(load_budget(base)), result=r)
    (row,) = [x for x in sens.rows if x.name == "serve.price"]
    assert chosen in row.label
    single = alone(base, hardware=chosen)
    price = load_budget(single).serve.hardware
    from planner.hardware import load_profile

    p0 = load_profile(price).price_usd_per_hour
    assert row.base_value == p0
    hi = prepare(load_budget(set_field(single, "serve.hardware.price_usd_per_hour", p0 * 1.2)))
    sol, _ = solve_candidates(hi)
    assert rel(row.high.objective, sol.objective) < 1e-9


def test_bad_lists_are_input_errors():
    base = data(GPU)
    with pytest.raises(InputError, match=r"serve.hardware\[1\]: profile 'h100-sxm' is listed"):
        optimize(alone(base, hardware=["h100-sxm", "h100-sxm"]))
    with pytest.raises(InputError, match="serve.hardware: an empty list"):
        load_budget(alone(base, hardware=[]))
    with pytest.raises(InputError, match="give 'drafts' or the single-draft keys, not both"):
        load_budget(alone(base, speculative={"acceptance": 0.8, "drafts": [
            {"name": "a", "params": "68M", "acceptance": 0.7}]}))
    with pytest.raises(InputError, match="'none' is the implicit no-draft choice"):
        load_budget(alone(base, speculative={"drafts": [
            {"name": "none", "params": "68M", "acceptance": 0.7}]}))
    with pytest.raises(InputError, match="give exactly one of 'params' or 'fraction'"):
        load_budget(alone(base, speculative={"drafts": [{"name": "a", "acceptance": 0.7}]}))


@pytest.mark.parametrize("name", ["which-gpu", "which-draft"])
def test_examples_plan(name):
    r = optimize(f"examples/{name}.yaml")
    assert r.ok and r.alternatives
    assert sum(1 for a in r.alternatives if a["chosen"]) == len(
        {a["choice"] for a in r.alternatives})


def test_report_table_lists_each_option():
    from types import SimpleNamespace

    from planner.render.document import Doc
    from planner.render.review_sections import _choices

    r = optimize(data(GPU))
    doc = Doc()
    _choices(doc, SimpleNamespace(result=r, choices=list(r.alternatives)))
    md = doc.markdown()
    best = r.configuration["serve_hardware"]
    assert f"| serving hardware | {best} (chosen) |" in md
    for row in r.alternatives:
        assert f"| {row['name']}" in md


def test_sensitivity_holds_the_chosen_draft():
    from planner.analysis.sensitivity import sensitivity
    from planner.optimize import prepare, solve_candidates

    base = data(DRAFT)
    r = optimize(base)
    name = r.configuration["draft"]
    sens = sensitivity(base, 0.2)
    assert sens.configuration.endswith(f"draft {name}")
    assert rel(sens.base.objective, r.plan.objective) < 1e-9
    # the demand row at ×1.2: the chosen draft alone, with its γ, bits and GPUs held
    (d,) = [x for x in base["serve"]["speculative"]["drafts"] if x["name"] == name]
    single = {"acceptance": d["acceptance"], "max_gamma": 6, "name": name,
              "train_draft": d.get("train", False),
              **({"draft_params": d["params"]} if "params" in d
                 else {"draft_fraction": d["fraction"]})}
    hi = alone(base, speculative=single)
    hi["inference"]["requests_per_month"] = 1.2e9
    p = prepare(load_budget(hi))
    k = next(i for i, c in enumerate(p.candidates) if c.configuration() == r.configuration)
    sol, _ = solve_candidates(p.restricted(k))
    (row,) = [x for x in sens.rows if x.name == "inference.demand"]
    assert rel(row.high.objective, sol.objective) < 1e-9


def test_compare_plans_each_list_budget_like_optimize():
    from planner.analysis.compare import compare

    lst = data(GPU)
    one = alone(lst, hardware="h200-sxm")
    cmp = compare([("list", load_budget(lst)), ("h200", load_budget(one))])
    got = {e.name: e.result for e in cmp.entries}
    for name, d in (("list", lst), ("h200", one)):
        ref = optimize(d)
        assert got[name].configuration == ref.configuration
        assert rel(got[name].plan.objective, ref.plan.objective) < 1e-9
        assert got[name].alternatives == ref.alternatives
    labels = [m for m in cmp.metrics() if m.label == "serving configuration"]
    assert labels and "serve on" in labels[0].values[0]
