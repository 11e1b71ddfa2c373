"""The GP in exponential-cone form, handed to Clarabel directly (``planner.optimize.gp_conic``,
what ``--solver gp`` runs), against the same program written for cvxpy (``planner.optimize.gp``,
the oracle) and the 1-D iso-loss solver: same status, active and binding constraints, cost to
1e-6 and N to 1e-3 (the cross-check tolerances of docs/optimizer.md), on configurations of
every example; closed forms for the constant terms it moves to the right-hand side; its
fall-backs when Clarabel ends without a verdict; and no cvxpy or scipy import on the way."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from planner.budget import load_budget
from planner.laws import ALL_PRESETS
from planner.optimize import gp, gp_conic, optimize, prepare, solve_candidates
from planner.optimize.build import flops_items
from planner.optimize.iso_loss import solve_iso_loss
from planner.optimize.scenario import Scenario
from planner.terms import Constraint, CostItem, Term

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CHAT = (EXAMPLES / "chat-assistant.yaml").read_text()
TIGHT = CHAT.replace("max_time_per_output_token_ms: 30", "max_time_per_output_token_ms: 8")


@pytest.fixture(autouse=True)
def fresh_memo():
    """Each test solves: nothing remembered from another."""
    gp_conic._solve_memo.cache_clear()
    gp_conic._binding_memo.cache_clear()
    yield
    gp_conic._solve_memo.cache_clear()
    gp_conic._binding_memo.cache_clear()


def assert_agree(sc, retry_binding=False):
    """gp_conic against the cvxpy oracle and the 1-D solver on one scenario."""
    a = gp_conic.solve_gp(sc, retry_binding=retry_binding)
    b = gp.solve_gp(sc, retry_binding=retry_binding)
    c = solve_iso_loss(sc)
    assert a.status == b.status == c.status
    if a.status == "optimal":
        assert a.objective == pytest.approx(b.objective, rel=1e-6)
        assert a.objective == pytest.approx(float(c.objective), rel=1e-6)
        assert a.params == pytest.approx(b.params, rel=1e-3)
        assert a.params == pytest.approx(float(c.params), rel=1e-3)
        assert set(a.active) == set(b.active)
    elif retry_binding:
        assert a.binding == b.binding
    return a


def test_chat_assistant_configurations_agree_with_the_oracle_and_the_1d_solver():
    """Configurations of several structures (with and without quantisation and speculation),
    feasible and infeasible under an 8 ms token-time limit; binding constraints named by the
    same rule as the oracle's."""
    problem = prepare(load_budget(TIGHT))
    picks = [0, 4, 37, 41, 108, 180]
    assert len({gp._structure(problem.candidates[k].scenario) for k in picks}) >= 4
    seen = {assert_agree(problem.candidates[k].scenario, retry_binding=True).status
            for k in picks}
    assert seen == {"optimal", "infeasible"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_configuration_of_every_example_agrees(name):
    problem = prepare(load_budget(EXAMPLES / name))
    if not problem.posynomial:
        pytest.skip("not a geometric program")
    for cand in problem.candidates:
        assert_agree(cand.scenario)


def test_the_cheapest_configuration_is_the_1d_solvers():
    problem = prepare(load_budget(EXAMPLES / "chat-assistant.yaml"))
    a, ka = solve_candidates(problem, "gp")
    b, kb = solve_candidates(problem, "iso_loss")
    assert ka == kb and a.solver == "gp" and a.diagnostics["candidates"] == 216
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    assert a.params == pytest.approx(b.params, rel=1e-3)


def test_binding_constraints_are_named_when_no_configuration_is_feasible():
    """A 1 ms token time rules every configuration out: the plan names the constraints the
    1-D solver's plan names."""
    text = CHAT.replace("max_time_per_output_token_ms: 30", "max_time_per_output_token_ms: 1")
    a, b = optimize(text, solver="gp"), optimize(text, solver="iso_loss")
    assert a.status == b.status == "infeasible"
    assert "max_time_per_output_token" in a.binding_constraints
    assert set(a.binding_constraints) == set(b.binding_constraints)


def flops(law, loss, tokens, constraints=()):
    return Scenario(loss=law.posynomial(loss), objective=flops_items(tokens),
                    constraints=tuple(constraints))


def test_a_constant_term_moves_to_the_right_hand_side():
    """``c0 + c1·N ≤ L`` binds at ``N = (L − c0)/c1`` exactly (one linear row, no cone); with
    ``c0 ≥ L`` nothing satisfies it."""
    law = ALL_PRESETS["epoch2024"]
    free = gp_conic.solve_gp(flops(law, 2.1, 1e14))
    c0, c1 = 5.0, 1e-9
    cap = 0.8 * free.params  # below the unconstrained N, above the loss target's minimum N
    limit = c0 + c1 * cap
    item = CostItem("latency_ms", ((Term(c0), Term(c1, 1.0, 0.0)),), "ms")
    sol = gp_conic.solve_gp(flops(law, 2.1, 1e14, [Constraint("latency", item, limit)]))
    assert sol.status == "optimal" and sol.active == ("latency",)
    assert sol.params == pytest.approx(cap, rel=1e-7)
    A, *_ = gp_conic.cone_program(flops(law, 2.1, 1e14, [Constraint("latency", item, limit)]))
    B, *_ = gp_conic.cone_program(flops(law, 2.1, 1e14))
    assert A.shape[0] == B.shape[0] + 1  # one more row: the linear inequality
    never = Constraint("latency", item, c0)
    out = gp_conic.solve_gp(flops(law, 2.1, 1e14, [never]))
    assert out.status == "infeasible" and out.binding == ("latency",)


def test_target_at_or_below_E_is_infeasible_without_a_solve(monkeypatch):
    law = ALL_PRESETS["epoch2024"]
    monkeypatch.setattr(gp_conic, "_clarabel", lambda *a: pytest.fail("solved"))
    sol = gp_conic.solve_gp(flops(law, float(law.E), 1e12))
    assert sol.status == "infeasible" and "irreducible" in sol.message


def stalled(real):
    """``_clarabel`` that ends without a verdict on the problem with an objective (as Clarabel
    does on some infeasible configurations of which-gpu.yaml), and solves the rest."""
    def run(A, b, c, kinds):
        if np.any(c):
            return SimpleNamespace(status="InsufficientProgress", x=None, iterations=18)
        return real(A, b, c, kinds)
    return run


def test_a_stalled_infeasible_solve_is_settled_by_the_feasibility_problem(monkeypatch):
    law = ALL_PRESETS["epoch2024"]
    cap = Constraint("max_train_tokens", CostItem.monomial("tokens", 1.0, 0, 1), 5e11)
    size = Constraint("max_params", CostItem.monomial("params", 1.0, 1, 0), 1e9)
    sc = flops(law, 2.1, 1e15, [cap, size])
    monkeypatch.setattr(gp_conic, "_clarabel", stalled(gp_conic._clarabel))
    monkeypatch.setattr(gp, "solve_gp", lambda *a, **k: pytest.fail("cvxpy path"))
    sol = gp_conic.solve_gp(sc)
    assert sol.status == "infeasible" == solve_iso_loss(sc).status
    assert sol.diagnostics["clarabel_status"] == "PrimalInfeasible"
    assert "max_params" in sol.binding


def test_a_stalled_feasible_solve_falls_back_to_the_cvxpy_program(monkeypatch):
    law = ALL_PRESETS["epoch2024"]
    cap = Constraint("max_train_tokens", CostItem.monomial("tokens", 1.0, 0, 1), 5e11)
    sc = flops(law, 2.1, 1e15, [cap])
    monkeypatch.setattr(gp_conic, "_clarabel", stalled(gp_conic._clarabel))
    sol = gp_conic.solve_gp(sc)
    ref = gp.solve_gp(sc)
    assert sol.status == "optimal" and sol.solver == "gp"
    assert sol.diagnostics["cvxpy_status"] == "optimal"
    assert sol.objective == pytest.approx(ref.objective, rel=1e-12)
    assert sol.tokens == pytest.approx(5e11, rel=1e-6)


def test_matrices_reach_clarabel_as_scipy_ones_where_it_refuses_plain_columns(monkeypatch):
    """``_Csc`` equals the scipy matrix it stands for; a Clarabel that takes scipy matrices
    only gets them, and the same answer."""
    import clarabel
    import scipy.sparse as sp

    law = ALL_PRESETS["hoffmann2022"]
    sc = flops(law, 2.0, 1e13)
    A = gp_conic.cone_program(sc)[0]
    dense = A.to_scipy().toarray()
    assert dense.shape == A.shape
    for j in range(A.shape[1]):
        rows = A.indices[A.indptr[j]:A.indptr[j + 1]]
        assert list(rows) == sorted(rows)
        np.testing.assert_array_equal(dense[rows, j], A.data[A.indptr[j]:A.indptr[j + 1]])
    assert np.count_nonzero(dense) == len(A.data)
    want = gp_conic.solve_gp(sc)
    real = clarabel.DefaultSolver

    def scipy_only(P, q, A, *rest):
        if not isinstance(A, sp.csc_matrix):
            raise TypeError("argument 'A': expected a scipy.sparse.csc_matrix")
        return real(P, q, A, *rest)

    monkeypatch.setattr(clarabel, "DefaultSolver", scipy_only)
    gp_conic._solve_memo.cache_clear()
    got = gp_conic.solve_gp(sc)
    assert got.objective == want.objective and got.params == want.params


def test_solutions_are_remembered_per_scenario(monkeypatch):
    """The choice analyses re-read each configuration's optimum: the second read solves
    nothing; an equal scenario built anew is the same key."""
    law = ALL_PRESETS["epoch2024"]
    calls = []
    real = gp_conic._clarabel
    monkeypatch.setattr(gp_conic, "_clarabel", lambda *a: calls.append(1) or real(*a))
    first = gp_conic.solve_gp(flops(law, 2.1, 1e13))
    again = gp_conic.solve_gp(flops(law, 2.1, 1e13))
    assert len(calls) == 1 and again == first
    other = gp_conic.solve_gp(flops(law, 2.1, 1e14))
    assert len(calls) == 2 and other.params < first.params


PROBE = r"""
import json, sys
from planner.cli.app import run_cli
code = run_cli(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in ("cvxpy", "scipy", "clarabel")
                                            if m in sys.modules]}))
"""


@pytest.mark.parametrize("args, loaded", [
    (["examples/chinchilla-flops.yaml"], []),
    (["examples/chinchilla-flops.yaml", "--solver", "gp"], ["clarabel"]),
    (["examples/code-model.yaml", "--solver", "gp"], ["clarabel"]),
])
def test_optimize_imports_neither_cvxpy_nor_scipy(args, loaded):
    """``planner optimize`` loads no solver library; ``--solver gp`` loads Clarabel only
    (cvxpy is the oracle and the fall-back of a solve that ends without a verdict)."""
    res = subprocess.run([sys.executable, "-c", PROBE, "optimize", *args, "--json"],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out == {"code": 0, "loaded": loaded}


def test_gp_matches_the_oracle_on_a_roofline_dollar_objective():
    """The decode roofline is a max of posynomials (an epigraph variable per item): dollars
    with a 16-bit and an 8-bit configuration, the GP against the oracle and the 1-D solver."""
    text = CHAT.replace("max_time_per_output_token_ms: 30", "max_time_per_output_token_ms: 40")
    problem = prepare(load_budget(text))
    multi = [c for c in problem.candidates
             if any(len(it.alternatives) > 1 for it in c.scenario.objective)]
    assert multi
    for cand in multi[:3]:
        assert_agree(replace(cand.scenario))


def test_the_check_of_a_gp_plan_is_the_stacked_1d_solve():
    """``--solver gp --check``: the second solve is the 1-D solver's one stacked batch (the
    same answer as the default solve, bit for bit), and agrees with the GP to 1e-6."""
    problem = prepare(load_budget(EXAMPLES / "chat-assistant.yaml"))
    other, k = solve_candidates(problem, "gp", check=True)
    ref, kr = solve_candidates(problem, "iso_loss")
    assert other.solver == "iso_loss" and k == kr
    assert (other.params, other.tokens, other.objective) == (ref.params, ref.tokens,
                                                             ref.objective)
    plan = optimize(EXAMPLES / "chat-assistant.yaml", solver="gp", check=True)
    cross = plan.diagnostics["cross_check"]
    assert cross["solver"] == "iso_loss" and cross["objective_rel_diff"] < 1e-6
