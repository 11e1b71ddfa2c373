"""CLI: plans print, JSON has its keys, and every bad input is one line with exit 2 or 3."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
GOOD = """schema_version: 1
law: epoch2024
target: {loss: 2.05}
inference: {tokens: 2T}
objective: flops
"""


def run(*args):
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def write(tmp_path, text, name="b.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_optimize_prints_plan_and_baseline(tmp_path):
    code, out, _ = run("optimize", write(tmp_path, GOOD))
    assert code == 0
    assert "Chinchilla-optimal" in out and "parameters" in out and "Saving" in out


def test_json_document_has_the_issue_keys(tmp_path):
    code, out, _ = run("optimize", write(tmp_path, GOOD), "--json")
    assert code == 0
    doc = json.loads(out)
    for key in ("schema_version", "status", "solver"):
        assert key in doc
    for key in ("params", "train_tokens", "tokens_per_param", "loss", "train_flops",
                "inference_flops", "total_flops"):
        assert isinstance(doc["plan"][key], float)
    for key in ("params", "train_tokens", "total_flops"):
        assert isinstance(doc["baseline"][key], float)
    assert doc["savings"]["flops"] == pytest.approx(
        doc["baseline"]["total_flops"] - doc["plan"]["total_flops"])
    assert 0 < doc["savings"]["fraction"] < 1
    assert doc["plan"]["loss"] == pytest.approx(2.05, rel=1e-9)
    assert doc["plan"]["total_flops"] == pytest.approx(
        6 * doc["plan"]["params"] * doc["plan"]["train_tokens"]
        + 2 * doc["plan"]["params"] * 2e12, rel=1e-12)


def test_solver_flag_and_cross_check(tmp_path):
    path = write(tmp_path, GOOD)
    _, out_gp, _ = run("optimize", path, "--json", "--solver", "gp")
    _, out_1d, _ = run("optimize", path, "--json", "--check")
    gp, one_d = json.loads(out_gp), json.loads(out_1d)
    assert gp["solver"] == "gp" and one_d["solver"] == "iso_loss"
    assert gp["plan"]["total_flops"] == pytest.approx(one_d["plan"]["total_flops"], rel=1e-6)
    assert one_d["diagnostics"]["cross_check"]["objective_rel_diff"] < 1e-6


def test_match_targets(tmp_path):
    text = GOOD.replace("target: {loss: 2.05}", "target: {match: {params: 13B, tokens: 260B}}")
    _, out, _ = run("optimize", write(tmp_path, text), "--json")
    from planner.laws import get_preset

    law = get_preset("epoch2024")
    assert json.loads(out)["target_loss"] == pytest.approx(float(law.loss(13e9, 260e9)))
    text = GOOD.replace("target: {loss: 2.05}", "target: {match: {params: 13B}}")
    _, out, _ = run("optimize", write(tmp_path, text), "--json")
    doc = json.loads(out)
    # the baseline of "as good as a compute-optimal 13B" is that 13B model itself
    assert doc["baseline"]["params"] == pytest.approx(13e9, rel=1e-9)


BAD = {
    "missing target": ("schema_version: 1\nlaw: epoch2024\n", 2, "target"),
    "missing schema_version": ("law: epoch2024\ntarget: {loss: 2}\n", 2, "schema_version"),
    "wrong schema_version": ("schema_version: 7\ntarget: {loss: 2}\n", 2, "schema_version"),
    "wrong type": ("schema_version: 1\ntarget: {loss: fast}\n", 2, "target.loss"),
    "negative quantity": ("schema_version: 1\ntarget: {loss: 2}\ninference: {tokens: -1T}\n",
                          2, "inference.tokens"),
    "zero params": ("schema_version: 1\ntarget: {match: {params: 0}}\n", 2, "params"),
    "nan": ("schema_version: 1\ntarget: {loss: .nan}\n", 2, "finite"),
    "inf": ("schema_version: 1\ntarget: {loss: .inf}\n", 2, "target.loss"),
    "target below E": ("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 1.7}\n", 3,
                       "irreducible"),
    "target equal E": ("schema_version: 1\nlaw: {E: 2, A: 400, B: 400, alpha: 0.3, beta: 0.3}\n"
                       "target: {loss: 2}\n", 3, "irreducible"),
    "unknown preset": ("schema_version: 1\nlaw: epoch2042\ntarget: {loss: 2}\n", 2,
                       "did you mean 'epoch2024'"),
    "unknown key": ("schema_version: 1\ntarget: {loss: 2}\ninferance: {tokens: 1T}\n", 2,
                    "did you mean 'inference'"),
    "malformed yaml": ("schema_version: 1\ntarget: {loss: 2\n", 2, "malformed YAML"),
    "duplicate key": ("schema_version: 1\ntarget: {loss: 2}\ntarget: {loss: 3}\n", 2,
                      "duplicate key"),
    "bad suffix": ("schema_version: 1\ntarget: {loss: 2}\ninference: {tokens: 2X}\n", 2,
                   "13B"),
    "both target forms": ("schema_version: 1\ntarget: {loss: 2, match: {params: 1B}}\n", 2,
                          "exactly one"),
    "half a request shape": ("schema_version: 1\ntarget: {loss: 2}\ninference: {requests: 1B}\n",
                             2, "tokens_per_request"),
    "not a mapping": ("- 1\n- 2\n", 2, "mapping"),
    "empty": ("", 2, "empty"),
    "bool as number": ("schema_version: 1\ntarget: {loss: true}\n", 2, "target.loss"),
    "unreachable bound": ("schema_version: 1\ntarget: {loss: 2.0}\nconstraints: "
                          "{max_params: 1B, max_train_tokens: 100B}\n", 3, "max_"),
    "unknown objective": ("schema_version: 1\ntarget: {loss: 2}\nobjective: joy\n", 2,
                          "objective"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_with_exit_code(tmp_path, case):
    text, code, needle = BAD[case]
    path = write(tmp_path, text)
    got, out, err = run("optimize", path)
    assert got == code, (case, err)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and needle in err
    assert out == ""
    if code == 2 and case not in ("not a mapping", "empty"):
        assert f"{path}:" in err  # names the file (and line:col)


def test_missing_file_and_validate(tmp_path):
    code, _, err = run("optimize", str(tmp_path / "nope.yaml"))
    assert code == 2 and "no such file" in err
    code, out, _ = run("validate", write(tmp_path, GOOD))
    assert code == 0 and "valid" in out


def test_error_names_line_and_column(tmp_path):
    text = "schema_version: 1\nlaw: epoch2024\ntarget:\n  loss: 2.05\ninference:\n  tokens: lots\n"
    _, _, err = run("optimize", write(tmp_path, text))
    assert ":6:11: inference.tokens:" in err


def test_schema_and_laws():
    code, out, _ = run("schema")
    schema = json.loads(out)
    assert code == 0 and "target" in schema["properties"]
    code, out, _ = run("laws", "--json")
    doc = json.loads(out)
    assert doc["schema_version"] == 1
    laws = doc["laws"]
    assert laws["epoch2024"]["constants"]["B"] == 2085.43
    assert laws["hoffmann2022"]["constants"] == {"E": 1.69, "A": 406.4, "B": 410.7,
                                                 "alpha": 0.34, "beta": 0.28}


def test_cli_import_keeps_heavy_modules_out():
    code = ("import sys, planner.cli; heavy = [m for m in ('cvxpy', 'scipy', 'matplotlib', "
            "'torch') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "[]"


def test_optimize_run_keeps_heavy_modules_out():
    """A whole ``planner optimize`` run (the real entry point, in a fresh interpreter) plans
    without cvxpy, scipy, matplotlib or torch: the default solver needs none of them."""
    code = ("import atexit, runpy, sys\n"
            "atexit.register(lambda: print('HEAVY', [m for m in ('cvxpy', 'scipy', "
            "'matplotlib', 'torch') if m in sys.modules], file=sys.stderr))\n"
            "sys.argv = ['planner', 'optimize', 'examples/chat-assistant.yaml', '--json']\n"
            "runpy.run_module('planner', run_name='__main__')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "optimal" and 1e8 < doc["plan"]["params"] < 1e12
    assert res.stderr.strip().splitlines()[-1] == "HEAVY []"


def test_real_entry_point_never_prints_a_traceback(tmp_path):
    path = write(tmp_path, "schema_version: 1\ntarget: {loss: 1.0}\n")
    res = subprocess.run([sys.executable, "-m", "planner", "optimize", path],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 3
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1


def test_cost_formulas_do_not_load_the_schema_or_heavy_libraries():
    """The cost code reads plain set-up dataclasses: importing it loads neither the budget
    schema (pydantic) nor cvxpy, scipy, matplotlib or torch."""
    code = ("import sys, planner.costs.model, planner.costs.evaluate, planner.costs.setup; "
            "bad = [m for m in ('pydantic', 'planner.budget', 'cvxpy', 'scipy', 'matplotlib', "
            "'torch') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("line, needle", [
    ("inference: {tokens: 2t}", "did you mean '2T'?"),
    ("inference: {requests_per_month: 1B, months: 12, tokens_per_request: {input: 9, "
     "output: 9}}\nserve: {max_time_per_output_token_ms: 30ms}", "give the number alone (30)"),
    ("inference: {request_per_month: 1B, months: 12, tokens_per_request: {input: 9, "
     "output: 9}}", "did you mean 'requests_per_month'?"),
])
def test_unit_habits_get_a_hint(tmp_path, line, needle):
    path = tmp_path / "b.yaml"
    path.write_text("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\n" + line + "\n")
    code, out, err = run("optimize", str(path))
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {path}:")


def test_a_scenario_file_given_to_optimize_points_to_compare():
    code, out, err = run("optimize", "examples/review/scenarios.yaml")
    assert code == 2 and "planner compare" in err
