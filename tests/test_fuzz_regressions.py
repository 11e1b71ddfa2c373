"""One regression test per reproducer class of the robustness issue (issue 10): each input that
crashed, hung, printed nonsense or destroyed a file now gets a one-line error with the right exit
code, and files survive."""

import contextlib
import errno
import io
import os
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.budget import load_budget
from planner.cli.app import run_cli
from planner.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
GOOD = "schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\ninference: {tokens: 2T}\n"
USD = (GOOD + "serve: {hardware: h100-sxm, batch_size: 16}\nobjective: usd\n")
RUNS = "params,tokens,loss\n" + "".join(
    f"{n:g},{n * r:g},{1.8 + 400 * n ** -0.34 + 400 * (n * r) ** -0.28:.5f}\n"
    for n in (1e8, 3e8, 1e9, 3e9) for r in (5, 20, 80))


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def one_line_error(code: int, err: str, expected: int) -> str:
    assert code == expected, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def at_line_col(err: str, path: Path) -> None:
    assert re.match(rf"error: {re.escape(str(path))}:\d+:\d+: ", err), err


def budget_file(tmp_path, text, name="b.yaml"):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


# ---- exit 1 "unexpected" on bad input -----------------------------------------------------
@pytest.mark.parametrize("raw, where", [
    (GOOD.encode().replace(b"2.1", b"2.1\x00"), "control character U+0000"),
    (GOOD.encode().replace(b"2T", b"2T\x1b[31m"), "control character U+001B"),
    (GOOD.encode() + b"name: \x07\n", "control character U+0007"),
])
def test_control_bytes_in_a_budget(tmp_path, raw, where):
    p = budget_file(tmp_path, raw)
    line = one_line_error(*cli("validate", p)[::2], 2)
    at_line_col(line, p)
    assert where in line


@pytest.mark.parametrize("text, message", [
    ("schema_version: 1\ntarget: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 32"),
    ("schema_version: 1\ntarget: " + "{a: " * 200 + "1" + "}" * 200 + "\n",
     "nested deeper than 32"),
    ("schema_version: 1\na: &a [*a]\ntarget: {loss: 2}\n", "refers to itself"),
], ids=["brackets", "mappings", "alias-cycle"])
def test_deep_nesting_and_alias_cycles(tmp_path, text, message):
    p = budget_file(tmp_path, text)
    code, _, err = cli("optimize", p)
    line = one_line_error(code, err, 2)
    at_line_col(line, p)
    assert message in line


def test_a_1200_deep_extends_chain(tmp_path):
    for i in range(1200):
        parent = f"p{i + 1}.yaml" if i < 1199 else "h100-sxm"
        (tmp_path / f"p{i}.yaml").write_text(f"name: p{i}\nextends: {parent}\n")
    p = budget_file(tmp_path, USD.replace("hardware: h100-sxm", "hardware: p0.yaml"))
    code, _, err = cli("optimize", p)
    line = one_line_error(code, err, 2)
    at_line_col(line, p)
    assert "extends: chain longer than 16 profiles" in line


def test_an_extends_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    p = budget_file(tmp_path, USD.replace("hardware: h100-sxm", "hardware: a.yaml"), "c.yaml")
    line = one_line_error(*cli("validate", p)[::2], 2)
    assert "extends: cycle" in line


@pytest.mark.parametrize("law, field", [
    ("{E: 1.7, A: 400, B: 400, alpha: 0.3, beta: 1e-300}", "law.beta"),
    ("{E: 1.7, A: 400, B: 5e-324, alpha: 0.3, beta: 0.3}", "law.B"),
    ("{E: 1.7, A: 400, B: 400, alpha: 1e-9, beta: 0.3}", "law.alpha"),
    ("{E: 1.7, A: 1e300, B: 400, alpha: 0.3, beta: 0.3}", "law.A"),
    ("{form: kaplan, alpha_N: 0.076, alpha_D: 1e-300}", "law.alpha_D"),
    ("{form: kaplan, alpha_N: 1.9, alpha_D: 0.011}", "alpha_N/alpha_D"),
])
def test_odd_inline_law_constants_are_refused_with_the_bound(tmp_path, law, field):
    p = budget_file(tmp_path, GOOD.replace("epoch2024", law))
    code, _, err = cli("optimize", p, "--json")
    line = one_line_error(code, err, 2)
    at_line_col(line, p)
    assert field in line
    assert re.search(r"(greater|less) than or equal to|outside|out of range", line)


