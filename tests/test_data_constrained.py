"""Data-constrained law (Muennighoff et al. 2023) and planning with repeated epochs."""

import csv
import math

import numpy as np
import pytest

from planner.budget import load_budget
from planner.errors import InfeasibleError
from planner.laws import ChinchillaLaw, DataConstrainedLaw, get_preset
from planner.optimize import optimize, prepare
from planner.optimize.iso_loss import solve_iso_loss

LAW = DataConstrainedLaw()


def test_constants_are_the_published_exponent_forms():
    assert get_preset("muennighoff2023").A == pytest.approx(520.8, abs=0.05)
    assert LAW.B == pytest.approx(1487.7, abs=0.05) and LAW.E == pytest.approx(1.869, abs=5e-4)
    assert (LAW.R_D_star, LAW.R_N_star) == (15.387756, 5.309743)


def test_one_epoch_is_the_chinchilla_form():
    base = ChinchillaLaw(E=LAW.E, A=LAW.A, B=LAW.B, alpha=LAW.alpha, beta=LAW.beta)
    n = np.array([1e8, 1e9])
    d = np.array([2e9, 2e10])
    # U large: no repetition and N below N_opt(U), so nothing decays
    assert np.allclose(LAW.loss(n, d, 1e13), base.loss(n, d), rtol=1e-12)


def test_repeated_tokens_saturate_at_16_times_unique():
    u = 1e9
    _, d_eff = LAW.effective(1e8, np.array([1e12, 1e15]), u)
    assert np.all(d_eff <= u * (1 + LAW.R_D_star))
    assert d_eff[1] == pytest.approx(u * (1 + LAW.R_D_star), rel=1e-9)  # ≈ 16.4 × U


def test_four_epochs_are_worth_about_93_percent():
    """Muennighoff et al. 2023: ~4 epochs cost about 7% of the value of the tokens."""
    _, d_eff = LAW.effective(1e8, 4e9, 1e9)
    assert d_eff / 4e9 == pytest.approx((1 + 15.387756 * (1 - math.exp(-3 / 15.387756))) / 4)
    assert d_eff / 4e9 == pytest.approx(0.93, abs=0.005)


def test_predicts_the_datablations_runs():
    """On the 182 runs of the published fit, the preset predicts loss to 8.2% mean |error|;
    ignoring repetition (D' = D) doubles that, to 16.3%."""
    with open("tests/data/datablations2023_runs.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["in_default_fit"] in ("1", "True", "true")
                and r["val_loss"]]
    assert len(rows) == 182
    n, d, u, loss = (np.array([float(r[k]) for r in rows])
                     for k in ("N_params", "D_tokens", "U_unique_tokens", "val_loss"))
    with_decay = np.mean(np.abs(LAW.loss(n, d, u) / loss - 1))
    without = np.mean(np.abs(LAW.loss(n, d, None) / loss - 1))
    assert with_decay == pytest.approx(0.082, abs=0.002)
    assert without == pytest.approx(0.163, abs=0.002)


BUDGET = ("schema_version: 1\nlaw: muennighoff2023\ntarget: {{loss: 2.6}}\n"
          "inference: {{tokens: 1T}}\n{data}")


def test_plenty_of_data_gives_the_unconstrained_plan():
    r = optimize(load_budget(BUDGET.format(data="data: {unique_tokens: 10T}\n")))
    free = solve_iso_loss(prepare(load_budget(BUDGET.format(data=""))).scenario)
    assert r.plan.params == pytest.approx(free.params, rel=1e-4)
    assert r.plan.total_flops == pytest.approx(free.objective, rel=1e-6)
    assert r.plan.extra["epochs"] < 1


