"""Scenario comparison: scenario files, side-by-side plans, and the fixed-model mode."""

import json

import pytest
from typer.testing import CliRunner

from planner.analysis.compare import compare, cost_fixed, parse_at
from planner.budget import load_budget
from planner.budget.edit import merge
from planner.budget.scenarios import expand_file
from planner.cli import app
from planner.errors import InfeasibleError, InputError
from planner.optimize import optimize, prepare

BASE = """schema_version: 1
law: epoch2024
target: {match: {params: 13B}}
inference: {requests: 10B, tokens_per_request: {input: 500, output: 300}}
objective: flops
"""

SCENARIOS = BASE + """scenarios:
  base: {}
  more-demand: {inference.tokens: 40T}
  hoffmann: {law: hoffmann2022}
  loss-2: {target: {loss: 2.0, match: null}}
"""

DOLLAR = """schema_version: 1
name: dollars
law: epoch2024
target: {loss: 2.1}
inference: {requests: 5B, tokens_per_request: {input: 1000, output: 250}}
train: {hardware: h100-sxm, gpus: 1024, mfu: 0.4}
serve: {hardware: h100-sxm, batch_size: 64, weight_bits: auto}
objective: usd
"""


def write(tmp_path, text, name):
    p = tmp_path / name
    p.write_text(text)
    return p


def rel(a, b):
    return abs(a / b - 1.0)


def test_merge_nested_null_and_dotted_keys():
    base = {"a": {"x": 1, "y": 2}, "target": {"match": {"params": "13B"}}, "k": 5}
    out = merge(base, {"a": {"y": 3}, "k": None, "target.loss": 2.0})
    assert out == {"a": {"x": 1, "y": 3}, "target": {"loss": 2.0}}
    assert base["a"] == {"x": 1, "y": 2} and "k" in base


def test_scenario_file_expands_into_the_budgets_it_describes(tmp_path):
    entries = expand_file(write(tmp_path, SCENARIOS, "s.yaml"))
    assert [n for n, _ in entries] == ["base", "more-demand", "hoffmann", "loss-2"]
    b = dict(entries)
    assert b["more-demand"].inference.total_tokens == pytest.approx(4e13, rel=1e-15)
    assert b["hoffmann"].law.preset == "hoffmann2022"
    assert b["loss-2"].target.loss == 2.0 and b["loss-2"].target.match is None
    assert b["base"].model_dump() == load_budget(BASE).model_dump()


def test_compare_plans_equal_optimize_of_each_scenario(tmp_path):
    c = compare([write(tmp_path, SCENARIOS, "s.yaml")])
    assert c.mode == "optimize" and len(c.entries) == 4
    refs = {"base": BASE, "more-demand": BASE.replace(
        "{requests: 10B, tokens_per_request: {input: 500, output: 300}}",
        "{requests: 50B, tokens_per_request: {input: 500, output: 300}}"),
        "hoffmann": BASE.replace("epoch2024", "hoffmann2022"),
        "loss-2": BASE.replace("{match: {params: 13B}}", "{loss: 2.0}")}
    for e in c.entries:
        ref = optimize(refs[e.name])
        assert rel(e.result.plan.params, ref.plan.params) < 1e-9, e.name
        assert rel(e.result.plan.objective, ref.plan.objective) < 1e-9, e.name
    m = {x.label: x for x in c.metrics()}
    assert m["parameters"].differs and not m["binding constraints"].differs
    assert m["law"].values == ("epoch2024", "epoch2024", "hoffmann2022", "epoch2024")
    relative = m["parameters"].relative()
    assert relative[0] == 0.0
    assert relative[1] == pytest.approx(c.entries[1].result.plan.params
                                        / c.entries[0].result.plan.params - 1, rel=1e-12)
    assert relative[1] < 0  # more demand: a smaller model


