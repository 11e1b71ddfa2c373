"""Generated bad and odd inputs (budgets, corrupted text, YAML features, odd laws, law files,
profiles, run CSVs, CLI options) through the command line in-process: exit code in
{0, 2, 3, 4, 5}, no traceback, one line, file:line:col for budget errors, sane plans on exit 0,
pre-existing files unchanged.  The same generators as ``benchmarks/fuzz.py`` (docs/robustness.md);
hypothesis draws the seeds, derandomized, so the suite is deterministic."""

import importlib.util
import math
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.budget import load_budget
from planner.errors import InfeasibleError, InputError, SolverError
from planner.optimize import optimize
from planner.optimize.checks import check_plan

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("planner_fuzz", ROOT / "benchmarks" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["planner_fuzz"] = fuzz
_spec.loader.exec_module(fuzz)

FAMILIES = {  # generator, examples in the suite (the fit family is slower)
    "budget mutation": (fuzz.gen_budget_mutation, 15),
    "text corruption": (fuzz.gen_text_corruption, 12),
    "YAML feature": (fuzz.gen_yaml_feature, 12),
    "odd law constants": (fuzz.gen_odd_law, 15),
    "law file": (fuzz.gen_law_file, 8),
    "hardware profile": (fuzz.gen_profile, 8),
    "runs CSV": (fuzz.gen_runs_csv, 3),
    "CLI options": (fuzz.gen_cli_options, 8),
}


def _check(case):
    res = fuzz.run_case(case, timeout=20.0)
    assert res["classes"] == [], (res["argv"], res["code"], res["stderr"][-500:],
                                  res["changed"])
    return res


@pytest.mark.parametrize("family", list(FAMILIES))
def test_generated_inputs_never_crash_hang_or_destroy(family):
    gen, n = FAMILIES[family]

    @settings(max_examples=n, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2**32 - 1))
    def run(seed):
        _check(gen(random.Random(seed)))

    run()


def test_the_harness_sees_failures(tmp_path, monkeypatch):
    """The classifier is not blind: a command that crashes, one that prints two lines, one
    that overwrites its input and one that hangs are each caught."""
    cli_app = sys.modules["planner.cli.app"]

    def boom(argv):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_app, "run_cli", boom)
    res = fuzz.run_case(fuzz.Case("t", ["validate", "{dir}/b.yaml"], {"b.yaml": "x: 1\n"}))
    assert "exit-1" in res["classes"] and "traceback" in res["classes"]

    def two_lines(argv):
        print("error: a\nerror: b", file=sys.stderr)
        return 2

    monkeypatch.setattr(cli_app, "run_cli", two_lines)
    res = fuzz.run_case(fuzz.Case("t", ["validate", "{dir}/b.yaml"], {"b.yaml": "x\n"},
                                  budget="b.yaml"))
    assert {"multi-line error", "no file:line:col"} <= set(res["classes"])

    def clobber(argv):
        Path(argv[1]).write_text("gone")
        return 0

    monkeypatch.setattr(cli_app, "run_cli", clobber)
    res = fuzz.run_case(fuzz.Case("t", ["fit", "{dir}/runs.csv"], {"runs.csv": "a\n"}))
    assert "destroyed file" in res["classes"]

    def spin(argv):
        while True:
            pass

    monkeypatch.setattr(cli_app, "run_cli", spin)
    res = fuzz.run_case(fuzz.Case("t", ["validate"], {}), timeout=0.2)
    assert res["classes"] == ["hang"]


# ---- the budget schema as a hypothesis strategy: the library answers or refuses -------------
ODD_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                       st.floats(min_value=1e-320, max_value=1e-300),
                       st.sampled_from([0.0, 5e-324, 1e-300, 0.05, 0.34, 2.0, 406.4, 1e9]))
QUANTITIES = st.one_of(ODD_FLOATS, st.integers(-10, 10**40),
                       st.sampled_from(["2T", "13B", "1.5e12", "2_000_000", "0", "1e400", "x"]))


@st.composite
def budgets(draw):
    law = draw(st.one_of(
        st.sampled_from(["epoch2024", "hoffmann2022", "kaplan2020", "gadre2024-c4"]),
        st.fixed_dictionaries({"E": ODD_FLOATS, "A": ODD_FLOATS, "B": ODD_FLOATS,
                               "alpha": ODD_FLOATS, "beta": ODD_FLOATS}),
        st.fixed_dictionaries({"form": st.just("kaplan"), "alpha_N": ODD_FLOATS,
                               "alpha_D": ODD_FLOATS, "N_c": QUANTITIES, "D_c": QUANTITIES})))
    target = draw(st.one_of(st.fixed_dictionaries({"loss": ODD_FLOATS}),
                            st.fixed_dictionaries({"match": st.fixed_dictionaries(
                                {"params": QUANTITIES})})))
    data = {"schema_version": 1, "law": law, "target": target,
            "inference": {"tokens": draw(QUANTITIES)}}
    if draw(st.booleans()):
        data["constraints"] = {"max_params": draw(QUANTITIES)}
    return data


@settings(max_examples=80, derandomize=True, deadline=None, database=None)
@given(budgets())
def test_library_refuses_or_returns_a_sane_plan(data):
    try:
        result = optimize(load_budget(data)).raise_for_status()
    except (InputError, InfeasibleError, SolverError) as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    check_plan(result)  # raises SolverError on a non-finite or wrong plan
    plan = result.plan
    assert math.isfinite(plan.total_flops) and plan.params >= 1 and plan.train_tokens >= 1
    assert plan.loss <= result.target_loss * (1 + 1e-6)


def test_check_plan_refuses_wrong_plans():
    """Real plans pass; the same plans with a NaN cost, zero tokens or a missed target fail."""
    from dataclasses import replace

    good = optimize(ROOT / "examples" / "chat-assistant.yaml").raise_for_status()
    check_plan(good)
    nan_cost = replace(good, plan=replace(good.plan, costs={**good.plan.costs,
                                                            "total_usd": float("nan")}))
    with pytest.raises(SolverError, match=r"plan\.costs\.total_usd is nan"):
        check_plan(nan_cost)
    zero = replace(good, plan=replace(good.plan, train_tokens=0.0))
    with pytest.raises(SolverError, match="train_tokens = 0.0"):
        check_plan(zero)
    missed = replace(good, target_loss=good.plan.extra["served_loss"] - 0.01)
    with pytest.raises(SolverError, match="exceeds the target loss"):
        check_plan(missed)
