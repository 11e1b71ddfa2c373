"""From a solved problem to the plan people read: everything a plan reports about a model
(N, D), the baselines beside it (``planner.optimize.baselines``), warnings, the final check,
and ``optimize()``, the library's entry point."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from planner.budget import Budget, load_budget
from planner.errors import InfeasibleError
from planner.laws import Law
from planner.optimize.baselines import (
    baseline_candidate,
    chinchilla_point,
    same_options_baseline,
)
from planner.optimize.build import Candidate, flops_items
from planner.optimize.problem import Problem, agrees, prepare
from planner.optimize.scenario import Scenario, Solution
from planner.optimize.solve import SOLVERS, solve_candidates
from planner.plan import PlanPoint, PlanResult, extrapolation_warnings, law_summary
from planner.terms import compute_optimal_point


def constraint_unit(name: str, item_unit: str) -> tuple[str, float]:
    """The unit a constraint is shown in (that of its budget key) and the factor from the
    solver's base unit: ``deadline_days`` in days, latency limits in ms (the keys are
    ``*_ms``), memory in GiB, dollars in USD; counts as they are."""
    if name.startswith("deadline"):
        return "days", 1.0 / 86400.0
    if name.startswith("max_time_"):
        return "ms", 1e3
    if item_unit == "bytes":
        return "GiB", 1.0 / 2**30
    if item_unit == "seconds":
        return "seconds", 1.0
    if item_unit in ("ratio", "params⁻¹") or name.endswith("params_min") or name == "min_params":
        return "ratio", 1.0
    return item_unit, 1.0


def evaluate(problem: Problem, params: float, tokens: float,
             candidate: Candidate | int | None = None) -> PlanPoint:
    """Everything a plan reports about the model (N, D), from the candidate's cost terms
    (default: the first candidate, the only one of a budget without discrete choices)."""
    if candidate is None:
        candidate = 0
    if isinstance(candidate, int):
        candidate = problem.candidates[candidate]
    sc = candidate.scenario
    items = {it.name: float(it.value(params, tokens)) for it in sc.objective}
    inference_tokens = problem.budget.inference.total_tokens
    train_flops = 6.0 * params * tokens
    inference_flops = 2.0 * params * inference_tokens
    constraints = {}
    for c in sc.constraints:
        value = float(c.item.value(params, tokens))
        slack = 1.0 - value / float(c.limit)
        unit, scale = constraint_unit(c.name, c.item.unit)
        constraints[c.name] = {
            "value": value, "limit": float(c.limit), "slack": slack,
            "active": abs(slack) < 1e-5, "description": c.description,
            "unit": unit, "value_in_unit": value * scale, "limit_in_unit": float(c.limit) * scale,
        }
    costs, serving, extra = {}, {}, {}
    cm = candidate.cost_model
    loss = float(problem.law.loss(params, tokens))
    if cm is not None:
        from planner.costs.evaluate import (
            cost_breakdown,
            serving_metrics,
            speculative_summary,
        )

        costs = cost_breakdown(cm, params, tokens)
        serving = serving_metrics(cm, params, tokens)
        penalty = sum(float(t.value(params, tokens)) for t in sc.loss_extra)
        extra = {"weight_bits": cm.config.weight_bits, "loss_penalty": penalty,
                 "served_loss": loss + penalty, "configuration": candidate.label()}
        from planner.training.plan import training_plan

        extra["training_plan"] = training_plan(problem.budget, cm, params, tokens).to_dict()
        from planner.costs.energy import energy_by_phase

        extra["energy"] = energy_by_phase(cm, params, tokens)
        spec = speculative_summary(cm, params, tokens)
        if spec is not None:
            extra["speculative"] = spec
    extra.update(problem.law.plan_details(params, tokens))
    return PlanPoint(
        params=float(params),
        train_tokens=float(tokens),
        tokens_per_param=float(tokens / params),
        loss=loss,
        train_flops=train_flops,
        inference_flops=inference_flops,
        total_flops=train_flops + inference_flops,
        objective=float(sc.objective_value(params, tokens)),
        items=items,
        costs=costs,
        serving=serving,
        constraints=constraints,
        extra=extra,
    )


def plan_candidate(problem: Problem, result: PlanResult) -> Candidate:
    """The candidate configuration a result's plan uses (by its configuration's values:
    weight bits, γ, GPUs per replica, hardware and draft names)."""
    conf = result.configuration
    if conf is not None:
        for c in problem.candidates:
            mine = c.configuration()
            if mine is not None and all(mine.get(k) == v for k, v in conf.items()):
                return c
    return problem.candidates[0]


SOLVE = "solve"  # plan_result's same-options baseline: find it here


def plan_result(problem: Problem, sol: Solution, best: int,
                optima: Optional[tuple] = None, same_options: Any = SOLVE) -> PlanResult:
    """The ``PlanResult`` of an optimal solution of candidate ``best``: the plan, the
    Chinchilla-optimal baseline costed beside it (on the plan's hardware), the warnings, and,
    when the budget lists hardware or drafts to choose from, each option's best plan
    (``alternatives``; ``optima``: each candidate's optimum, to avoid solving again).
    ``same_options``: the same-options baseline ``(N, D, candidate)`` (or None) when the
    caller found it already (``same_options_baseline``; a sweep does it for all its points)."""
    from planner.optimize.choices import alternatives

    budget = problem.budget
    plan = evaluate(problem, sol.params, sol.tokens, best)
    n0, d0 = chinchilla_point(problem.candidates[0].scenario)
    chosen = problem.candidates[best]
    plain = evaluate(problem, n0, d0, baseline_candidate(problem, n0, d0, chosen))
    same = (same_options_baseline(problem, chosen) if same_options is SOLVE
            else same_options)
    baseline = evaluate(problem, *same) if same is not None else plain
    warnings = extrapolation_warnings(problem.law, plan.params, plan.train_tokens)
    if getattr(budget.target, "downstream", None) is not None:
        from planner.laws.downstream import downstream_notes

        warnings += downstream_notes(problem)
    violated = [k for k, c in baseline.constraints.items() if c["slack"] < -1e-9]
    if violated:
        warnings.append("baseline (Chinchilla-optimal) model violates: " + ", ".join(violated))
    bits = plan.extra.get("weight_bits", 16)
    serve = budget.serve
    if bits < 16 and serve is not None and serve.quantization_penalty != "none":
        from planner.laws.quantization import PENALTIES

        pen = PENALTIES[serve.quantization_penalty]
        if pen.extrapolating(plan.params, bits):
            warnings.append(f"plan: the {pen.name} quantisation penalty was fitted on "
                            f"{pen.fitted_params[0]:.2g}-{pen.fitted_params[1]:.2g} parameters "
                            f"and {pen.fitted_bits[0]}-{pen.fitted_bits[1]} bits; "
                            f"{bits}-bit at {plan.params:.3g} parameters extrapolates")
    warnings += [w for w in (plan.extra.get("training_plan") or {}).get("warnings", ())
                 if w not in warnings]
    if sol.message:
        warnings.append(sol.message)
    result = PlanResult(
        status="optimal", solver=sol.solver,
        objective_unit=problem.candidates[best].scenario.objective_unit,
        target_loss=problem.target_loss, law=law_summary(problem.law), plan=plan,
        baseline=baseline, message=sol.message, active_constraints=sol.active,
        warnings=tuple(warnings), budget_name=budget.name or budget.source,
        diagnostics=dict(sol.diagnostics),
        configuration=chosen.configuration(),
        alternatives=tuple(alternatives(problem, best, sol.solver or "iso_loss", optima)),
        baseline_plain=plain,
    )
    return checked(result)


def agrees_with_batch(problem: Problem, sol: Solution, result: PlanResult) -> bool:
    """Whether the plan of a problem built as one batch (``Problem.batch``) costs, from its
    own configuration's cost model, what the batch solve that chose it says (``CHECK_RTOL``);
    True for other problems and results without a plan.  Where it does not, plan
    ``problem.eager()`` instead."""
    return problem.batch is None or not result.ok or agrees(result.plan.objective, sol.objective)


def checked(result: PlanResult) -> PlanResult:
    """``result``, or, when the final check refuses its plan (a non-finite quantity, fewer than
    one parameter or token, the loss target missed: ``planner.optimize.checks``), a result with
    status ``failed_check`` and the reason.  Every path to a printed plan (optimize, sweeps,
    comparisons, reports) goes through it."""
    from planner.errors import SolverError
    from planner.optimize.checks import check_plan

    try:
        check_plan(result)
    except SolverError as exc:
        return PlanResult.failed("failed_check", str(exc), solver=result.solver,
                                 objective_unit=result.objective_unit,
                                 target_loss=result.target_loss, law=result.law,
                                 budget_name=result.budget_name)
    return result


def failed_result(problem: Problem, status: str, message: str,
                  binding: tuple[str, ...] = (), solver: str = "") -> PlanResult:
    budget = problem.budget
    return PlanResult.failed(
        status, message, solver=solver, objective_unit=problem.candidates[0].scenario
        .objective_unit, target_loss=problem.target_loss, law=law_summary(problem.law),
        binding=binding, budget_name=budget.name or budget.source)


def solver_name(budget: Budget, solver: Optional[str]) -> str:
    name = solver or budget.solver
    return "iso_loss" if name == "auto" else name


def optimize_problem(problem: Problem, solver: str = "iso_loss", check: bool = False,
                     uncertainty: bool | None = None) -> PlanResult:
    """Solve a prepared problem into a ``PlanResult`` (any status; never raises for an
    infeasible or unsupported problem)."""
    budget = problem.budget
    if solver not in SOLVERS:
        from planner.errors import InputError

        raise InputError(f"--solver {solver}: unknown solver; choose one of "
                         f"{', '.join(SOLVERS)}")
    if solver == "gp" and not problem.posynomial:
        law = problem.law
        return failed_result(
            problem, "unsupported",
            f"{budget.where('law')}: --solver gp: law {law.name} ({law.form}"
            + (", repeated data" if getattr(law, "repeats_data", False) else "")
            + ") is not a posynomial, so no geometric program expresses it; "
            "use --solver iso_loss", solver="gp")
    kept = None
    if solver == "iso_loss":
        from planner.optimize.choices import solve_with_optima

        kept = solve_with_optima(problem)  # open hardware/draft choices: keep every optimum
    if kept is not None:
        sol, best, optima = kept
    else:
        (sol, best), optima = solve_candidates(problem, solver), None
    if sol.status != "optimal":
        from planner.optimize.choices import infeasible_choices

        message = (f"{budget.where('constraints')}: {sol.message or 'infeasible'}"
                   + (f" (target loss {problem.target_loss:.4g})" if sol.binding else ""))
        per_choice = infeasible_choices(problem, solver)
        if per_choice:
            message += f"; no choice is feasible: {per_choice}"
        return failed_result(problem, "infeasible", message, sol.binding, sol.solver)
    result = plan_result(problem, sol, best, optima)
    if not agrees_with_batch(problem, sol, result):  # the batch was off: build each one
        return optimize_problem(problem.eager(), solver, check, uncertainty)
    if not result.ok:  # refused by the final check
        return result
    diagnostics: dict[str, Any] = dict(result.diagnostics)
    if check:
        other, _ = solve_candidates(problem, solver, check=True)
        diagnostics["cross_check"] = {
            "solver": other.solver,
            "params_rel_diff": abs(other.params / sol.params - 1.0),
            "objective_rel_diff": abs(other.objective / sol.objective - 1.0),
        }
    plan = result.plan
    want_uncertainty = budget.uncertainty is not None if uncertainty is None else uncertainty
    if want_uncertainty:
        from planner.analysis.uncertainty import plan_uncertainty

        spec = budget.uncertainty
        report = plan_uncertainty(problem, sol, samples=spec.samples if spec else 1000,
                                  seed=spec.seed if spec else 0, candidate=best)
        plan = replace(plan, extra={**plan.extra, "uncertainty": report})
        # the uncertainty block is new to the plan: check the plan as it will be printed
        return checked(replace(result, plan=plan, diagnostics=diagnostics))
    return replace(result, plan=plan, diagnostics=diagnostics)


def optimize(budget: Union[Budget, str, Path, dict], solver: str | None = None,
             check: bool = False, uncertainty: bool | None = None) -> PlanResult:
    """Plan the model that minimises lifetime cost at the budget's target loss.

    ``solver``: ``'iso_loss'`` (default for ``auto``), or ``'gp'``.  ``check=True`` also runs
    an independent second solve and records the relative difference in ``diagnostics``.
    ``uncertainty`` (default: the budget's ``uncertainty:`` key) adds ``plan.uncertainty``.
    Returns a ``PlanResult`` whose ``status`` says whether a plan exists (``optimal``,
    ``infeasible``, ``unsupported``); ``result.raise_for_status()`` raises for the others.
    Raises ``InputError`` for a budget that does not validate.
    """
    if not isinstance(budget, Budget):
        budget = load_budget(budget)
    name = solver_name(budget, solver)
    try:
        problem = prepare(budget, lazy=True)
    except InfeasibleError as exc:
        return PlanResult.failed("infeasible", str(exc), solver=name, binding=exc.binding,
                                 objective_unit=budget.objective,
                                 budget_name=budget.name or budget.source)
    return optimize_problem(problem, name, check, uncertainty)


def optimize_batch(law: Law, target_loss, inference_tokens) -> dict[str, np.ndarray]:
    """Vectorised FLOPs plans for arrays of target losses and lifetime inference tokens.

    For capacity tools: one call, arrays in, arrays out (keys as in ``PlanPoint``, base units).
    Entries whose target is at or below the law's irreducible loss come back NaN.  The law
    must be a posynomial (``law.is_posynomial``).
    """
    from planner.optimize.iso_loss import solve_iso_loss

    if not law.is_posynomial:
        from planner.errors import InputError

        raise InputError(f"optimize_batch: law {law.name} is not a posynomial; "
                         "plan it with optimize()")
    loss = np.asarray(target_loss, dtype=float)
    tokens = np.asarray(inference_tokens, dtype=float)
    loss, tokens = np.broadcast_arrays(loss, tokens)
    ok = loss > law.irreducible_loss
    safe_loss = np.where(ok, loss, law.irreducible_loss + 1.0)
    sc = Scenario(loss=law.posynomial(safe_loss), objective=flops_items(tokens))
    sol = solve_iso_loss(sc)
    n = np.where(ok, sol.params, np.nan)
    d = np.where(ok, sol.tokens, np.nan)
    train = 6.0 * n * d
    inference = 2.0 * n * tokens
    n0, d0 = compute_optimal_point(sc.loss)
    n0, d0 = np.where(ok, n0, np.nan), np.where(ok, d0, np.nan)
    base_total = 6.0 * n0 * d0 + 2.0 * n0 * tokens
    return {
        "params": n, "train_tokens": d, "tokens_per_param": d / n,
        "train_flops": train, "inference_flops": inference, "total_flops": train + inference,
        "baseline_params": n0, "baseline_train_tokens": d0, "baseline_total_flops": base_total,
        "savings_flops": base_total - (train + inference),
        "status": np.where(ok, "optimal", "infeasible"),
    }