def test_two_files_side_by_side(tmp_path):
    a, b = write(tmp_path, BASE, "flops.yaml"), write(tmp_path, DOLLAR, "usd.yaml")
    c = compare([a, b])
    assert [e.name for e in c.entries] == ["flops", "dollars"]
    assert rel(c.entries[1].result.plan.params, optimize(DOLLAR).plan.params) < 1e-9
    obj = next(m for m in c.metrics() if m.label == "lifetime cost (objective)")
    assert obj.units == ("flops", "usd") and obj.differs and obj.relative() == [None, None]


def test_fixed_model_is_costed_not_optimised(tmp_path):
    path = write(tmp_path, DOLLAR, "usd.yaml")
    c = compare([path], at="params=13B,tokens=260B")
    (e,) = c.entries
    assert e.fixed.params == 13e9 and e.fixed.train_tokens == 260e9
    # the cheapest configuration that holds the constraints: none cheaper among all of them
    problem = prepare(load_budget(path))
    costs = [float(c.scenario.objective_value(13e9, 260e9)) for c in problem.candidates
             if all(float(k.slack(13e9, 260e9)) >= -1e-9 for k in c.scenario.constraints)]
    assert e.fixed.objective == pytest.approx(min(costs), rel=1e-12)
    # a FLOPs budget costs the fixed model in closed form: 6·N·D + 2·N·T, T = 10B × 800
    (f,) = compare([write(tmp_path, BASE, "flops.yaml")], at="params=13B,tokens=260B").entries
    assert f.fixed.objective == pytest.approx(6 * 13e9 * 260e9 + 2 * 13e9 * 8e12, rel=1e-12)
    # the optimum is cheaper than any other model of the same loss
    premium = next(m for m in c.metrics() if m.label == "premium over the scenario's optimum")
    assert premium.values[0] > 0


def test_fixed_params_take_tokens_from_the_iso_loss_curve(tmp_path):
    c = compare([write(tmp_path, BASE, "b.yaml")], at={"params": 7e9})
    (e,) = c.entries
    assert e.fixed.params == 7e9
    assert e.fixed.loss == pytest.approx(e.result.target_loss, rel=1e-12)
    assert e.fixed.objective >= e.result.plan.objective
    c2 = compare([write(tmp_path, BASE, "b.yaml")], at={"tokens": e.fixed.train_tokens})
    assert c2.entries[0].fixed.params == pytest.approx(7e9, rel=1e-9)


def test_fixed_model_that_cannot_reach_the_target_is_an_error(tmp_path):
    problem = prepare(load_budget(BASE))
    with pytest.raises(InfeasibleError, match="cannot reach the target"):
        cost_fixed(problem, params=1e8)


@pytest.mark.parametrize("spec, needle", [("params", "expected"), ("width=3", "unknown key"),
                                          ("params=abc", "--at params"), ("", "give params")])
def test_bad_at_specs(spec, needle):
    with pytest.raises(InputError, match=needle):
        parse_at(spec)


def test_scenario_errors_name_the_scenario_and_line(tmp_path):
    text = BASE + "scenarios:\n  ok: {}\n  broken: {objective: dollars}\n"
    with pytest.raises(InputError) as e:
        expand_file(write(tmp_path, text, "bad.yaml"))
    msg = str(e.value)
    assert msg.startswith("scenario 'broken':") and "bad.yaml:8:" in msg and "objective" in msg


runner = CliRunner()


def test_cli_compare_table_and_json(tmp_path):
    path = write(tmp_path, SCENARIOS, "s.yaml")
    r = runner.invoke(app, ["compare", str(path)])
    assert r.exit_code == 0, r.output
    for name in ("base", "more-demand", "hoffmann", "loss-2", "≠"):
        assert name in r.stdout
    r = runner.invoke(app, ["compare", str(path), "--at", "params=7B", "--json"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["mode"] == "fixed" and doc["at"] == {"params": 7e9}
    assert [s["fixed"]["params"] for s in doc["scenarios"]] == [7e9] * 4
    assert all("result" in s for s in doc["scenarios"])
    r = runner.invoke(app, ["compare", str(path), "--at", "size=7B"])
    assert r.exit_code == 2 and r.stderr.startswith("error: --at size")