def test_a_400_digit_integer(tmp_path):
    p = budget_file(tmp_path, GOOD.replace("2T", "9" * 400))
    line = one_line_error(*cli("optimize", p)[::2], 2)
    at_line_col(line, p)
    assert "inference.tokens: number out of range (400 digits" in line


@pytest.mark.parametrize("law_text, message", [
    ("form: chinchilla\nconstants: [1, 2]\n", "constants: expected a mapping"),
    ("form: [x]\nconstants: {}\n", "form: expected a law form name"),
    ("form: chinchilla\nconstants: {E: 1.8, A: 400, B: 400, alpha: 0.34, beta: 1e-300}\n",
     "constants.beta: 1e-300 is outside [0.05, 2]"),
    ("form: chinchilla\nconstants: {E: 1.8, A: 400, B: 400, alpha: 0.34, beta: 0.28}\n"
     "bootstrap_samples: [[1, 2], 3]\n", "bootstrap_samples"),
    ("form: chinchilla\nconstants: {E: 1.8, A: 400, B: 400, alpha: 0.34, beta: 0.28}\n"
     "fitted_params: [1e400, 1]\n", "fitted_params: expected [low, high]"),
    ("form: chinchilla\nconstants: {E: 1.8, A: " + "9" * 400 + ", B: 400, alpha: 0.34, "
     "beta: 0.28}\n", "constants.A: number out of range (400 digits"),
    ("[1, 2]\n", "not a law file"),
    (b"form: chinchilla\xff\n", "not UTF-8 text: byte 0xff at byte offset 16"),
])
def test_a_junk_law_file(tmp_path, law_text, message):
    budget_file(tmp_path, law_text, "law.yaml")
    p = budget_file(tmp_path, GOOD.replace("epoch2024", "{file: law.yaml}"))
    line = one_line_error(*cli("validate", p)[::2], 2)
    at_line_col(line, p)
    assert message in line


def test_uncertainty_seed_below_zero(tmp_path):
    p = budget_file(tmp_path, GOOD + "uncertainty: {seed: -1}\n")
    line = one_line_error(*cli("optimize", p)[::2], 2)
    at_line_col(line, p)
    assert "uncertainty.seed" in line


def test_uncertainty_without_uncertainty_information_names_the_line(tmp_path):
    """Found by the 10,000-input fuzz run: the error lacked file:line:col."""
    p = budget_file(tmp_path, GOOD.replace("epoch2024", "hoffmann2022")
                    + "uncertainty: {samples: 10}\n")
    line = one_line_error(*cli("optimize", p, "--json")[::2], 2)
    at_line_col(line, p)
    assert "uncertainty: law hoffmann2022 has no uncertainty information" in line


def test_unknown_figure_formats(tmp_path):
    p = budget_file(tmp_path, GOOD)
    line = one_line_error(*cli("report", p, "-o", tmp_path / "r", "--formats", "gif")[::2], 2)
    assert "--formats" in line and "'gif' is not one of" in line
    (tmp_path / "runs.csv").write_text(RUNS)
    line = one_line_error(*cli("fit", tmp_path / "runs.csv", "--plot",
                               tmp_path / "fit.gif")[::2], 2)
    assert "a figure file ends in .png or .svg" in line
    assert sorted(f.name for f in tmp_path.iterdir()) == ["b.yaml", "runs.csv"]


@pytest.mark.parametrize("make_target, message", [
    (lambda d: d, "is a directory"),
    (lambda d: d / "b.yaml" / "x.csv", "cannot write"),
    (lambda d: d / "missing" / "x.csv", "cannot write"),
])
def test_output_paths_that_cannot_be_written(tmp_path, make_target, message):
    p = budget_file(tmp_path, GOOD)
    target = make_target(tmp_path)
    line = one_line_error(*cli("sweep", p, "--vary", "target.loss=2.1,2.2", "--csv",
                               target)[::2], 2)
    assert str(target) in line and message in line
    assert p.read_text() == GOOD


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    p = budget_file(tmp_path, GOOD)
    old = tmp_path / "out.csv"
    old.write_text("old rows\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    line = one_line_error(*cli("sweep", p, "--vary", "target.loss=2.1,2.2", "--csv", old,
                               "--force")[::2], 2)
    assert "No space left on device" in line and str(old) in line
    assert old.read_text() == "old rows\n"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["b.yaml", "out.csv"]


# ---- hangs ----------------------------------------------------------------------------------
BOMB = ("schema_version: 1\ntarget: {loss: 2.1}\na0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
                  for i in range(1, 10)))


