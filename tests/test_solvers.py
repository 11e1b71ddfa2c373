"""The two solvers agree with each other, with a dense brute-force grid, and with closed forms.
The GP runs twice: the exponential-cone program handed to Clarabel (``gp_conic``, what
``--solver gp`` runs) and the same program written for cvxpy (``gp``, its oracle)."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.laws import ALL_PRESETS, ChinchillaLaw, KaplanLaw
from planner.optimize import gp, gp_conic, optimize_batch
from planner.optimize.build import flops_items
from planner.optimize.iso_loss import solve_iso_loss
from planner.optimize.scenario import Scenario
from planner.terms import Constraint, CostItem

LAWS = [ALL_PRESETS[k] for k in ("hoffmann2022", "epoch2024", "gadre2024-c4", "gadre2024-rw")]
DEMANDS = [0.0, 1e6, 1e10, 1e12, 1e13, 1e14, 1e15]
GPS = [pytest.param(gp_conic.solve_gp, id="gp_conic"), pytest.param(gp.solve_gp, id="gp_cvxpy")]


def flops_scenario(law, loss, tokens, constraints=()):
    return Scenario(loss=law.posynomial(loss), objective=flops_items(tokens),
                    constraints=tuple(constraints))


def brute_force(law, loss, tokens, points=400_001):
    """Dense grid in log N along the iso-loss curve, D from the loss: the cheapest point."""
    p = law.posynomial(loss)
    n_min = (p.A / (p.limit - p.E)) ** (1 / p.alpha)
    u = np.linspace(np.log(n_min) + 1e-7, np.log(n_min) + 12.0, points)
    n = np.exp(u)
    d = (p.B / (p.limit - p.E - p.A * n ** -p.alpha)) ** (1 / p.beta)
    cost = 6 * n * d + 2 * n * tokens
    k = int(np.argmin(cost))
    # refine around the best grid point with a second, finer grid
    u2 = np.linspace(u[max(k - 2, 0)], u[min(k + 2, points - 1)], points)
    n2 = np.exp(u2)
    d2 = (p.B / (p.limit - p.E - p.A * n2 ** -p.alpha)) ** (1 / p.beta)
    cost2 = 6 * n2 * d2 + 2 * n2 * tokens
    j = int(np.argmin(cost2))
    return n2[j], d2[j], cost2[j]


@pytest.mark.parametrize("solve_gp", GPS)
@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name)
@pytest.mark.parametrize("tokens", DEMANDS)
def test_solvers_agree_with_each_other_and_brute_force(law, tokens, solve_gp):
    loss = law.E + 0.3  # a realistic target ~0.3 nats above the floor
    sc = flops_scenario(law, loss, tokens)
    a, b = solve_iso_loss(sc), solve_gp(sc)
    n_bf, _, c_bf = brute_force(law, loss, tokens)
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    assert a.objective == pytest.approx(c_bf, rel=1e-6)
    assert a.objective <= c_bf * (1 + 1e-12)  # the solver is never worse than the grid
    assert a.params == pytest.approx(b.params, rel=1e-3)
    assert a.params == pytest.approx(n_bf, rel=1e-3)
    # both sit on the target loss
    assert float(law.loss(a.params, a.tokens)) == pytest.approx(loss, rel=1e-9)
    assert float(law.loss(b.params, b.tokens)) == pytest.approx(loss, rel=1e-6)


@pytest.mark.parametrize("target", [2.0, 2.3, 2.8])
@pytest.mark.parametrize("tokens", [0.0, 1e12, 1e15])
@pytest.mark.parametrize("solve_gp", GPS)
def test_kaplan_goes_through_the_gp_via_its_posynomial_transform(target, tokens, solve_gp):
    law = KaplanLaw()
    sc = flops_scenario(law, target, tokens)
    a, b = solve_iso_loss(sc), solve_gp(sc)
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    assert a.params == pytest.approx(b.params, rel=1e-3)
    assert float(law.loss(b.params, b.tokens)) == pytest.approx(target, rel=1e-6)


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name)
@pytest.mark.parametrize("loss_above_E", [0.1, 0.3, 1.0])
@pytest.mark.parametrize("solve_gp", GPS)
def test_zero_demand_is_the_closed_form_chinchilla_optimum(law, loss_above_E, solve_gp):
    loss = law.E + loss_above_E
    sol = solve_iso_loss(flops_scenario(law, loss, 0.0))
    # Hoffmann et al. 2022: N_opt = G·(C/6)^(β/(α+β)), D_opt = G^-1·(C/6)^(α/(α+β)) at C = 6ND
    n_cf, d_cf = law.compute_optimal(6 * sol.params * sol.tokens)
    assert sol.params == pytest.approx(float(n_cf), rel=1e-9)
    assert sol.tokens == pytest.approx(float(d_cf), rel=1e-9)
    # and x = A·N^-α equals x0 = β(L* − E)/(α + β) (docs/optimizer.md)
    x0 = law.beta * loss_above_E / (law.alpha + law.beta)
    assert law.A * sol.params ** -law.alpha == pytest.approx(x0, rel=1e-9)
    exact = solve_gp(flops_scenario(law, loss, 0.0))
    assert exact.params == pytest.approx(float(n_cf), rel=1e-3)


def test_published_ratio_hoffmann_20_tokens_per_parameter_region():
    """Epoch's refit puts the compute-optimal ratio near 20 tokens/parameter at 13B."""
    law = ALL_PRESETS["epoch2024"]
    n = 13e9
    d = float(law.compute_optimal_tokens(n))
    assert d / n == pytest.approx(20.0, rel=0.05)