def test_scarce_data_plans_repeated_epochs_at_a_price():
    free = optimize(load_budget(BUDGET.format(data="data: {unique_tokens: 10T}\n")))
    r = optimize(load_budget(BUDGET.format(data="data: {unique_tokens: 20B}\n")))
    assert r.plan.extra["epochs"] == pytest.approx(r.plan.train_tokens / 20e9)
    assert r.plan.extra["epochs"] > 5
    assert r.plan.loss == pytest.approx(2.6, rel=1e-9)
    assert r.plan.total_flops > free.plan.total_flops
    # brute force, independent of the planner's curve code: for each N of a dense grid the
    # smallest D reaching 2.6 nats (scipy's brentq on the law's loss), FLOPs 6ND + 2N·1T
    from scipy.optimize import brentq

    law = DataConstrainedLaw().with_unique_tokens(20e9)
    best = np.inf
    for n in np.logspace(8.0, 10.0, 4001):
        def excess(v, n=n):
            return float(law.loss(n, np.exp(v))) - 2.6

        if excess(60.0) > 0:
            continue  # out of reach at this N
        d = np.exp(brentq(excess, np.log(1e6), 60.0, xtol=1e-13, rtol=1e-15))
        best = min(best, 6 * n * d + 2 * n * 1e12)
    assert np.isfinite(best)
    assert best * (1 - 1e-5) <= r.plan.total_flops <= best * (1 + 1e-9)


def test_out_of_reach_with_the_data_is_infeasible():
    r = optimize(load_budget(BUDGET.format(data="data: {unique_tokens: 1B}\n")))
    assert r.status == "infeasible" and r.plan is None
    with pytest.raises(InfeasibleError, match="out of reach"):
        r.raise_for_status()


def test_other_laws_treat_unique_tokens_as_a_cap():
    text = ("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\ninference: {tokens: 100T}\n"
            "data: {unique_tokens: 1T}\n")
    r = optimize(load_budget(text))
    assert r.plan.train_tokens == pytest.approx(1e12, rel=1e-6)
    assert "unique_tokens" in r.active_constraints


# ---- the whole problem, for every consumer (the budget of the structure issue) -------------
ISSUE_BUDGET = BUDGET.format(data="data: {unique_tokens: 20B}\n")


def test_check_compares_the_same_problem():
    r = optimize(load_budget(ISSUE_BUDGET), check=True)
    cross = r.diagnostics["cross_check"]
    assert cross["solver"] == "nested_slope"
    assert cross["objective_rel_diff"] < 1e-6 and cross["params_rel_diff"] < 1e-6


def test_gp_solver_is_refused_not_switched(tmp_path):
    from typer.testing import CliRunner

    from planner.cli import app

    r = optimize(load_budget(ISSUE_BUDGET), solver="gp")
    assert r.status == "unsupported" and "not a posynomial" in r.message
    path = tmp_path / "dc.yaml"
    path.write_text(ISSUE_BUDGET)
    res = CliRunner().invoke(app, ["optimize", str(path), "--solver", "gp"])
    assert res.exit_code == 2
    assert "muennighoff2023" in res.output and "not a posynomial" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_curves_alternatives_and_fixed_models_use_the_repeated_data_law():
    from planner.analysis.compare import cost_fixed
    from planner.analysis.curves import curve_costs
    from planner.analysis.review import _nearby

    problem = prepare(load_budget(ISSUE_BUDGET))
    r = optimize(load_budget(ISSUE_BUDGET))
    law = problem.law
    # the cost curve at the plan's N passes through the plan (same D, same cost)
    c = curve_costs(problem, np.array([r.plan.params]))
    assert c["tokens"][0] == pytest.approx(r.plan.train_tokens, rel=1e-9)
    assert c["objective"][0] == pytest.approx(r.plan.objective, rel=1e-9)
    # every point of the curve reaches the target under the repeated-data law
    n = r.plan.params * np.logspace(-0.1, 0.5, 9)
    c = curve_costs(problem, n)
    ok = np.isfinite(c["tokens"])
    assert ok.all()
    assert np.allclose(law.loss(n, c["tokens"]), 2.6, rtol=1e-9)
    # the plan is the cheapest point on it
    assert np.all(c["objective"] >= r.plan.objective * (1 - 1e-9))
    # the report's "plan × 1" row is the plan itself
    rows = {row["label"]: row for row in _nearby(problem, r)}
    assert rows["plan × 1"]["train_tokens"] == pytest.approx(r.plan.train_tokens, rel=1e-9)
    assert rows["plan × 1"]["premium"] == pytest.approx(0.0, abs=1e-9)
    # compare --at params=N: D from the repeated-data curve
    point, _, _ = cost_fixed(problem, params=r.plan.params)
    assert point.train_tokens == pytest.approx(r.plan.train_tokens, rel=1e-9)
    point, _, _ = cost_fixed(problem, tokens=r.plan.train_tokens)
    assert point.params == pytest.approx(r.plan.params, rel=1e-6)