@pytest.mark.parametrize("command", ["validate", "optimize"])
def test_billion_laughs_is_refused_fast(tmp_path, command):
    p = budget_file(tmp_path, BOMB)
    t0 = time.perf_counter()
    line = one_line_error(*cli(command, p)[::2], 2)
    assert time.perf_counter() - t0 < 10  # generous: refused after 10,000 values, not 9^10
    at_line_col(line, p)
    assert "YAML aliases expand to more than 10,000 values" in line


@pytest.mark.parametrize("vary, message", [
    (["inference.tokens=1e10:1e15:1000001"], "1,000,001 points; at most 10,000 on one axis"),
    (["inference.tokens=1e10:1e15:1000", "target.loss=lin:2.1:2.5:1000"],
     "the grid has 1,000,000 points (1000 × 1000); at most 100,000"),
])
def test_huge_sweep_grids(tmp_path, vary, message):
    p = budget_file(tmp_path, GOOD)
    args = [a for v in vary for a in ("--vary", v)]
    line = one_line_error(*cli("sweep", p, *args)[::2], 2)
    assert message in line


@pytest.mark.parametrize("args, message", [
    (["--starts", "10000000"], "--starts 10,000,000: at most 10,000 starts"),
    (["--bootstrap", "100000000"], "--bootstrap 100,000,000: at most 100,000 resamples"),
    (["--seed", "-1"], "--seed"),
    (["--law", "gpt"], "'gpt' is not one of 'chinchilla', 'kaplan', 'data-constrained'"),
])
def test_fit_counts_and_choices_are_bounded(tmp_path, args, message):
    (tmp_path / "runs.csv").write_text(RUNS)
    line = one_line_error(*cli("fit", tmp_path / "runs.csv", *args)[::2], 2)
    assert message in line


# ---- nonsense plans and NaN in tables -------------------------------------------------------
@pytest.mark.parametrize("field", ["price_usd_per_hour: .nan", "price_usd_per_hour: 0",
                                   "tdp_watts: 5e-324", "hbm_bandwidth_gb_per_s: 1e300",
                                   "peak_tflops: {bf16: 0}"])
def test_odd_inline_profile_fields(tmp_path, field):
    text = USD.replace("hardware: h100-sxm", "hardware: {extends: h100-sxm, " + field + "}")
    p = budget_file(tmp_path, text)
    code, out, err = cli("optimize", p)
    line = one_line_error(code, err, 2)
    at_line_col(line, p)
    assert "serve.hardware" in line and "nan" not in out.lower()


def test_a_tiny_model_target_is_refused_not_planned(tmp_path):
    p = budget_file(tmp_path, GOOD.replace("{loss: 2.1}", "{match: {params: 1e-320}}"))
    line = one_line_error(*cli("optimize", p, "--json")[::2], 2)
    assert "target.match.params" in line and "greater than or equal to 1" in line


def test_a_plan_of_a_trillionth_of_a_token_is_exit_4(tmp_path):
    """Found by the in-suite fuzz: an inline law with A = 1e9 makes a match target of 806,293
    nats/token, met by 13B parameters and 1.5e-11 training tokens; the plan check refuses it."""
    p = budget_file(tmp_path, "schema_version: 1\nlaw: {E: 1.0e-300, A: 1.0e9, B: 410.7, "
                    "alpha: 0.34, beta: 0.28}\ntarget: {match: {params: 13B}}\n"
                    "inference: {tokens: 0}\n")
    code, out, err = cli("optimize", p, "--json")
    line = one_line_error(code, err, 4)
    assert "train_tokens = 1.48" in line and "no plan is printed" in line
    assert '"status": "failed_check"' in out


def test_junk_runs_are_refused_before_fitting(tmp_path):
    (tmp_path / "runs.csv").write_text(RUNS.replace("1e+08,5e+08", "1e+08,1e300", 1))
    line = one_line_error(*cli("fit", tmp_path / "runs.csv")[::2], 2)
    assert "tokens = 1e+300 is outside [1, 1e+30]" in line


# ---- errors without file:line:col, multi-line errors ----------------------------------------
@pytest.mark.parametrize("text", [
    GOOD + "model: 7B\n", GOOD + "model: [7B]\n", GOOD + "serve: [1, 2]\n",
    GOOD + "serve: {speculative: 0.8}\n", GOOD + "train: 7\n", "42\n", "- a\n- b\n", "",
    "# only a comment\n", GOOD.replace("{loss: 2.1}", "[2.1]"),
])
def test_wrong_shapes_and_scalar_documents_name_line_and_column(tmp_path, text):
    p = budget_file(tmp_path, text)
    line = one_line_error(*cli("validate", p)[::2], 2)
    at_line_col(line, p)