@settings(max_examples=60, deadline=None)
@given(
    law_name=st.sampled_from([l.name for l in LAWS]),
    gap=st.floats(0.05, 1.5),
    t1=st.floats(0.0, 1e15),
    factor=st.floats(1.0001, 1e4),
)
def test_more_demand_never_gives_a_larger_model_or_fewer_tokens_per_parameter(
        law_name, gap, t1, factor):
    law = ALL_PRESETS[law_name]
    loss = law.E + gap
    t = np.array([t1, t1 * factor + 1.0])
    sol = solve_iso_loss(flops_scenario(law, loss, t))
    assert sol.params[1] <= sol.params[0] * (1 + 1e-9)
    assert sol.tokens[1] / sol.params[1] >= sol.tokens[0] / sol.params[0] * (1 - 1e-9)


def test_batch_equals_single_calls():
    law = ALL_PRESETS["epoch2024"]
    losses = np.array([1.95, 2.05, 2.2, 2.5])
    demand = np.array([0.0, 1e11, 1e13, 1e15])
    out = optimize_batch(law, losses, demand)
    for i in range(4):
        single = solve_iso_loss(flops_scenario(law, losses[i], demand[i]))
        assert out["params"][i] == pytest.approx(single.params, rel=1e-12)
        assert out["total_flops"][i] == pytest.approx(single.objective, rel=1e-12)
    bad = optimize_batch(law, [1.5, 2.0], [1e12, 1e12])  # 1.5 < E
    assert bad["status"][0] == "infeasible" and np.isnan(bad["params"][0])
    assert bad["status"][1] == "optimal"


def test_generic_path_matches_fast_path():
    """The Newton fast path and the general bisection path of the 1-D solver agree."""
    law = ALL_PRESETS["hoffmann2022"]
    t = np.logspace(6, 15, 50)
    sc = flops_scenario(law, 2.0, t)
    slack = Constraint("loose", CostItem.monomial("p", 1.0, 1, 0), 1e30)
    fast, generic = solve_iso_loss(sc), solve_iso_loss(replace(sc, constraints=(slack,)))
    assert np.allclose(fast.params, generic.params, rtol=1e-8)
    assert np.allclose(fast.objective, generic.objective, rtol=1e-12)


@pytest.mark.parametrize("solver", [pytest.param(solve_iso_loss, id="iso_loss"), *GPS])
def test_constraints_bind_and_agree(solver):
    law = ALL_PRESETS["epoch2024"]
    cap = Constraint("max_train_tokens", CostItem.monomial("tokens", 1.0, 0, 1), 5e11)
    size = Constraint("max_params", CostItem.monomial("params", 1.0, 1, 0), 1e9)
    sc = flops_scenario(law, 2.1, 1e15, [cap])
    sol = solver(sc)
    assert sol.status == "optimal"
    assert sol.tokens == pytest.approx(5e11, rel=1e-6)
    assert sol.active == ("max_train_tokens",)
    # a cheaper unconstrained plan exists
    free = solve_iso_loss(flops_scenario(law, 2.1, 1e15))
    assert free.tokens > 5e11 and free.objective < sol.objective
    # tokens ≤ 5e11 forces N up; N ≤ 1e9 forces it down: no plan
    both = solver(flops_scenario(law, 2.1, 1e15, [cap, size]))
    assert both.status == "infeasible"
    assert "max_params" in both.binding


@pytest.mark.parametrize("solve_gp", GPS)
def test_gp_agrees_on_constrained_problems(solve_gp):
    law = ALL_PRESETS["hoffmann2022"]
    for limit in (3e11, 1e12, 5e12):
        cap = Constraint("max_train_tokens", CostItem.monomial("tokens", 1.0, 0, 1), limit)
        budget = Constraint("max_train_flops", CostItem.monomial("f", 6.0, 1, 1), 1e24)
        sc = flops_scenario(law, 2.0, 1e14, [cap, budget])
        a, b = solve_iso_loss(sc), solve_gp(sc)
        assert a.objective == pytest.approx(b.objective, rel=1e-6)
        assert a.params == pytest.approx(b.params, rel=1e-3)
        assert set(a.active) == set(b.active)


def test_target_at_or_below_E_is_infeasible_in_both():
    law = ChinchillaLaw(E=1.8, A=400, B=400, alpha=0.3, beta=0.3)
    for solver in (solve_iso_loss, gp_conic.solve_gp, gp.solve_gp):
        assert solver(flops_scenario(law, 1.8, 1e12)).status == "infeasible"
