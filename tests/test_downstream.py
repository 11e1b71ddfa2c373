"""Downstream-error targets: the mapping Err(L) = ε − k·exp(−γ·L) (Gadre et al. 2024,
arXiv 2403.08540), its fit (synthetic recovery, held-out check on the published runs), presets,
budgets that target an error (round trip, out of reach, malformed files) and uncertainty."""

import csv
import json
import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from planner.budget import load_budget
from planner.cli import app
from planner.errors import InfeasibleError, InputError
from planner.fit.downstream import Pairs, fit_mapping, read_pairs
from planner.laws.downstream import (
    PRESET_DIR,
    PRESET_NAMES,
    DownstreamMapping,
    get_mapping_preset,
    load_mapping_file,
    loss_for_error,
    target_loss_samples,
)
from planner.optimize import optimize, prepare

GADRE = "tests/data/gadre2024_downstream.csv"
DATASETS = {"c4": "c4_original", "rpj": "rpj", "rw": "rw_original"}
GADRE_E = {"c4": 1.5083, "rpj": 1.8366, "rw": 1.7345}  # E of the gadre2024-* loss laws
runner = CliRunner()


def gadre_rows(dataset):
    with open(GADRE, newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["train_dataset"] == DATASETS[dataset]]


def preset_constants(name):
    """(ε, k, γ) read straight from the shipped YAML, not through the planner's loader."""
    c = yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text())["constants"]
    return c["epsilon"], c["k"], c["gamma"]


def budget_text(error, mapping="gadre2024-c4-17tasks", law="gadre2024-c4", extra=""):
    return (f"schema_version: 1\nlaw: {law}\n"
            f"target:\n  downstream: {{error: {error}, mapping: {mapping}}}\n"
            f"inference: {{tokens: 1T}}\n{extra}")


# ---- the mapping ----------------------------------------------------------------------------
def test_inverse_is_the_closed_form():
    m = DownstreamMapping(epsilon=0.8, k=2.0, gamma=1.0)
    # L = −ln((0.8 − 0.5)/2)/1 = ln(20/3)
    assert float(m.loss(0.5)) == pytest.approx(math.log(20 / 3), rel=1e-15)
    assert float(m.error(math.log(20 / 3))) == pytest.approx(0.5, rel=1e-15)
    assert m.floor(1.0) == pytest.approx(0.8 - 2.0 * math.exp(-1.0), rel=1e-15)
    assert np.isnan(m.loss(0.85))  # above the ceiling ε: no loss has this error


def test_out_of_reach_errors_name_both_numbers():
    m = DownstreamMapping(epsilon=0.8, k=2.0, gamma=1.0, name="toy")
    floor = 0.8 - 2.0 * math.exp(-1.7)
    with pytest.raises(InfeasibleError, match=rf"target error 0\.4 is at or below the floor "
                                              rf"{floor:.4g} of mapping toy"):
        loss_for_error(m, 0.4, 1.7)
    with pytest.raises(InfeasibleError, match=r"target error 0\.8 is at or above the ceiling "
                                              r"ε = 0\.8 of mapping toy"):
        loss_for_error(m, 0.8, 1.7)