def test_non_utf8_names_the_byte_offset(tmp_path):
    p = budget_file(tmp_path, GOOD.encode().replace(b"epoch2024", b"epoch\xe92024"))
    line = one_line_error(*cli("validate", p)[::2], 2)
    assert line == f"error: {p}:2:11: not UTF-8 text: byte 0xe9 at byte offset 28"


@pytest.mark.parametrize("text", [
    GOOD.replace("epoch2024", "{E: 1.7, A: x, B: 400, alpha: 0.3, beta: 0.3}"),
    GOOD.replace("{loss: 2.1}", "{loss: 2.1, match: {params: 1B}}"),
    GOOD.replace("{loss: 2.1}", "{}"),
    GOOD.replace("{loss: 2.1}", "{match: {params: 1B, tokens: [1]}}"),
    "schema_version: 1\ntarget: {loss: 2}\ninference: {tokens: 1T}\n\ttab: 1\n",
])
def test_law_and_target_errors_are_one_line(tmp_path, text):
    p = budget_file(tmp_path, text)
    one_line_error(*cli("optimize", p)[::2], 2)


def test_option_errors_are_one_line():
    line = one_line_error(*cli("optimize", ROOT / "examples" / "chinchilla-flops.yaml",
                               "--solver", "simplex")[::2], 2)
    assert "'simplex' is not one of 'iso_loss', 'gp'" in line
    line = one_line_error(*cli("laws", "--bogus")[::2], 2)
    assert "No such option: --bogus" in line


# ---- outputs never destroy data -------------------------------------------------------------
def test_fit_output_equal_to_the_runs_is_refused(tmp_path):
    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    line = one_line_error(*cli("fit", runs, "-o", runs)[::2], 2)
    assert "is also an input" in line and runs.read_text() == RUNS
    line = one_line_error(*cli("fit", runs, "-o", tmp_path / "." / "runs.csv", "--force")[::2], 2)
    assert runs.read_text() == RUNS


def test_sweep_csv_equal_to_the_budget_is_refused(tmp_path):
    p = budget_file(tmp_path, GOOD)
    line = one_line_error(*cli("sweep", p, "--vary", "target.loss=2.1,2.2", "--csv", p,
                               "--force")[::2], 2)
    assert "is also an input" in line and p.read_text() == GOOD


def test_existing_outputs_are_replaced_only_with_force(tmp_path):
    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    law = tmp_path / "law.yaml"
    law.write_text("precious\n")
    line = one_line_error(*cli("fit", runs, "--starts", "2", "-o", law)[::2], 2)
    assert "exists; pass --force" in line and law.read_text() == "precious\n"
    code, _, err = cli("fit", runs, "--starts", "2", "-o", law, "--force")
    assert code == 0, err
    assert load_budget(GOOD.replace("epoch2024", f"{{file: {law}}}")) is not None
    assert "constants:" in law.read_text()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["law.yaml", "runs.csv"]


def test_a_failing_plot_leaves_no_law_file(tmp_path):
    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    code, _, err = cli("fit", runs, "--starts", "1", "-o", tmp_path / "law.yaml", "--plot",
                       tmp_path / "missing" / "fit.png")
    line = one_line_error(code, err, 2)
    assert "fit.png" in line and "cannot write" in line
    assert sorted(f.name for f in tmp_path.iterdir()) == ["runs.csv"]


def test_report_into_a_non_empty_folder_needs_force(tmp_path):
    p = budget_file(tmp_path, GOOD)
    old = tmp_path / "review"
    old.mkdir()
    (old / "notes.txt").write_text("keep")
    line = one_line_error(*cli("report", p, "-o", old, "--formats", "none", "--no-html")[::2],
                          2)
    assert "exists and is not empty; pass --force" in line
    assert sorted(f.name for f in old.iterdir()) == ["notes.txt"]
    line = one_line_error(*cli("report", p, "-o", p, "--formats", "none")[::2], 2)
    assert "is a file, not a folder" in line and p.read_text() == GOOD


def test_validate_sets_up_no_solver(tmp_path, monkeypatch):
    """Cross-field rules live in the budget's validators: validate answers without building
    a single candidate scenario."""
    import planner.optimize.build as build

    def no(*a, **k):
        raise AssertionError("validate built scenarios")

    monkeypatch.setattr(build, "build_candidates", no)
    p = budget_file(tmp_path, USD)
    code, out, err = cli("validate", p)
    assert code == 0 and "valid" in out, err
    bad = budget_file(tmp_path, USD.replace("batch_size: 16", "batch_size: 16, "
                                            "max_time_per_output_token_ms: 30"), "c.yaml")
    line = one_line_error(*cli("validate", bad)[::2], 2)
    assert "serve.max_time_per_output_token_ms: needs inference demand as requests" in line


