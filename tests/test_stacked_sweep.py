"""The stacked sweep path (planner.optimize.stacked, planner.optimize.stacked_plans): the
configurations are built once per chunk of points with the points' differing numbers as arrays.
Every stacked point must equal the plan of that point's own budget with every configuration
built on its own (``eager``), field for field."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.analysis.sweep import parse_vary, sweep
from planner.budget import Budget, budget_from_data
from planner.budget.edit import vary_budget
from planner.optimize import stacked_plans
from planner.optimize.stacked import (
    StackedView,
    Unstackable,
    stack_values,
    stacked_view,
)
from planner.render.terminal import to_json
from planner.yaml_io import read_yaml_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def flat_json(result) -> dict:
    """A result's JSON as {path: value} (diagnostics left out: they say how it was solved)."""
    import json

    out: dict = {}

    def walk(x, path):
        if isinstance(x, dict):
            for k, v in x.items():
                if k != "diagnostics":
                    walk(v, f"{path}.{k}")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        else:
            out[path] = x

    walk(json.loads(to_json(result)), "")
    return out


def assert_same_plan(got, ref, rtol=1e-12):
    a, b = flat_json(got), flat_json(ref)
    assert a.keys() == b.keys()
    for key, x in a.items():
        y = b[key]
        if isinstance(x, float) and isinstance(y, float):
            assert x == pytest.approx(y, rel=rtol, abs=1e-300), key
        else:
            assert x == y, key


def eager(budget: Budget):
    """The plan of ``budget`` with every configuration built on its own (no batch build: an
    oracle independent of ``CandidateBuilder.batch``)."""
    from planner.optimize import prepare
    from planner.optimize.plans import optimize_problem, solver_name

    return optimize_problem(prepare(budget, lazy=False), solver_name(budget, None),
                            uncertainty=False)


def point_budget(path: Path, inputs: dict) -> Budget:
    data, marks = read_yaml_file(path)
    return vary_budget(data, marks, str(path), inputs, budget_from_data(data, marks, str(path)))


def check_sweep(path: Path, *specs: str, expect_stacked=True):
    res = sweep(path, [parse_vary(s) for s in specs])
    stacked = [p.result is not None and p.result.diagnostics.get("stacked") is True
               for p in res.points]
    if expect_stacked is not None:
        assert all(stacked) if expect_stacked else not any(stacked)
    for p in res.points:
        ref = eager(point_budget(path, p.inputs))
        assert p.status == ref.status, p.inputs
        if ref.ok:
            assert_same_plan(p.result, ref)
    return res


# ---- the stacked view -----------------------------------------------------------------------
def test_stack_values_rules():
    assert stack_values([3, 3, 3]) == 3
    np.testing.assert_array_equal(stack_values([1, 2.5, 4]), [1.0, 2.5, 4.0])
    assert stack_values([(1, "a"), (1, "a")]) == (1, "a")
    first, second = stack_values([(1.0, "given"), (2.0, "given")])
    np.testing.assert_array_equal(first, [1.0, 2.0]) and second == "given"
    for values in (["h100", "a100"], [True, False], [None, 1.0], [1.0, "x"], [[1], [2]]):
        with pytest.raises(Unstackable):
            stack_values(values)


def test_stacked_view_of_budgets_reads_arrays_only_where_points_differ():
    path = EXAMPLES / "chat-assistant.yaml"
    a = point_budget(path, {"inference.requests_per_month": 1e8})
    b = point_budget(path, {"inference.requests_per_month": 4e8})
    view = stacked_view([a, b])
    assert isinstance(view, Budget) and type(view) is StackedView
    np.testing.assert_allclose(view.inference.requests_per_month, [1e8, 4e8])
    np.testing.assert_allclose(view.inference.total_tokens,
                               [a.inference.total_tokens, b.inference.total_tokens])
    assert view.serve.batch_size == 64 and view.train.hardware == "h100-sxm"
    assert view.where("law") == a.where("law")  # a bound method: called on each, stacked
    with pytest.raises(AttributeError):
        view.name = "x"
    assert stacked_view([a]) is a


# ---- stacked points equal single plans ------------------------------------------------------
@pytest.mark.parametrize("specs", [
    ("inference.requests_per_month=1e8:1e10:4",),
    ("target.loss=lin:2.0:2.3:3",),
    ("train.mfu=lin:0.3:0.5:2", "serve.batch_size=16,64"),
    ("serve.max_time_per_output_token_ms=15,30,60",),
])
def test_chat_assistant_sweeps_equal_single_plans(specs):
    check_sweep(EXAMPLES / "chat-assistant.yaml", *specs)


def test_open_hardware_choice_with_an_infeasible_option_equals_single_plans():
    res = check_sweep(EXAMPLES / "which-gpu.yaml", "inference.tokens=1e12,1e14,1e15")
    rows = res.points[0].result.alternatives
    assert {r["name"] for r in rows} and any(r["status"] == "infeasible" for r in rows)


