"""Budget → Scenario → solver → Plan.  Both solvers return the same ``Solution``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Union

import numpy as np

from planner.budget import Budget, load_budget
from planner.errors import InfeasibleError, InputError
from planner.laws import Law
from planner.optimize.build import Candidate, build_candidates, resolve_law, target_loss
from planner.optimize.scenario import Scenario, Solution, stack_scenarios
from planner.plan import PlanPoint, PlanResult, extrapolation_warnings, law_summary
from planner.terms import compute_optimal_point

SOLVERS = ("gp", "iso_loss")


@dataclass(frozen=True)
class Problem:
    """A budget resolved into its law, target loss and candidate configurations (one
    Scenario each: weight bits × draft length × GPUs per replica; one for FLOPs budgets)."""

    budget: Budget
    law: Law
    target_loss: float
    candidates: tuple[Candidate, ...]

    @property
    def scenario(self) -> Scenario:
        """The scenario of a budget with one configuration (ValueError when there are several:
        use ``optimize``, or ``candidates``)."""
        if len(self.candidates) != 1:
            raise ValueError(f"budget has {len(self.candidates)} discrete configurations; "
                             "use optimize() or Problem.candidates")
        return self.candidates[0].scenario

    @property
    def stackable(self) -> Scenario:
        """All candidates stacked into one batch Scenario (same structure)."""
        return stack_scenarios(c.scenario for c in self.candidates)


def prepare(budget: Budget) -> Problem:
    law = resolve_law(budget)
    if law.form == "data-constrained" and budget.data is not None:
        law = law.with_unique_tokens(budget.data.unique_tokens)
    loss = target_loss(budget, law)
    return Problem(budget, law, loss, tuple(build_candidates(budget, law, loss)))


def solve_candidates(problem: Problem, solver: str = "iso_loss") -> tuple[Solution, int]:
    """Solve every candidate (one batch for ``iso_loss``, a loop for ``gp``) and return the
    cheapest feasible solution with its index.  Ties go to the earlier candidate (more bits,
    no speculation, fewer GPUs)."""
    cands = problem.candidates
    if len(cands) == 1:
        return solve(cands[0].scenario, solver), 0
    if solver == "iso_loss":
        from planner.optimize.iso_loss import solve_iso_loss

        batch = solve_iso_loss(problem.stackable)
        obj = np.where(batch.status == "optimal", batch.objective, np.inf)
        k = int(np.argmin(obj))
        if not np.isfinite(obj[k]):
            return Solution(np.nan, np.nan, np.nan, "infeasible", "iso_loss",
                            message=batch.message, binding=batch.binding), 0
        sol = Solution(float(batch.params[k]), float(batch.tokens[k]), float(batch.objective[k]),
                       "optimal", "iso_loss", diagnostics={**batch.diagnostics,
                                                           "candidates": len(cands)})
        sc = cands[k].scenario
        active = tuple(c.name for c in sc.constraints
                       if abs(float(c.slack(sol.params, sol.tokens))) < 1e-6)
        return Solution(sol.params, sol.tokens, sol.objective, "optimal", "iso_loss",
                        active=active, diagnostics=sol.diagnostics), k
    sols = [solve(c.scenario, solver) for c in cands]
    obj = [s.objective if s.status == "optimal" else np.inf for s in sols]
    k = int(np.argmin(obj))
    if not np.isfinite(obj[k]):
        binding = []
        for s in sols:
            binding += [b for b in s.binding if b not in binding]
        return Solution(np.nan, np.nan, np.nan, "infeasible", solver,
                        message="constraints cannot all hold: " + ", ".join(binding),
                        binding=tuple(binding)), 0
    best = sols[k]
    return Solution(best.params, best.tokens, best.objective, best.status, best.solver,
                    best.message, best.active, best.binding,
                    {**best.diagnostics, "candidates": len(cands)}), k


def solve(scenario: Scenario, solver: str = "iso_loss") -> Solution:
    """Solve a scenario with ``'gp'`` (cvxpy DGP) or ``'iso_loss'`` (vectorised 1-D)."""
    if solver == "gp":
        from planner.optimize.gp import solve_gp

        return solve_gp(scenario)
    if solver == "iso_loss":
        from planner.optimize.iso_loss import solve_iso_loss

        return solve_iso_loss(scenario)
    raise InputError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")


def chinchilla_point(scenario: Scenario) -> tuple[float, float]:
    """Compute-optimal (N, D) at the scenario's loss, inference ignored (REFERENCE §4, x0)."""
    return compute_optimal_point(scenario.loss)


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
        constraints[c.name] = {
            "value": value, "limit": float(c.limit), "slack": slack,
            "active": abs(slack) < 1e-5, "description": c.description,
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
                 "served_loss": loss + penalty, "configuration": cm.config.label()}
        from planner.training.plan import training_plan
        extra["training_plan"] = training_plan(problem.budget, cm, params, tokens).to_dict()
        spec = speculative_summary(cm, params, tokens)
        if spec is not None:
            extra["speculative"] = spec
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