@pytest.mark.parametrize("text, message", [
    ("train: {gpus: 100, max_gpus: 10}", "train.gpus: 100 exceeds train.max_gpus 10"),
    ("train: {deadline_days: 30}", "train.deadline_days: needs train.gpus or train.max_gpus"),
])
def test_cross_field_rules_are_budget_validators(text, message):
    with pytest.raises(InputError, match=re.escape(message)):
        load_budget(GOOD + text + "\n")


def test_help_lists_the_choices():
    for args, words in ((["optimize", "--help"], ["iso_loss|gp"]),
                        (["fit", "--help"], ["chinchilla|kaplan|data-constrained"]),
                        (["bench", "--help"], ["auto|cuda|cpu"]),
                        (["report", "--help"], ["png,svg", "none"])):
        code, out, _ = cli(*args)
        assert code == 0 and all(w in out for w in words), out


def test_fit_downstream_bounds_and_force(tmp_path):
    evals = tmp_path / "evals.csv"
    evals.write_text("loss,error\n3.0,0.6\n2.9,0.58\n2.8,0.57\n2.7,0.55\n")
    line = one_line_error(*cli("fit-downstream", evals, "--starts", "10000000")[::2], 2)
    assert "--starts 10,000,000: at most 10,000 starts" in line
    line = one_line_error(*cli("fit-downstream", evals, "--bootstrap", "100000000")[::2], 2)
    assert "--bootstrap 100,000,000: at most 100,000 resamples" in line
    old = tmp_path / "mapping.yaml"
    old.write_text("precious\n")
    line = one_line_error(*cli("fit-downstream", evals, "-o", old)[::2], 2)
    assert "exists; pass --force" in line and old.read_text() == "precious\n"


def test_validate_reads_hardware_lists(tmp_path):
    """Found by the fuzz run after hardware lists arrived: validate resolved a list of
    profiles as one inline profile (exit 1)."""
    code, out, err = cli("validate", ROOT / "examples" / "which-gpu.yaml")
    assert code == 0 and "valid" in out, err
    p = budget_file(tmp_path, USD.replace("hardware: h100-sxm", "hardware: [h100-sxm, h100-sxmm]"))
    line = one_line_error(*cli("validate", p)[::2], 2)
    at_line_col(line, p)
    assert "did you mean 'h100-sxm'" in line


def test_every_path_to_a_printed_plan_is_checked(monkeypatch):
    """The final plan check sits in the library (plan_result), so sweeps and comparisons get
    it too: a plan whose served loss misses the target comes back failed_check, not printed."""
    from planner.analysis.sweep import parse_vary, sweep
    from planner.optimize import plans

    real = plans.evaluate

    def off_target(problem, params, tokens, candidate=None):
        point = real(problem, params, tokens, candidate)
        return plans.replace(point, loss=point.loss + 0.5)  # a plan that misses its target

    monkeypatch.setattr(plans, "evaluate", off_target)
    text = ("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\ninference: {tokens: 1T}\n")
    res = sweep(__import__("yaml").safe_load(text), [parse_vary("inference.tokens=1e11,1e12")])
    assert [p.status for p in res.points] == ["failed_check", "failed_check"]
    assert "exceeds the target loss" in res.points[0].error


@pytest.mark.parametrize("raw, needle", [(b"params,tokens,loss\n1e9,2e10,2.5\x1b\n",
                                          ":2:13: control character U+001B"),
                                         (b"params,tokens,loss\n1e9,2e10,2.5\xff\n",
                                          "byte 0xff at byte offset 31")])
def test_runs_csv_text_is_checked_like_every_input(tmp_path, raw, needle):
    from planner.cli import app

    path = tmp_path / "runs.csv"
    path.write_bytes(raw)
    r = CliRunner().invoke(app, ["fit", str(path)])
    assert r.exit_code == 2 and needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and path.read_bytes() == raw


def test_a_comparison_of_too_many_scenarios_is_refused(tmp_path):
    from planner.budget.scenarios import expand_file
    from planner.errors import InputError

    body = "\n".join(f"  s{i}: {{inference.tokens: {i + 1}T}}" for i in range(1001))
    path = tmp_path / "many.yaml"
    path.write_text("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\n"
                    "inference: {tokens: 1T}\nscenarios:\n" + body + "\n")
    with pytest.raises(InputError, match="1,001 scenarios; at most 1,000"):
        expand_file(path)