@pytest.mark.parametrize("name,spec", [
    ("which-draft.yaml", "inference.tokens=1e12,1e15"),
    ("code-model.yaml", "inference.requests_per_month=1e4:1e9:4"),
    ("on-device.yaml", "inference.tokens=1e12,1e15"),
    ("downstream-target.yaml", "inference.tokens=1e12,1e15"),
])
def test_other_examples_equal_single_plans(name, spec):
    check_sweep(EXAMPLES / name, spec)


def test_a_field_the_stacked_build_cannot_read_goes_point_by_point():
    # the training split depends on the GPU count through a Python branch: not stackable
    check_sweep(EXAMPLES / "chat-assistant.yaml", "train.gpus=256,2048", expect_stacked=False)


def test_a_point_whose_own_budget_disagrees_is_planned_again(monkeypatch):
    """The safety net: a stacked solve that is off (here by 1e-6 in every objective) fails
    each point's own-budget check, so every point is planned one at a time, correctly."""
    from planner.optimize import iso_loss

    real = iso_loss.solve_iso_loss

    def off(sc, *a, **k):
        from dataclasses import replace

        sol = real(sc, *a, **k)
        return replace(sol, objective=np.asarray(sol.objective) * (1 + 1e-6))

    monkeypatch.setattr(iso_loss, "solve_iso_loss", off)
    path = EXAMPLES / "code-model.yaml"
    res = sweep(path, [parse_vary("inference.requests_per_month=1e6,1e8")])
    monkeypatch.setattr(iso_loss, "solve_iso_loss", real)
    for p in res.points:
        assert not p.result.diagnostics.get("stacked")
        assert_same_plan(p.result, eager(point_budget(path, p.inputs)))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rate=st.lists(st.floats(1e3, 1e10), min_size=2, max_size=3),
       peak=st.floats(1.0, 6.0), util=st.floats(0.2, 1.0), replicas=st.integers(0, 3))
def test_random_capacity_settings_equal_single_plans(tmp_path_factory, rate, peak, util,
                                                     replicas):
    """Generated serving-capacity settings (rates from idle to busy, peaks, utilisation,
    scale-to-zero): stacked points equal single plans, whatever branch each point takes."""
    import yaml

    data = yaml.safe_load((EXAMPLES / "code-model.yaml").read_text())
    data["serve"].update(peak_to_mean=peak, target_utilization=util, min_replicas=replicas)
    path = tmp_path_factory.mktemp("cap") / "b.yaml"
    path.write_text(yaml.safe_dump(data))
    res = sweep(path, [parse_vary("inference.requests_per_month=" + ",".join(
        f"{r:.6g}" for r in rate))])
    for p in res.points:
        ref = eager(point_budget(path, p.inputs))
        assert p.status == ref.status
        if ref.ok:
            assert_same_plan(p.result, ref)


def test_chunks_bound_the_stacked_build(monkeypatch):
    monkeypatch.setattr(stacked_plans, "CHUNK_POINTS", 3)
    res = check_sweep(EXAMPLES / "code-model.yaml", "inference.requests_per_month=1e5:1e9:7",
                      expect_stacked=None)
    assert len(res.points) == 7  # chunks of 3, 3 and 1 (a lone point goes one at a time)
    assert sum(bool(p.result.diagnostics.get("stacked")) for p in res.points) >= 6


def test_chunks_in_processes_give_the_same_plans_as_in_one():
    path = EXAMPLES / "code-model.yaml"
    axes = [parse_vary("inference.requests_per_month=1e4:1e9:40")]
    one = sweep(path, axes, jobs=1)
    two = sweep(path, axes, jobs=2)  # two chunks of 20 points, one per process
    assert all(p.result.diagnostics.get("stacked") for p in two.points)
    for a, b in zip(one.points, two.points):
        assert a.inputs == b.inputs
        assert flat_json(a.result) == flat_json(b.result)


def test_cli_jobs_option_gives_the_same_points_and_refuses_zero():
    import json

    from typer.testing import CliRunner

    from planner.cli import app

    runner = CliRunner()
    args = ["sweep", str(EXAMPLES / "code-model.yaml"), "--vary",
            "inference.requests_per_month=1e4:1e9:40", "--json"]
    one = runner.invoke(app, args + ["--jobs", "1"])
    two = runner.invoke(app, args + ["--jobs", "2"])
    assert one.exit_code == 0 and two.exit_code == 0
    a, b = json.loads(one.stdout)["points"], json.loads(two.stdout)["points"]
    assert len(a) == 40 and a == b
    bad = runner.invoke(app, args + ["--jobs", "0"])
    assert bad.exit_code == 2 and "--jobs" in bad.stderr and "Traceback" not in bad.stderr
