"""The fast iso-loss solver (issue 12: stacked bisections, log-space terms, Newton in log D from
the unpenalised D or from the tangent at the search's previous point, no search for a rising
constraint's minimum) gives the previous solver's answers, kept as the oracle in
``planner.optimize.iso_loss_reference``: N, D and objective to ≤ 1e-9 relative, identical status,
message, active and binding constraints, on every example and on variants that make
configurations infeasible.  The stacked uncertainty re-plan equals per-sample plans."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from planner.analysis.uncertainty import law_samples, plan_uncertainty
from planner.budget import load_budget
from planner.optimize import iso_loss as fast
from planner.optimize import iso_loss_reference as oracle
from planner.optimize import prepare, solve_candidates
from planner.terms import CostItem, PosyLoss, Term

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REL = 1e-9
# chat-assistant.yaml has its own test below
BUDGETS = sorted(p.name for p in EXAMPLES.glob("*.yaml") if p.name != "chat-assistant.yaml")
BUDGETS += ["fitted-law/budget.yaml"]
CHAT = (EXAMPLES / "chat-assistant.yaml").read_text()
# edits of the chat-assistant budget that make some or all configurations infeasible, or move
# the optimum onto a constraint (the active/binding bookkeeping)
VARIANTS = {
    "tpot-2ms": ("max_time_per_output_token_ms: 30", "max_time_per_output_token_ms: 2"),
    "batch-1024": ("batch_size: 64", "batch_size: 1024"),
}


def assert_same(a, b):
    """Fast solution ``a`` equals oracle solution ``b`` to REL, element by element."""
    status_a, status_b = np.asarray(a.status), np.asarray(b.status)
    assert np.array_equal(status_a, status_b)
    ok = status_b == "optimal"
    assert np.all(np.isnan(np.asarray(a.params)[~ok]))
    for field in ("params", "tokens", "objective"):
        x, y = np.asarray(getattr(a, field))[ok], np.asarray(getattr(b, field))[ok]
        assert np.all(np.isfinite(x))
        np.testing.assert_allclose(x, y, rtol=REL, atol=0, err_msg=field)
    assert (a.message, a.active, a.binding) == (b.message, b.active, b.binding)


@pytest.mark.parametrize("name", [pytest.param(b, marks=[pytest.mark.slow] if b.startswith(
    "which-") else []) for b in BUDGETS])  # the 144/600-configuration lists: slow
def test_every_example_matches_the_oracle(name):
    problem = prepare(load_budget(EXAMPLES / name))
    sc = problem.stackable
    assert_same(fast.solve_iso_loss(sc), oracle.solve_iso_loss(sc))


def test_chat_assistant_216_configurations_match_the_oracle():
    problem = prepare(load_budget(EXAMPLES / "chat-assistant.yaml"))
    assert len(problem.candidates) == 216
    sc = problem.stackable
    a, b = fast.solve_iso_loss(sc), oracle.solve_iso_loss(sc)
    assert_same(a, b)
    n_ok = int(np.sum(a.status == "optimal"))
    assert 150 < n_ok < 216  # mostly real comparisons, and some infeasible configurations
    # and each configuration solved alone gives the same answer as in the batch
    ok = np.flatnonzero(a.status == "optimal")
    bad = np.flatnonzero(a.status != "optimal")
    for k in bad[:2]:
        assert fast.solve_iso_loss(problem.candidates[k].scenario).status == "infeasible"
    for k in ok[[0, len(ok) // 3, 2 * len(ok) // 3, -1]]:
        one = fast.solve_iso_loss(problem.candidates[k].scenario)
        assert one.params == pytest.approx(float(a.params[k]), rel=REL)
        assert one.objective == pytest.approx(float(a.objective[k]), rel=REL)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_infeasible_and_constrained_variants_match_the_oracle(variant):
    old, new = VARIANTS[variant]
    assert old in CHAT
    sc = prepare(load_budget(CHAT.replace(old, new))).stackable
    a, b = fast.solve_iso_loss(sc), oracle.solve_iso_loss(sc)
    assert_same(a, b)
    assert a.binding  # each variant makes some configuration infeasible
    assert np.any(a.status == "optimal")


def test_curve_matches_the_oracle_where_d_is_well_conditioned():
    """D(N) and its slope with a quantisation penalty (the Newton solve), from 1e-3 in log N
    above the smallest feasible N (nearer, the root approaches a double root and both solvers
    stop at rounding-level residuals) to the top of the search range; below it D is inf."""
    sc = prepare(load_budget(EXAMPLES / "chat-assistant.yaml")).stackable
    a, b = fast._Curve(sc, (216,)), oracle._Curve(sc, (216,))
    np.testing.assert_array_equal(a.u_min, b.u_min)
    for offset in (1e-3, 0.1, 1.0, 3.0, 10.0):
        u = b.u_min + offset
        _, da, sa = a.at(u)
        _, db, sb = b.at(u)
        assert np.all(np.isfinite(db))
        np.testing.assert_allclose(da, db, rtol=1e-10, atol=0)
        np.testing.assert_allclose(sa, sb, rtol=1e-10, atol=0)
    assert np.all(np.isinf(a.at(b.u_min - 0.01)[1]))


def test_warm_started_curve_equals_the_cold_start_along_a_search():
    """The inner Newton started from the tangent at each element's previous point (what the
    bisection does) gives the root the cold start gives, to rounding, along a random search
    path that steps both ways, from far below the smallest feasible N (unreachable: inf) to the
    top of the range, with steps from 1 down to 1e-12 in log N."""
    sc = prepare(load_budget(EXAMPLES / "chat-assistant.yaml")).stackable
    curve = fast._Curve(sc, (216,))
    rng = np.random.default_rng(7)
    u = curve.u_min + rng.uniform(-0.5, 5.0, 216)
    hint = None
    became_reachable = 0  # elements whose previous point was out of reach (no tangent there)
    for step in np.geomspace(1.0, 1e-12, 40):
        u = u + step * rng.choice([-1.0, 1.0], 216)
        v_warm, s_warm = curve.at_log(u, hint)
        v_cold, s_cold = curve.at_log(u)
        reach = np.isfinite(v_cold)
        assert np.array_equal(reach, np.isfinite(v_warm))
        np.testing.assert_allclose(v_warm[reach], v_cold[reach], rtol=1e-14, atol=1e-12)
        np.testing.assert_allclose(s_warm[reach], s_cold[reach], rtol=1e-9, atol=1e-12)
        if hint is not None:
            became_reachable += int(np.sum(reach & ~np.isfinite(hint[1])))
        hint = (u, v_warm, s_warm)
    assert became_reachable > 0  # the path crossed the smallest feasible N upwards


def test_roofline_derivative_is_the_largest_alternatives_as_in_terms():
    """The np.where pick equals CostItem.dlog's argmax pick: ties go to the first alternative,
    a NaN alternative wins."""
    # at N = D = 1 (u = v = 0, where exp and log are exact) each term's value is its
    # coefficient: a0 = [2, 4, 3, 1, NaN], a1 = [1, 4, 12, 1e-3, 1], a2 = [1, 1, 1, 20, 50]:
    # a0 wins, a tie a0/a1 (with different derivatives), a1, a2, NaN
    n = d = np.ones(5)
    slope = np.array([-0.5, -0.4, -0.3, -0.2, -0.1])
    a0 = (Term(np.array([2.0, 4.0, 3.0, 1.0, np.nan]), 1.0, 0.0),)
    a1 = (Term(np.array([1.0, 2.0, 12.0, 1e-3, 1.0]), 1.0, 0.0),
          Term(np.array([0.0, 2.0, 0.0, 0.0, 0.0]), 0.0, 1.0))
    a2 = (Term(np.array([1.0, 1.0, 1.0, 20.0, 50.0]), 0.0, 1.0),)
    item = CostItem("roofline", (a0, a1, a2))
    mono = fast._Monomials(np.log(n), np.log(d))
    value, der = fast._item(item, mono, slope)
    np.testing.assert_array_equal(value, item.value(n, d))
    np.testing.assert_array_equal(der, item.dlog(n, d, slope))
    # the picks themselves, by hand: d/du of c·N is c·N, of c·D is c·D·slope
    np.testing.assert_array_equal(der[:4], [2.0, 4.0, 12.0, 20.0 * -0.2])
    assert np.isnan(der[4])  # and not a1's 2 + 2·(−0.4) = 1.2 at the tie


def test_uncertainty_batch_equals_the_oracle_and_single_plans():
    """plan_uncertainty re-plans all samples in one stacked solve: its percentiles equal those of
    the oracle solver on the same samples, and single-sample solves equal the batch."""
    problem = prepare(load_budget(EXAMPLES / "chat-assistant.yaml"))
    sol, best = solve_candidates(problem)
    report = plan_uncertainty(problem, sol, samples=100, seed=3, candidate=best)
    consts, source = law_samples(problem.law, 100, 3)
    assert report["n_samples"] == len(consts) and report["source"] == source
    E, A, B, alpha, beta = consts.T
    sc = problem.candidates[best].scenario
    batch = replace(sc, loss=PosyLoss(E, A, alpha, B, beta, np.full(len(E), sc.loss.limit)))
    ref = oracle.solve_iso_loss(batch)
    ok = (ref.status == "optimal") & (E < float(sc.loss.limit))
    assert 0.3 < ok.mean() < 1.0  # a real spread: some samples cannot reach the target
    for key, field in (("params", "params"), ("train_tokens", "tokens"),
                       ("objective", "objective")):
        p10, p50, p90 = np.percentile(np.asarray(getattr(ref, field))[ok], [10, 50, 90])
        assert report[key]["p10"] == pytest.approx(p10, rel=REL)
        assert report[key]["p50"] == pytest.approx(p50, rel=REL)
        assert report[key]["p90"] == pytest.approx(p90, rel=REL)
    stacked = fast.solve_iso_loss(batch)
    for i in np.flatnonzero(ok)[:4]:
        single = replace(sc, loss=PosyLoss(E[i], A[i], alpha[i], B[i], beta[i],
                                           float(sc.loss.limit)))
        one = fast.solve_iso_loss(single)
        assert one.params == pytest.approx(float(stacked.params[i]), rel=REL)
        assert one.tokens == pytest.approx(float(stacked.tokens[i]), rel=REL)


@pytest.mark.slow
def test_gp_in_log_form_matches_the_dgp_oracle_and_the_1d_solver():
    """The GP written in logs (cached per structure, log-coefficients as parameters) gives the
    previous DGP-mode solver's answers on chat-assistant configurations of several structures
    (with and without quantisation and speculation, feasible and infeasible): same status, active
    and binding constraints, objective to 1e-6 (the solvers' tolerance), and the 1-D solver's
    objective to 1e-6."""
    from planner.optimize import gp, gp_reference

    problem = prepare(load_budget(CHAT.replace("max_time_per_output_token_ms: 30",
                                               "max_time_per_output_token_ms: 8")))
    batch = fast.solve_iso_loss(problem.stackable)
    picks = [0, 4, 37, 41, 108, 180]  # several structures; some infeasible
    structures = {gp._structure(problem.candidates[k].scenario) for k in picks}
    assert len(structures) >= 4
    seen = set()
    for k in picks:
        sc = problem.candidates[k].scenario
        a, b = gp.solve_gp(sc), gp_reference.solve_gp(sc)
        assert a.status == b.status == batch.status[k]
        seen.add(a.status)
        assert (a.active, a.binding) == (b.active, b.binding)
        if a.status == "optimal":
            assert a.objective == pytest.approx(b.objective, rel=1e-6)
            assert a.objective == pytest.approx(float(batch.objective[k]), rel=1e-6)
            assert a.params == pytest.approx(b.params, rel=1e-3)
    assert seen == {"optimal", "infeasible"}
    # a cached problem re-solved with other values equals a freshly built one
    k = max(k for k in picks if batch.status[k] == "optimal")
    sc = problem.candidates[k].scenario
    fresh = gp.solve_gp(sc, cache=False)
    assert fresh.status == "optimal"
    assert gp.solve_gp(sc).objective == pytest.approx(fresh.objective, rel=1e-9)


def test_gp_log_coefficients_are_checked_before_they_reach_cvxpy():
    """Values the fast assignment cannot take go through cvxpy's own checks and error."""
    import cvxpy as cp

    from planner.optimize import gp

    par = cp.Parameter()
    gp._set_values([par], [2.5])
    assert par.value == pytest.approx(np.log(2.5))
    with pytest.raises(ValueError, match="Parameter value must be real"):
        gp._set_values([cp.Parameter()], [float("nan")])


def test_gp_names_binding_constraints_when_a_sub_solve_fails_numerically():
    """On the 2 ms-per-token variant, naming configuration 4's binding constraint re-solves it
    without the memory constraint, which Clarabel cannot solve (the previous GP then failed the
    whole plan, exit 4).  Now that sub-solve only leaves its constraint unnamed, and the GP names
    the constraint the 1-D solver names."""
    from planner.optimize import gp

    old, new = VARIANTS["tpot-2ms"]
    problem = prepare(load_budget(CHAT.replace(old, new)))
    sc = problem.candidates[4].scenario
    a, b = gp.solve_gp(sc), fast.solve_iso_loss(sc)
    assert a.status == b.status == "infeasible"
    assert a.binding == b.binding == ("max_time_per_output_token",)