def test_baseline_is_compute_optimal_under_the_repeated_data_law():
    r = optimize(load_budget(ISSUE_BUDGET))
    b = r.baseline
    law = prepare(load_budget(ISSUE_BUDGET)).law
    assert law.loss(b.params, b.train_tokens) == pytest.approx(2.6, rel=1e-9)
    # no model reaching the loss trains for fewer FLOPs (brute force over N)
    from planner.laws.curve import GeneralCurve

    curve = GeneralCurve(law.loss, 2.6, 60.0)
    n = np.logspace(np.log10(b.params) - 1, np.log10(b.params) + 1, 2001)
    flops = 6 * n * curve.tokens(n)
    assert b.train_flops <= np.nanmin(flops) * (1 + 1e-9)
    assert b.train_flops >= np.nanmin(flops) * (1 - 1e-5)


def test_sensitivity_perturbs_the_repeated_data_law():
    from planner.analysis.sensitivity import sensitivity

    s = sensitivity(load_budget(ISSUE_BUDGET), 0.1)
    rows = {row.name: row for row in s.rows}
    assert {"law.R_D_star", "law.R_N_star", "law.E"} <= set(rows)
    # more value in repeated data (larger R_D*) → reaching the loss costs less
    hi = rows["law.R_D_star"].high
    base = s.base
    assert hi.feasible and hi.objective < base.objective
    # independent: the plan of a budget with that R_D* written inline gives the same cost
    law = DataConstrainedLaw(R_D_star=LAW.R_D_star * 1.1).with_unique_tokens(20e9)
    problem = prepare(load_budget(ISSUE_BUDGET))
    from dataclasses import replace as _r

    from planner.optimize import solve_candidates
    alt = _r(problem, law=law).with_law(law)
    sol, _ = solve_candidates(alt)
    assert hi.objective == pytest.approx(sol.objective, rel=1e-9)


def test_uncertainty_replans_each_sample_of_the_repeated_data_law():
    from dataclasses import replace as _r

    from scipy.optimize import brentq

    from planner.analysis.uncertainty import plan_uncertainty
    from planner.optimize import solve_candidates

    problem = prepare(load_budget(ISSUE_BUDGET))
    base = problem.law
    rows = np.array([[base.E, base.A, base.B, base.alpha, base.beta, r_d, base.R_N_star]
                     for r_d in (10.0, 15.387756, 25.0)])
    law = _r(base, samples=rows)
    problem = _r(problem, law=law)
    sol, _ = solve_candidates(problem)
    u = plan_uncertainty(problem, sol, samples=3)
    assert u["n_samples"] == 3 and u["source"] == "bootstrap"

    def brute(r_d):  # independent: brentq on the law's own loss over a dense N grid
        lw = DataConstrainedLaw(R_D_star=r_d).with_unique_tokens(20e9)
        best = np.inf
        for n in np.logspace(8.0, 10.0, 2001):
            def excess(v, n=n):
                return float(lw.loss(n, np.exp(v))) - 2.6

            if excess(60.0) > 0:
                continue
            d = np.exp(brentq(excess, np.log(1e6), 60.0, xtol=1e-13, rtol=1e-15))
            best = min(best, 6 * n * d + 2 * n * 1e12)
        return best

    # the median sample is the point estimate's R_D*: its optimum is the plan's
    assert u["objective"]["p50"] == pytest.approx(brute(15.387756), rel=2e-5)
    assert u["objective"]["p50"] == pytest.approx(sol.objective, rel=1e-9)
    # more value in repetition → cheaper: P10 is the R_D* = 25 sample
    assert u["objective"]["p10"] < u["objective"]["p50"] < u["objective"]["p90"]
    assert u["median_regret_fraction"] >= 0