# ---- fitting --------------------------------------------------------------------------------
def test_fit_recovers_noise_free_constants_exactly():
    loss = np.linspace(2.3, 5.5, 20)
    fit = fit_mapping(Pairs(loss, 0.80 - 2.6 * np.exp(-0.85 * loss), ()))
    assert fit.constants["epsilon"] == pytest.approx(0.80, rel=1e-6)
    assert fit.constants["k"] == pytest.approx(2.6, rel=1e-6)
    assert fit.constants["gamma"] == pytest.approx(0.85, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_constants_from_noisy_pairs_with_outliers(seed):
    """200 pairs, noise σ = 0.003 and four gross outliers (+0.15): the robust fit recovers the
    constants and the curve to within the noise."""
    rng = np.random.default_rng(seed)
    loss = rng.uniform(2.3, 5.5, 200)
    truth = 0.80 - 2.6 * np.exp(-0.85 * loss)
    error = truth + rng.normal(0.0, 0.003, 200)
    error[:4] += 0.15
    fit = fit_mapping(Pairs(loss, error, ()), bootstrap=20, seed=seed)
    c = fit.constants
    assert c["epsilon"] == pytest.approx(0.80, abs=0.005)
    assert c["k"] == pytest.approx(2.6, rel=0.05)
    assert c["gamma"] == pytest.approx(0.85, abs=0.02)
    grid = np.linspace(2.3, 5.5, 50)
    assert np.max(np.abs(fit.mapping.error(grid) - (0.80 - 2.6 * np.exp(-0.85 * grid)))) < 0.003
    assert fit.mapping.samples.shape == (20, 3)
    assert fit.mapping.fitted_loss == (loss.min(), loss.max())


@pytest.mark.parametrize("dataset,tasks,mean_tol,max_tol", [
    ("c4", 17, 0.020, 0.035), ("c4", 46, 0.010, 0.015),
    ("rpj", 17, 0.010, 0.012), ("rpj", 46, 0.015, 0.025),
    ("rw", 17, 0.020, 0.030), ("rw", 46, 0.020, 0.030),
])
def test_held_out_largest_published_models(dataset, tasks, mean_tol, max_tol):
    """Fit on the 10.6M-411.6M runs, predict the error of the 1.44B and 6.89B runs from their
    measured C4 loss.  Measured (docs/downstream.md): mean |error| 0.019/0.008 (C4 17/46
    tasks), 0.007/0.013 (RPJ), 0.019/0.016 (RW); max 0.034/0.012, 0.010/0.021, 0.027/0.025."""
    rows = gadre_rows(dataset)
    n = np.array([float(r["N_params"]) for r in rows])
    loss = np.array([float(r["loss_c4_val"]) for r in rows])
    error = np.array([float(r[f"err_avg_{tasks}"]) for r in rows])
    small = n < 1e9
    assert small.sum() >= 31 and (~small).sum() == 3
    fit = fit_mapping(Pairs(loss[small], error[small], ()))
    miss = fit.mapping.error(loss[~small]) - error[~small]
    assert np.mean(np.abs(miss)) < mean_tol
    assert np.max(np.abs(miss)) < max_tol


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_presets_are_the_fit_of_the_published_runs(name):
    """Each preset is this fit on all runs of its training set; its recorded ranges are the
    data's own minimum and maximum."""
    dataset, tasks = name.split("-")[1], int(name.split("-")[2][:2])
    rows = gadre_rows(dataset)
    loss = np.array([float(r["loss_c4_val"]) for r in rows])
    error = np.array([float(r[f"err_avg_{tasks}"]) for r in rows])
    m = get_mapping_preset(name)
    assert m.law == f"gadre2024-{dataset}" and m.n_pairs == len(rows) in (34, 35)
    assert m.fitted_loss == (loss.min(), loss.max())
    assert m.fitted_error == (error.min(), error.max())
    refit = fit_mapping(Pairs(loss, error, ())).constants
    for key, value in zip(("epsilon", "k", "gamma"), preset_constants(name)):
        assert refit[key] == pytest.approx(value, rel=1e-6), key
    assert m.samples.shape == (200, 3)
    # the fit is good to about a point of error on its own runs
    assert np.sqrt(np.mean((m.error(loss) - error) ** 2)) < 0.012


def test_read_pairs_filters_and_maps_columns():
    p = read_pairs(GADRE, "loss=loss_c4_val,error=err_avg_17,name=name",
                   "train_dataset=rpj")
    assert len(p) == 35 and p.names[0].startswith("rpj")


def test_read_pairs_names_line_and_column(tmp_path):
    f = tmp_path / "evals.csv"
    f.write_text("loss,error\n3.0,0.6\n2.9,0.58\n2.8,1.2\n2.7,0.55\n")
    with pytest.raises(InputError, match=r"evals\.csv:4: column 'error': must be a fraction"):
        read_pairs(f)


# ---- budgets --------------------------------------------------------------------------------
def test_plan_targeting_a_published_runs_error_lands_on_its_loss(tmp_path):
    """The 6.89B C4 run measured C4 loss 2.382220423; its error under the preset (computed here
    from the YAML constants) as a target gives back that loss, and the plan reaches it."""
    run = [r for r in gadre_rows("c4") if float(r["N_params"]) > 6e9][0]
    run_loss = float(run["loss_c4_val"])
    assert run_loss == 2.382220423
    eps, k, gamma = preset_constants("gadre2024-c4-17tasks")
    error = eps - k * math.exp(-gamma * run_loss)
    f = tmp_path / "b.yaml"
    f.write_text(budget_text(repr(error)))
    result = optimize(f)
    assert result.target_loss == pytest.approx(run_loss, abs=1e-6)
    assert result.plan.loss == pytest.approx(run_loss, abs=1e-6)
    assert not any("extrapolates" in w for w in result.warnings)  # the run is in range


def test_mapping_file_from_fit_downstream_round_trips(tmp_path):
    loss = np.linspace(2.2, 5.0, 12)
    evals = tmp_path / "evals.csv"
    evals.write_text("loss,error\n" + "".join(
        f"{a!r},{0.75 - 2.0 * math.exp(-0.9 * a)!r}\n" for a in loss.tolist()))
    out = tmp_path / "ours.yaml"
    r = runner.invoke(app, ["fit-downstream", str(evals), "--law", "gadre2024-rw",
                            "--bootstrap", "8", "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["constants"]["gamma"] == pytest.approx(0.9, rel=1e-6)
    assert d["n_bootstrap"] == 8 and d["fitted_loss"] == [2.2, 5.0]
    m = load_mapping_file(out)
    assert m.law == "gadre2024-rw" and m.samples.shape == (8, 3)
    b = tmp_path / "b.yaml"
    b.write_text(budget_text(0.5, "{file: ours.yaml}", "gadre2024-rw"))
    # 0.75 − 2·exp(−0.9·L) = 0.5  ⇒  L = ln(8)/0.9
    assert prepare(load_budget(b)).target_loss == pytest.approx(math.log(8) / 0.9, rel=1e-6)


def test_fit_downstream_refuses_to_overwrite_its_input(tmp_path):
    evals = tmp_path / "evals.csv"
    evals.write_text("loss,error\n3.0,0.6\n2.9,0.58\n2.8,0.57\n2.7,0.55\n")
    r = runner.invoke(app, ["fit-downstream", str(evals), "-o", str(evals)])
    assert r.exit_code == 2
    assert "is also an input of this command" in r.output
    assert evals.read_text().startswith("loss,error\n3.0,0.6")


@pytest.mark.parametrize("error,fragment", [
    ("0.03", "at or below the floor {floor:.4g}"),
    ("0.9", "at or above the ceiling ε = {eps:.4g}"),
])
def test_out_of_reach_targets_exit_3(tmp_path, error, fragment):
    eps, k, gamma = preset_constants("gadre2024-c4-17tasks")
    floor = eps - k * math.exp(-gamma * GADRE_E["c4"])
    f = tmp_path / "b.yaml"
    f.write_text(budget_text(error))
    r = runner.invoke(app, ["optimize", str(f)])
    assert r.exit_code == 3
    assert f"target error {error}" in r.output
    assert fragment.format(floor=floor, eps=eps) in r.output
    assert "b.yaml:4:" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("body,field,line", [
    ("constants: {epsilon: 0.8, k: -2, gamma: 1}\n", "constants.k", 1),
    ("name: x\nconstants:\n  epsilon: 0.8\n  k: 2\n", "constants.gamma", 3),
    ("constants: {epsilon: 0.8, k: 2, gamma: 1}\nfitted_loss: [5, 2]\n", "fitted_loss", 2),
    ("constants: {epsilon: 0.8, k: 2, gamma: 1}\nbootstrap_samples: [[1, 2]]\n",
     "bootstrap_samples", 2),
])
def test_malformed_mapping_file_exits_2_naming_file_and_field(tmp_path, body, field, line):
    (tmp_path / "bad.yaml").write_text(body)
    f = tmp_path / "b.yaml"
    f.write_text(budget_text(0.5, "{file: bad.yaml}"))
    r = runner.invoke(app, ["optimize", str(f)])
    assert r.exit_code == 2
    assert f"bad.yaml:{line}:" in r.output and f"{field}:" in r.output
    assert "Traceback" not in r.output


def test_law_mismatch_and_unknown_preset_exit_2(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text(budget_text(0.5, law="epoch2024"))
    r = runner.invoke(app, ["optimize", str(f)])
    assert r.exit_code == 2
    assert "reads losses of law gadre2024-c4, but the budget's law is epoch2024" in r.output
    f.write_text(budget_text(0.5, mapping="gadre2024-c4-17task"))
    r = runner.invoke(app, ["optimize", str(f)])
    assert r.exit_code == 2 and "did you mean 'gadre2024-c4-17tasks'" in r.output


def test_target_keys_are_exclusive(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text("schema_version: 1\nlaw: gadre2024-c4\ntarget:\n  loss: 2.5\n"
                 "  downstream: {error: 0.5, mapping: gadre2024-c4-17tasks}\n")
    with pytest.raises(InputError, match="give exactly one of 'loss', 'match' or 'downstream'"):
        load_budget(f)


def test_extrapolating_target_and_unrecorded_law_warn(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text(budget_text(0.45))  # below the preset's lowest fitted error 0.4796
    w = optimize(f).warnings
    assert any("error 0.45 is outside the fitted error range 0.4796-0.8201" in x for x in w)
    (tmp_path / "m.yaml").write_text("constants: {epsilon: 0.8, k: 2, gamma: 1}\n")
    f.write_text(budget_text(0.5, "{file: m.yaml}"))
    w = optimize(f).warnings
    assert any("does not record which loss law" in x for x in w)


# ---- uncertainty ----------------------------------------------------------------------------
def test_target_loss_samples_invert_each_bootstrap_sample():
    samples = np.array([[0.8, 2.0, 1.0], [0.7, 2.0, 1.0], [0.6, 3.0, 0.5]])
    m = DownstreamMapping(0.8, 2.0, 1.0, samples=samples)
    losses = target_loss_samples(m, 0.65, 300, seed=0)
    expect = {math.log(2.0 / 0.15), math.log(2.0 / 0.05)}  # the third sample: 0.65 ≥ ε = 0.6
    finite = losses[np.isfinite(losses)]
    assert set(np.round(finite, 12)) == {round(x, 12) for x in expect}
    assert 0.2 < np.mean(np.isnan(losses)) < 0.45


def test_mapping_bootstrap_flows_into_plan_uncertainty(tmp_path):
    """With the loss law at its point constants, the optimal N is monotone in the target loss,
    so the median optimal N over 201 samples is the plan at the median sampled target loss."""
    f = tmp_path / "b.yaml"
    f.write_text(budget_text(0.52, extra="uncertainty: {samples: 201, seed: 3}\n"))
    u = optimize(f).plan.extra["uncertainty"]
    assert u["n_samples"] == 201 and "downstream mapping bootstrap" in u["source"]
    losses = target_loss_samples(get_mapping_preset("gadre2024-c4-17tasks"), 0.52, 201, 4)
    assert np.all(np.isfinite(losses)) and np.std(losses) > 0.005
    g = tmp_path / "g.yaml"
    g.write_text(f"schema_version: 1\nlaw: gadre2024-c4\ntarget: {{loss: {float(np.median(losses))!r}}}"
                 "\ninference: {tokens: 1T}\n")
    assert u["params"]["p50"] == pytest.approx(optimize(g).plan.params, rel=1e-6)
    assert u["params"]["p10"] < u["params"]["p50"] < u["params"]["p90"]


def test_downstream_presets_command_lists_the_shipped_files():
    r = runner.invoke(app, ["downstream-presets", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["schema_version"] == 1
    d = doc["presets"]
    assert list(d) == list(PRESET_NAMES)
    for name, row in d.items():
        eps, k, gamma = preset_constants(name)
        assert row["constants"] == {"epsilon": eps, "k": k, "gamma": gamma}
        assert row["n_bootstrap"] == 200 and "MIT" in row["source"]


def test_law_bootstrap_and_mapping_bootstrap_combine(tmp_path, root):
    """A law with bootstrap samples and a mapping whose samples all equal its point constants:
    every sample's target loss is the point target, so the uncertainty must equal that of the
    same budget with the loss target given directly (same law samples, same seed)."""
    import shutil

    shutil.copy(root / "examples" / "fitted-law" / "our-law.yaml", tmp_path / "our-law.yaml")
    (tmp_path / "m.yaml").write_text(
        "law: our-law\nconstants: {epsilon: 0.8, k: 2.0, gamma: 1.0}\n"
        "bootstrap_samples: " + str([[0.8, 2.0, 1.0]] * 5) + "\n")
    tail = "inference: {tokens: 1T}\nuncertainty: {samples: 50, seed: 1}\n"
    f = tmp_path / "down.yaml"
    f.write_text("schema_version: 1\nlaw: {file: our-law.yaml}\n"
                 "target: {downstream: {error: 0.62, mapping: {file: m.yaml}}}\n" + tail)
    g = tmp_path / "loss.yaml"
    g.write_text("schema_version: 1\nlaw: {file: our-law.yaml}\n"
                 f"target: {{loss: {-math.log(0.18 / 2.0)!r}}}\n" + tail)  # 0.8 − 2e^−L = 0.62
    a, b = optimize(f), optimize(g)
    assert a.target_loss == pytest.approx(b.target_loss, rel=1e-12)
    ua, ub = a.plan.extra["uncertainty"], b.plan.extra["uncertainty"]
    assert ua["source"] == "bootstrap × downstream mapping bootstrap"
    assert ub["source"] == "bootstrap"
    for key in ("params", "train_tokens", "objective"):
        for q in ("p10", "p50", "p90"):
            assert ua[key][q] == pytest.approx(ub[key][q], rel=1e-9), (key, q)


def test_mapping_spec_that_is_neither_name_nor_file_exits_2(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text(budget_text(0.5, "{path: m.yaml}"))
    r = runner.invoke(app, ["optimize", str(f)])
    assert r.exit_code == 2
    assert "b.yaml:4:37: target.downstream.mapping: expected a preset name" in r.output


def test_sweeps_vary_the_error_or_replace_it_with_a_loss(tmp_path):
    """Each sweep point equals the plan of a budget written out by hand with that target."""
    base = budget_text(0.5)
    f = tmp_path / "b.yaml"
    f.write_text(base)
    for vary, target in (("target.downstream.error=0.48,0.56",
                          ("downstream: {error: 0.48, mapping: gadre2024-c4-17tasks}",
                           "downstream: {error: 0.56, mapping: gadre2024-c4-17tasks}")),
                         ("target.loss=2.4,2.5", ("loss: 2.4", "loss: 2.5"))):
        r = runner.invoke(app, ["sweep", str(f), "--vary", vary, "--json"])
        assert r.exit_code == 0, r.output
        points = json.loads(r.output)["points"]
        for point, t in zip(points, target):
            g = tmp_path / "g.yaml"
            g.write_text(f"schema_version: 1\nlaw: gadre2024-c4\ntarget: {{{t}}}\n"
                         "inference: {tokens: 1T}\n")
            assert point["plan"]["params"] == pytest.approx(optimize(g).plan.params, rel=1e-9)
