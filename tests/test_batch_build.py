"""Every configuration of a budget built as one batch (``CandidateBuilder.batch``): one cost
model per group of configurations that share every branch of the cost formulas, with their
weight bits, γ and GPUs per replica as arrays.  The batch must hold the same numbers as
building each configuration on its own and stacking them, and ``optimize()`` (which solves the
batch and builds only the configurations its plan reads) must give the plan of the eager path
(every configuration built on its own), field for field."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stacked_sweep import (  # the eager oracle, field-for-field
    assert_same_plan,
    eager,
)

from planner.budget import budget_from_data, load_budget
from planner.optimize import optimize, prepare
from planner.optimize.align import align_candidates
from planner.optimize.build import CandidateBuilder, resolve_law, target_loss
from planner.optimize.plans import optimize_problem
from planner.optimize.scenario import stack_scenarios
from planner.terms import uniform

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HARDWARE_EXAMPLES = ["chat-assistant", "code-model", "downstream-target", "on-device",
                     "which-draft", "which-gpu"]


def entries(sc) -> list:
    """Every number a solver reads from a batch scenario, by name, alternative and term, with
    its exponents."""
    p = sc.loss
    out = [("loss", None, None, p.E), ("loss", None, None, p.A), ("loss", None, None, p.alpha),
           ("loss", None, None, p.B), ("loss", None, None, p.beta), ("loss", None, None, p.limit)]
    for it in sc.objective:
        out += [(it.name, a, (t.n_exp, t.d_exp), t.coef)
                for a, alt in enumerate(it.alternatives) for t in alt]
    for c in sc.constraints:
        out.append((c.name, "limit", None, c.limit))
        out += [(c.name, a, (t.n_exp, t.d_exp), t.coef)
                for a, alt in enumerate(c.item.alternatives) for t in alt]
    out += [("extra", None, (t.n_exp, t.d_exp), t.coef) for t in sc.loss_extra]
    return out


def assert_same_batch(budget):
    law = resolve_law(budget)
    loss = target_loss(budget, law)
    builder = CandidateBuilder(budget, law, loss)
    k = len(builder)
    ref = stack_scenarios(c.scenario for c in align_candidates(
        [builder.build(q) for q in range(k)]))
    got = CandidateBuilder(budget, law, loss).batch()
    assert got.batch_size() == ref.batch_size() == k
    a, b = entries(got), entries(ref)
    assert [x[:3] for x in a] == [x[:3] for x in b]  # same names, layout and exponents
    for (name, alt, exps, x), (_, _, _, y) in zip(a, b):
        x, y = np.broadcast_to(np.asarray(x, float), (k,)), np.broadcast_to(np.asarray(y, float),
                                                                            (k,))
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=0, err_msg=f"{name} {alt} {exps}")
    return k


def test_uniform_reads_a_branch_once_for_a_batch():
    assert uniform(True) is True and uniform(0) is False and uniform(2.5 > 1) is True
    assert uniform(np.array([3, 4, 5]) > 2) is True
    assert uniform(np.array([[1.0], [2.0]]) > 8) is False
    with pytest.raises(ValueError):
        uniform(np.array([16.0, 8.0]) > 8)


@pytest.mark.parametrize("name", HARDWARE_EXAMPLES)
def test_batch_holds_the_numbers_of_each_configuration_built_alone(name):
    k = assert_same_batch(load_budget(EXAMPLES / f"{name}.yaml"))
    assert k >= 4


@pytest.mark.parametrize("name", HARDWARE_EXAMPLES + ["chinchilla-flops"])
def test_optimize_from_the_batch_equals_the_eager_plan(name):
    path = EXAMPLES / f"{name}.yaml"
    budget = load_budget(path)
    problem = prepare(budget, lazy=True)
    if name in ("chat-assistant", "which-draft", "which-gpu"):  # 216, 600, 144 configurations
        assert problem.batch is not None  # the batch build expresses them
    got = optimize(budget, uncertainty=False)
    assert got.ok
    assert_same_plan(got, eager(budget))


SERVE = st.fixed_dictionaries({
    "hardware": st.sampled_from(["h100-sxm", "h200-sxm", "a100-80gb-sxm", "l40s",
                                 ["h100-sxm", "mi300x"]]),
    "weight_bits": st.sampled_from(["auto", 16, 8, 4]),
    "kv_bits": st.sampled_from([16, 8]),
    "compute_precision": st.sampled_from(["bf16", "fp8"]),
    "gpus_per_replica": st.sampled_from(["auto", 1, 2]),
    "max_gpus_per_replica": st.sampled_from([1, 2, 8]),
    "quantization_penalty": st.sampled_from(["ouyang2024", "kumar2024", "none"]),
    "billing": st.sampled_from(["provisioned", "busy"]),
    "speculative": st.one_of(
        st.none(),
        st.fixed_dictionaries({"acceptance": st.floats(0.3, 0.95),
                               "draft_params": st.sampled_from(["68M", "1B"]),
                               "gamma": st.sampled_from(["auto", 0, 3])}),
        st.fixed_dictionaries({"acceptance": st.floats(0.3, 0.95),
                               "draft_fraction": st.sampled_from([0.01, 0.1]),
                               "gamma": st.sampled_from(["auto", 2])})),
})


def serve_budget(serve: dict):
    data = yaml.safe_load((EXAMPLES / "chat-assistant.yaml").read_text())
    serve = {k: v for k, v in serve.items() if v is not None}
    if serve["gpus_per_replica"] != "auto":
        serve.pop("max_gpus_per_replica")
    data["serve"] = {"batch_size": 64, "max_time_per_output_token_ms": 60, **serve}
    return budget_from_data(data, None, "<generated>")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(serve=SERVE)
def test_generated_serving_blocks_batch_as_built_alone(serve):
    """Serving blocks drawn from the options that change the cost formulas' branches (bits at
    and below 8, 16-bit, a draft or none, γ = 0 or more, one GPU per replica or several, busy
    or provisioned billing, two hardware profiles)."""
    from planner.errors import PlannerError

    try:
        budget = serve_budget(serve)
    except PlannerError:
        return  # a combination the budget refuses (its message is tested elsewhere)
    try:
        prepare(budget, lazy=False)
    except PlannerError as exc:  # e.g. a precision the profile lacks: the same error
        with pytest.raises(type(exc), match=re.escape(str(exc)[:40])):
            prepare(budget, lazy=True)
        return
    assert_same_batch(budget)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(serve=SERVE)
def test_generated_serving_blocks_plan_as_the_eager_path(serve):
    from planner.errors import PlannerError

    try:
        budget = serve_budget(serve)
        ref = eager(budget)
    except PlannerError:
        return
    got = optimize(budget, uncertainty=False)
    assert got.status == ref.status
    if ref.ok:
        assert_same_plan(got, ref)
    else:
        assert got.message == ref.message


def test_a_budget_the_batch_cannot_express_is_built_config_by_config(monkeypatch):
    def refuse(self, points=1):
        raise TypeError("a formula that cannot take arrays")

    monkeypatch.setattr(CandidateBuilder, "batch", refuse)
    budget = load_budget(EXAMPLES / "chat-assistant.yaml")
    problem = prepare(budget, lazy=True)
    assert problem.batch is None and isinstance(problem.candidates, tuple)
    monkeypatch.undo()
    assert_same_plan(optimize_problem(problem, "iso_loss", uncertainty=False), eager(budget))


def off_batch(monkeypatch):
    """Make every batch's training cost half what it is (a batch build gone wrong: its
    optimum moves to a larger model trained on fewer tokens)."""
    from dataclasses import replace

    from planner.terms import CostItem, Term

    real = CandidateBuilder.batch

    def off(self, points=1):
        sc = real(self, points)
        half = lambda it: 0.5 if it.name == "train" else 1.0  # noqa: E731
        scale = lambda it: CostItem(it.name, tuple(tuple(Term(t.coef * half(it), t.n_exp,  # noqa
                                                              t.d_exp) for t in alt)
                                                    for alt in it.alternatives), it.unit)
        return replace(sc, objective=tuple(scale(it) for it in sc.objective))

    monkeypatch.setattr(CandidateBuilder, "batch", off)


def test_a_batch_that_disagrees_with_its_plan_is_solved_again_eagerly(monkeypatch):
    """The safety net: a batch whose costs are off chooses a plan whose own cost model
    disagrees with it by more than ``CHECK_RTOL``, so the problem is solved again with every
    configuration built alone: in ``optimize``, in ``optimize_many`` (a sweep's points that do
    not stack) and in the report's own plan."""
    from planner.analysis.review import build_review
    from planner.analysis.sweep import parse_vary, sweep

    path = EXAMPLES / "chat-assistant.yaml"
    budget = load_budget(path)
    off_batch(monkeypatch)
    got = optimize(budget, uncertainty=False)
    swept = sweep(path, [parse_vary("train.gpus=512,1024")])  # train.gpus does not stack
    review = build_review(budget)
    monkeypatch.undo()
    ref = eager(budget)
    assert_same_plan(got, ref)
    assert_same_plan(review.result, ref)
    assert swept.points[1].inputs == {"train.gpus": 1024}  # the budget's own value
    assert not swept.points[1].result.diagnostics.get("stacked")
    assert_same_plan(swept.points[1].result, ref)