def baseline_candidate(problem: Problem, params: float, tokens: float) -> Candidate:
    """How the Chinchilla-optimal baseline is costed: 16-bit weights, no speculation, the
    fewest GPUs per replica that hold it (among the budget's candidates when possible)."""
    cands = problem.candidates
    if len(cands) == 1 or cands[0].config is None:
        return cands[0]
    plain = [c for c in cands if c.config.weight_bits == 16 and c.config.gamma == 0]
    if not plain:
        from dataclasses import replace as _r

        from planner.costs.model import ServingConfig, build_cost_model

        cm0 = cands[0].cost_model
        plain = []
        g = 1
        while g <= max(64, cm0.serve.max_gpus_per_replica):
            cm = build_cost_model(problem.budget, ServingConfig(16, 0, g), cm0.train_hw,
                                  cm0.serve_hw)
            plain.append(Candidate(_r(cands[0].scenario, loss_extra=()), cm.config, cm))
            g *= 2
    for c in sorted(plain, key=lambda c: c.config.gpus_per_replica):
        if float(c.cost_model.memory.value(params, tokens)) <= c.cost_model.memory_limit_bytes:
            return c
    return plain[-1]


def optimize(budget: Union[Budget, str, Path, dict], solver: str | None = None,
             check: bool = False, uncertainty: bool | None = None) -> PlanResult:
    """Plan the model that minimises lifetime cost at the budget's target loss.

    ``solver``: ``'iso_loss'`` (default for ``auto``), or ``'gp'``.  ``check=True`` also runs
    the other solver and records their relative difference in ``diagnostics``.
    ``uncertainty`` (default: the budget's ``uncertainty:`` key) adds ``plan.uncertainty``: the
    spread of the optimum over the law's bootstrap samples and the point plan's expected regret.
    Raises ``InfeasibleError`` (exit 3) when the target or the constraints cannot hold.
    """
    if not isinstance(budget, Budget):
        budget = load_budget(budget)
    problem = prepare(budget)
    name = solver or budget.solver
    name = "iso_loss" if name == "auto" else name
    if problem.law.form == "data-constrained" and problem.law.unique_tokens is not None:
        from planner.optimize.data_constrained import solve_data_constrained

        sol = solve_data_constrained(problem)
        best = sol.diagnostics.get("candidate", 0)
    else:
        sol, best = solve_candidates(problem, name)
    if sol.status != "optimal":
        raise InfeasibleError(
            f"{budget.where('constraints')}: {sol.message or 'infeasible'}"
            + (f" (target loss {problem.target_loss:.4g})" if sol.binding else ""),
            binding=sol.binding,
        )
    result = plan_result(problem, sol, best)
    diagnostics: dict[str, Any] = dict(result.diagnostics)
    if check:
        other, _ = solve_candidates(problem, "gp" if name == "iso_loss" else "iso_loss")
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
    return replace(result, plan=plan, diagnostics=diagnostics)


def plan_result(problem: Problem, sol: Solution, best: int) -> PlanResult:
    """The ``PlanResult`` of an optimal solution of candidate ``best``: the plan, the
    Chinchilla-optimal baseline costed beside it, and the warnings."""
    budget = problem.budget
    plan = evaluate(problem, sol.params, sol.tokens, best)
    if "epochs" in sol.diagnostics:  # data-constrained plans: repeated data
        keys = ("epochs", "unique_tokens", "effective_tokens", "effective_params")
        plan = replace(plan, extra={**plan.extra, **{k: sol.diagnostics[k] for k in keys}})
    n0, d0 = chinchilla_point(problem.candidates[0].scenario)
    baseline = evaluate(problem, n0, d0, baseline_candidate(problem, n0, d0))
    warnings = extrapolation_warnings(problem.law, plan.params, plan.train_tokens)
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
    warnings += [w for w in plan.extra.get("training_plan", {}).get("warnings", ())
                 if w not in warnings]
    if sol.message:
        warnings.append(sol.message)
    return PlanResult(
        status="optimal", solver=sol.solver,
        objective_unit=problem.candidates[best].scenario.objective_unit,
        target_loss=problem.target_loss, law=law_summary(problem.law), plan=plan,
        baseline=baseline, message=sol.message, active_constraints=sol.active,
        warnings=tuple(warnings), budget_name=budget.name or budget.source,
        diagnostics=dict(sol.diagnostics),
    )


def optimize_batch(law: Law, target_loss, inference_tokens) -> dict[str, np.ndarray]:
    """Vectorised FLOPs plans for arrays of target losses and lifetime inference tokens.

    For capacity tools: one call, arrays in, arrays out (keys as in ``PlanPoint``, base units).
    Entries whose target is at or below the law's irreducible loss come back NaN.
    """
    from planner.optimize.build import flops_items
    from planner.optimize.iso_loss import solve_iso_loss

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


__all__ = ["Problem", "Candidate", "optimize", "optimize_batch", "prepare", "solve",
           "solve_candidates", "evaluate", "chinchilla_point", "SOLVERS"]
