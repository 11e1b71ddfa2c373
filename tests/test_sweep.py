"""Sweeps: grid parsing, budget variation, and every point equal to optimize() on its budget."""

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from planner.analysis.sweep import Axis, grid_points, parse_vary, sweep
from planner.budget import load_budget
from planner.budget.edit import set_field
from planner.cli import app
from planner.errors import InputError
from planner.optimize import optimize
from planner.render.csv_table import csv_text

FLOPS = """schema_version: 1
name: sweep-flops
law: epoch2024
target: {match: {params: 13B}}
inference: {requests: 10B, tokens_per_request: {input: 500, output: 300}}
objective: flops
"""

TOKENS = """schema_version: 1
law: epoch2024
target: {loss: 2.05}
inference: {tokens: 2T}
objective: flops
"""

DOLLAR = """schema_version: 1
name: sweep-usd
law: epoch2024
target: {loss: 2.1}
inference: {requests_per_month: 500M, months: 12, tokens_per_request: {input: 1000, output: 250}}
train: {hardware: h100-sxm, gpus: 1024, mfu: 0.4}
serve: {hardware: h100-sxm, batch_size: 64, weight_bits: auto}
objective: usd
"""


def write(tmp_path, text, name="b.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def rel(a, b):
    return abs(a / b - 1.0)


def point_budget(path, inputs):
    """The budget a sweep point stands for, built by hand from the file's YAML (not with the
    sweep's own field setter): lifetime tokens become requests by dividing by the tokens per
    request (and the months, for a monthly rate), ``target.loss`` replaces the target, other
    fields are set where they are."""
    import yaml

    data = yaml.safe_load(path.read_text())
    for field, value in inputs.items():
        head, key = field.split(".", 1)
        block = dict(data.get(head) or {})
        if field == "inference.tokens" and "tokens" not in block:
            tpr = block["tokens_per_request"]
            per = tpr["input"] + tpr["output"]
            if "requests_per_month" in block:
                block["requests_per_month"] = value / per / block["months"]
            else:
                block["requests"] = value / per
        elif field == "target.loss":
            block = {"loss": value}
        else:
            block[key] = value
        data[head] = block
    return data


# ---- grids ----------------------------------------------------------------------------------
def test_log_grid_has_exact_ends_and_constant_ratio():
    a = parse_vary("inference.tokens=1e10:1e15:21")
    assert a.field == "inference.tokens" and a.scale == "log" and len(a) == 21
    assert a.values[0] == 1e10 and a.values[-1] == 1e15
    ratios = np.diff(np.log10(np.array(a.values, dtype=float)))
    assert np.allclose(ratios, 0.25, rtol=1e-9)


def test_lin_grid_and_lists_with_quantities():
    a = parse_vary("target.loss=lin:2:2.2:5")
    assert a.scale == "lin" and a.values == (2, 2.05, 2.1, 2.15, 2.2)
    b = parse_vary("inference.tokens=2T,13B, 5e11")
    assert b.scale == "list" and b.values == (2_000_000_000_000, 13_000_000_000, 500_000_000_000)
    c = parse_vary("serve.hardware=h100-sxm,a100-80gb-sxm")
    assert c.values == ("h100-sxm", "a100-80gb-sxm")
    # same as the explicit log: prefix
    assert parse_vary("x.y=log:1:100:3").values == parse_vary("x.y=1:100:3").values == (1, 10, 100)


@pytest.mark.parametrize("spec, needle", [
    ("inference.tokens", "FIELD=GRID"),
    ("inference.tokens=0:1e12:5", "log grid needs positive ends"),
    ("inference.tokens=1e10:1e12:x", "integer"),
    ("inference.tokens=1e10:1e12", "start:stop:n"),
    ("inference.tokens=1e10:1e12:1", "at least 2 points"),
    ("inference.tokens=1e10:junk:4", "inference.tokens"),
    ("train..mfu=0.3,0.4", "dotted path"),
    ("inference.tokens=1,,2", "empty value"),
])
def test_bad_vary_specs_are_one_line_input_errors_naming_the_field(spec, needle):
    with pytest.raises(InputError) as e:
        parse_vary(spec)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg
    field = spec.split("=")[0]
    if "=" in spec and "." in field and ".." not in field:
        assert msg.startswith(f"--vary {field}:")


def test_cartesian_product_order_and_duplicates():
    pts = grid_points([Axis("a", (1, 2), "list"), Axis("b", (10, 20, 30), "list")])
    assert [tuple(p.values()) for p in pts] == [(1, 10), (1, 20), (1, 30), (2, 10), (2, 20),
                                                (2, 30)]
    with pytest.raises(InputError, match="given twice"):
        grid_points([Axis("a", (1,), "list"), Axis("a", (2,), "list")])


# ---- budget variation -----------------------------------------------------------------------
def test_set_field_conveniences(tmp_path):
    base = load_budget(write(tmp_path, FLOPS))
    data = {"schema_version": 1, "law": "epoch2024", "target": {"match": {"params": "13B"}},
            "inference": {"requests": "10B", "tokens_per_request": {"input": 500, "output": 300}}}
    # lifetime tokens scale the requests (800 tokens each)
    d = set_field(data, "inference.tokens", 4e12, base)
    assert d["inference"]["requests"] == pytest.approx(5e9, rel=1e-15)
    assert load_budget(d).inference.total_tokens == pytest.approx(4e12, rel=1e-15)
    # target.loss replaces target.match
    assert set_field(data, "target.loss", 2.0, base)["target"] == {"loss": 2.0}
    # a preset law becomes inline constants
    d = set_field(data, "law.alpha", 0.3, base)
    assert d["law"]["alpha"] == 0.3 and d["law"]["B"] == 2085.43
    # a named hardware profile becomes an inline profile extending it
    d = set_field({**data, "serve": {"hardware": "l40s"}}, "serve.hardware.price_usd_per_hour",
                  2.5, base)
    assert d["serve"]["hardware"] == {"extends": "l40s", "name": "l40s",
                                      "price_usd_per_hour": 2.5}
    assert data["target"] == {"match": {"params": "13B"}}  # input untouched
    with pytest.raises(InputError, match="no 'train:' block"):
        set_field(data, "train.mfu", 0.5, base)
    with pytest.raises(InputError, match="section"):
        set_field(data, "target", 2.0, base)


def test_varied_law_constant_equals_the_inline_law(tmp_path):
    path = write(tmp_path, TOKENS)
    res = sweep(path, [parse_vary("law.beta=0.3,0.4")])
    for p in res.points:
        inline = TOKENS.replace("law: epoch2024", "law: {E: 1.8172, A: 482.01, B: 2085.43, "
                                f"alpha: 0.3478, beta: {p.inputs['law.beta']}}}")
        ref = optimize(inline)
        assert rel(p.result.plan.params, ref.plan.params) < 1e-12
    assert res.points[0].result.plan.params != res.points[1].result.plan.params


# ---- sweeps reproduce optimize() ------------------------------------------------------------
def test_demand_sweep_reproduces_single_plans_point_by_point(tmp_path):
    path = write(tmp_path, FLOPS)
    res = sweep(path, [parse_vary("inference.tokens=1e10:1e15:21")])
    assert len(res.points) == 21 and res.diagnostics["batched_points"] == 21
    prev = np.inf
    for p in res.points:
        ref = optimize(point_budget(path, p.inputs))
        got = p.result
        for key in ("params", "train_tokens", "objective", "total_flops", "loss"):
            assert rel(getattr(got.plan, key), getattr(ref.plan, key)) < 1e-9, key
        assert rel(got.baseline.total_flops, ref.baseline.total_flops) < 1e-9
        assert got.plan.to_dict().keys() == ref.plan.to_dict().keys()
        assert got.warnings == ref.warnings
        assert got.plan.inference_flops == pytest.approx(2 * got.plan.params * p.inputs[
            "inference.tokens"], rel=1e-12)
        assert got.plan.params < prev  # more demand, smaller model
        prev = got.plan.params


def test_two_field_dollar_sweep_reproduces_single_plans(tmp_path):
    path = write(tmp_path, DOLLAR)
    res = sweep(path, [parse_vary("inference.tokens=1e12:1e15:3"),
                       parse_vary("train.mfu=lin:0.3:0.5:2")])
    assert len(res.points) == 6 and res.diagnostics["batched_points"] == 6
    for p in res.points:
        ref = optimize(point_budget(path, p.inputs))
        got = p.result
        assert got.plan.extra["configuration"] == ref.plan.extra["configuration"]
        for key in ("params", "train_tokens", "objective"):
            assert rel(getattr(got.plan, key), getattr(ref.plan, key)) < 1e-9, key
        assert rel(got.plan.costs["total_usd"], ref.plan.costs["total_usd"]) < 1e-9
        assert got.active_constraints == ref.active_constraints
    # higher MFU, cheaper training: lower lifetime cost at the same demand
    by = {(p.inputs["inference.tokens"], p.inputs["train.mfu"]): p.result.plan.objective
          for p in res.points}
    assert by[(1e12, 0.5)] < by[(1e12, 0.3)]


def test_points_of_different_structure_are_grouped(tmp_path):
    text = DOLLAR.replace("weight_bits: auto", "weight_bits: 16")
    path = write(tmp_path, text)
    res = sweep(path, [parse_vary("serve.weight_bits=16,8,4")])
    assert res.diagnostics["batched_points"] == 3
    for p in res.points:
        ref = optimize(point_budget(path, p.inputs))
        assert rel(p.result.plan.params, ref.plan.params) < 1e-9
        assert p.result.plan.serving["weight_bits"] == p.inputs["serve.weight_bits"]


def test_gp_solver_goes_one_point_at_a_time(tmp_path):
    path = write(tmp_path, TOKENS)
    res = sweep(path, [parse_vary("inference.tokens=1e11,1e13")], solver="gp")
    assert res.diagnostics["one_at_a_time_points"] == 2
    for p in res.points:
        assert p.result.solver == "gp"
        ref = optimize(point_budget(path, p.inputs), solver="iso_loss")
        assert rel(p.result.plan.params, ref.plan.params) < 1e-4


def test_infeasible_points_are_reported_not_fatal(tmp_path):
    path = write(tmp_path, TOKENS)
    res = sweep(path, [parse_vary("target.loss=lin:1.7:2.1:5")])
    status = [p.status for p in res.points]
    assert status == ["infeasible", "infeasible", "optimal", "optimal", "optimal"]
    assert "irreducible" in res.points[0].error
    assert res.points[0].to_dict()["plan"] is None


def test_csv_and_json_outputs(tmp_path):
    path = write(tmp_path, TOKENS)
    res = sweep(path, [parse_vary("inference.tokens=1e11:1e13:3"),
                       parse_vary("target.loss=2.0,2.1")])
    rows = list(csv.DictReader(io.StringIO(csv_text(res.rows()))))
    assert len(rows) == 6 and csv_text(res.rows()).startswith("inference.tokens,")
    for r, p in zip(rows, res.points):
        assert float(r["params"]) == p.result.plan.params
        assert float(r["objective_flops"]) == p.result.plan.objective
        assert float(r["target.loss"]) == p.inputs["target.loss"]
    doc = json.loads(json.dumps(res.to_dict()))
    assert len(doc["points"]) == 6
    ref = optimize(point_budget(path, res.points[4].inputs)).to_dict()["plan"]
    got = doc["points"][4]["plan"]
    assert got.keys() == ref.keys()
    assert got["params"] == pytest.approx(ref["params"], rel=1e-9)
    assert doc["points"][4]["inputs"] == {"inference.tokens": 1e13, "target.loss": 2.0}


# ---- CLI ------------------------------------------------------------------------------------
runner = CliRunner()


def test_cli_sweep_table_json_and_csv(tmp_path):
    path = write(tmp_path, FLOPS)
    out_csv = tmp_path / "s.csv"
    r = runner.invoke(app, ["sweep", str(path), "--vary", "inference.tokens=1e10:1e15:6",
                            "--csv", str(out_csv)])
    assert r.exit_code == 0, r.output
    assert "inference.tokens" in r.stdout and "6 points" in r.stdout
    assert len(out_csv.read_text().splitlines()) == 7
    r = runner.invoke(app, ["sweep", str(path), "--vary", "inference.tokens=1e10,1e12",
                            "--vary", "target.loss=2.0,2.1", "--json"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and len(doc["points"]) == 4
    assert doc["points"][3]["inputs"] == {"inference.tokens": 1e12, "target.loss": 2.1}


@pytest.mark.parametrize("vary, needle", [
    ("train.mfu=0.3,0.4", "--vary train.mfu:"),
    ("inference.tokenz=1e10,1e12", "--vary inference.tokenz:"),
    ("target.loss=0:2:3", "--vary target.loss:"),
])
def test_cli_bad_vary_is_one_line_exit_2(tmp_path, vary, needle):
    r = runner.invoke(app, ["sweep", str(write(tmp_path, FLOPS)), "--vary", vary])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {needle}") and r.stderr.count("\n") == 1
