"""One-at-a-time sensitivity of the plan (the tornado chart): each law constant, the training
MFU, the GPU prices and the inference demand moved by ±x% (default 20%), the plan re-solved.

Law constants are perturbed on the resolved law (``law.with_constants``) and the scenarios are
rebuilt with the new loss constraint; a target given as ``match:`` is re-evaluated under the
perturbed law (same reference model), a target given as ``loss:`` is kept.  MFU, prices and demand
are perturbed in the budget's YAML and re-validated.  Budgets with several discrete serving
configurations keep the plan's configuration (the one ``optimize`` chose); re-choosing it could
only lower a perturbed cost further.  All perturbed problems are solved in one stacked batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from planner.budget import Budget, load_budget
from planner.errors import InfeasibleError, PlannerError

LAW_LABELS = {
    "E": "E (irreducible loss)", "A": "A (parameter term)", "B": "B (data term)",
    "alpha": "α (exponent on N)", "beta": "β (exponent on D)",
    "alpha_N": "α_N", "alpha_D": "α_D", "N_c": "N_c", "D_c": "D_c",
}


@dataclass(frozen=True)
class Outcome:
    """The re-solved plan at one perturbed value (None fields: infeasible, see ``note``)."""

    value: float
    params: Optional[float] = None
    train_tokens: Optional[float] = None
    objective: Optional[float] = None
    note: str = ""

    @property
    def feasible(self) -> bool:
        return self.params is not None


@dataclass(frozen=True)
class SensitivityRow:
    name: str  # 'law.alpha', 'train.mfu', 'train.price', 'serve.price', 'inference.demand'
    label: str
    unit: str
    base_value: float
    low: Outcome
    high: Outcome

    def change(self, metric: str, base: float) -> tuple[Optional[float], Optional[float]]:
        """Relative change of ``metric`` ('params', 'objective', ...) at low and high."""
        out = []
        for o in (self.low, self.high):
            v = getattr(o, metric)
            out.append(None if v is None else v / base - 1.0)
        return out[0], out[1]

    def span(self, metric: str, base: float) -> float:
        lo, hi = self.change(metric, base)
        vals = [abs(v) for v in (lo, hi) if v is not None]
        return max(vals) if vals else float("inf")


@dataclass(frozen=True)
class Sensitivity:
    fraction: float
    objective_unit: str
    base: Outcome
    rows: tuple[SensitivityRow, ...]
    configuration: Optional[str] = None
    notes: tuple[str, ...] = ()

    def sorted_rows(self, metric: str = "objective") -> list[SensitivityRow]:
        base = getattr(self.base, metric)
        return sorted(self.rows, key=lambda r: -r.span(metric, base))

    def to_dict(self) -> dict[str, Any]:
        def o(x: Outcome) -> dict:
            return {"value": x.value, "params": x.params, "train_tokens": x.train_tokens,
                    "objective": x.objective, "note": x.note}

        return {
            "fraction": self.fraction, "objective_unit": self.objective_unit,
            "configuration": self.configuration, "base": o(self.base),
            "rows": [{"name": r.name, "label": r.label, "unit": r.unit,
                      "base_value": r.base_value, "low": o(r.low), "high": o(r.high)}
                     for r in self.rows],
            "notes": list(self.notes),
        }


def sensitivity(budget: Budget | str | dict, fraction: float = 0.2,
                solver: Optional[str] = None, problem=None, result=None,
                law_by: str = "standard_error") -> Sensitivity:
    """Re-solve the plan with each input at ×(1 − fraction) and ×(1 + fraction); the law's
    constants at ± one standard error where the law has them (``law_by='standard_error'``:
    a fitted law's bootstrap or a preset's published errors; ±20% of an exponent is not a
    plausible change), else ±fraction (``law_by='fraction'`` always).

    ``problem`` and ``result`` (the prepared budget and its ``optimize`` result) save solving
    the base plan again."""
    from planner.budget.edit import budget_data, scale_demand, set_field
    from planner.optimize import plan_candidate, prepare, solve_candidates
    from planner.optimize.batch import solve_problems

    if not 0 < fraction < 1:
        raise ValueError("fraction must be in (0, 1)")
    if not isinstance(budget, Budget):
        budget = load_budget(budget)
    problem = problem or prepare(budget)
    name = solver or budget.solver
    name = "iso_loss" if name == "auto" else name
    if result is not None:
        from planner.optimize.scenario import Solution

        best = problem.candidates.index(plan_candidate(problem, result))
        base_sol = Solution(result.plan.params, result.plan.train_tokens,
                            result.plan.objective, "optimal", result.solver)
    else:
        outcome = solve_problems([problem]) if name == "iso_loss" else None
        if outcome is not None and outcome.solutions[0] is not None:
            base_sol, best = outcome.solutions[0]
        else:
            base_sol, best = solve_candidates(problem, name)
            if base_sol.status != "optimal":
                raise InfeasibleError(f"{budget.where('constraints')}: {base_sol.message}",
                                      binding=base_sol.binding)
    chosen = problem.candidates[best]
    config = chosen.config
    fixed = len(problem.candidates) > 1
    notes = []
    if fixed:
        notes.append(f"serving configuration held at the plan's choice ({chosen.label()})")
    base_problem = problem.restricted(best) if fixed else problem
    unit = problem.candidates[best].scenario.objective_unit
    base = Outcome(1.0, float(base_sol.params), float(base_sol.tokens),
                   float(base_sol.objective))

    # (name, label, unit, base value, low value, high value, problem_low, problem_high)
    specs: list[tuple] = []
    law = problem.law
    from planner.analysis.uncertainty import standard_errors

    se = standard_errors(law) if law_by == "standard_error" else None
    if se is not None:
        notes.append(f"law constants varied by ± one standard error ({se[1]})")
    else:
        notes.append(f"law constants varied by ±{100 * fraction:g}% (no standard errors known "
                     f"for law {law.name})")
    if budget.target.match is not None:
        notes.append("E cancels under a match: target (the reference model's loss moves with "
                     "it), so its bar is empty")
    for key, value in law.constants().items():
        pair = []
        steps = ((-se[0][key], se[0][key]) if se is not None and key in se[0]
                 else (value * -fraction, value * fraction))
        for step in steps:
            v = value + step
            try:
                pair.append((v, base_problem.with_law(law.with_constants(**{key: v}))))
            except InfeasibleError as exc:
                pair.append((v, _short(exc)))
        specs.append((f"law.{key}", LAW_LABELS.get(key, key), "", value, *pair))

    data, marks, where = budget_data(budget)
    if fixed:  # the budget narrowed to the plan's configuration: prices of its hardware
        data = pin_configuration(data, chosen)  # alone, and one cost model per perturbation

    def varied(new_data) -> Any:
        from planner.budget import budget_from_data

        try:
            p = prepare(budget_from_data(new_data, marks, where))
        except PlannerError as exc:
            return _short(exc)
        if fixed:
            k = next((i for i, c in enumerate(p.candidates)
                      if c.configuration() == chosen.configuration()), None)
            return p.restricted(k) if k is not None else "configuration not available"
        return p

    def perturb(label, uname, base_value, make, name_, cap=None):
        pair = []
        for s in (-fraction, fraction):
            v = base_value * (1 + s)
            if cap is not None:
                v = min(v, cap)
            pair.append((v, varied(make(v))))
        specs.append((name_, label, uname, base_value, *pair))

    if budget.uses_hardware:
        cm = problem.candidates[best].cost_model
        perturb("training MFU", "", cm.train.mfu,
                lambda v: set_field(data, "train.mfu", v, budget), "train.mfu", cap=1.0)
        for head, hw in (("train", cm.train_hw), ("serve", cm.serve_hw)):
            perturb(f"{head} GPU price ({hw.name})", "USD/GPU-hour", hw.price_usd_per_hour,
                    lambda v, h=head: set_field(data, f"{h}.hardware.price_usd_per_hour", v,
                                                budget), f"{head}.price")
        if unit in ("flops",):
            notes.append("MFU and prices do not enter a FLOPs objective (only constraints)")
    else:
        notes.append("no MFU or price rows: a FLOPs-only budget has no hardware")
    demand = budget.inference.total_tokens
    if demand > 0:
        perturb("inference demand", "tokens", demand,
                lambda v: scale_demand(data, budget, v / demand), "inference.demand")

    flat = [p for spec in specs for _, p in spec[4:6]]
    solved = _solve_all([p if not isinstance(p, str) else None for p in flat], name)
    rows = []
    for i, (nm, label, uname, base_value, lo, hi) in enumerate(specs):
        outs = []
        for (v, p), res in zip((lo, hi), solved[2 * i:2 * i + 2]):
            if isinstance(p, str):
                outs.append(Outcome(v, note=p))
            elif isinstance(res, str):
                outs.append(Outcome(v, note=res))
            else:
                outs.append(Outcome(v, float(res.params), float(res.tokens),
                                    float(res.objective)))
        rows.append(SensitivityRow(nm, label, uname, float(base_value), outs[0], outs[1]))
    return Sensitivity(fraction, unit, base, tuple(rows),
                       chosen.label() if config is not None else None, tuple(notes))


def pin_configuration(data: dict, candidate) -> dict:
    """A budget's YAML dict narrowed to one candidate configuration: its hardware and draft
    (``pin_choices``) and its weight bits, γ and GPUs per replica in place of ``auto``, so
    that preparing it builds that one configuration instead of every combination (the
    perturbed plans hold the configuration anyway).  The candidate's cost terms are those of
    the full budget's (tests/test_sensitivity.py checks the re-solved plans to 1e-9)."""
    from planner.optimize.choices import pin_choices

    out = pin_choices(data, candidate)
    config = candidate.config
    if config is None:
        return out
    serve = dict(out.get("serve") or {})
    serve["weight_bits"] = config.weight_bits
    serve["gpus_per_replica"] = config.gpus_per_replica
    if isinstance(serve.get("speculative"), dict):
        serve["speculative"] = {**serve["speculative"], "gamma": config.gamma}
    out["serve"] = serve
    return out


def _short(exc: Exception) -> str:
    msg = str(exc)
    return msg.split(": ", 1)[1] if msg.startswith(("/", "<", ".")) and ": " in msg else msg


def _solve_all(problems: list, solver: str) -> list:
    """Per problem: the cheapest feasible Solution, or a message."""
    from planner.optimize import solve_candidates
    from planner.optimize.batch import solve_problems

    out: list = [None] * len(problems)
    if solver == "iso_loss":
        batch = solve_problems(problems)
        for i, s in enumerate(batch.solutions):
            if s is not None:
                out[i] = s[0]
    for i, p in enumerate(problems):
        if p is None or out[i] is not None:
            continue
        sol, _ = solve_candidates(p, solver)
        out[i] = sol if sol.status == "optimal" else (sol.message or "infeasible")
    return out


__all__ = ["Outcome", "Sensitivity", "SensitivityRow", "pin_configuration", "sensitivity"]
