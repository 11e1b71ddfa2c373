"""Choices beyond the serving configuration: which training and serving hardware
(``train.hardware`` / ``serve.hardware`` given as lists) and which speculative draft
(``serve.speculative.drafts``, plus "none").

Each choice is costed on the budget narrowed to it (a pydantic copy of the ``train``/``serve``
blocks with one profile and one draft), so the cost model reads the single-choice budget it
always read.  The optimizer solves every combination in the same batch as weight bits, γ and
GPUs per replica and keeps the cheapest feasible one; ``alternatives`` reports each open
choice's own best plan (or why it has none) for the runner-up table.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from planner.budget import Budget, ServeSpec, SpeculativeSpec, TrainSpec
from planner.errors import InputError

DIMENSIONS = {"serve_hardware": "serving hardware", "train_hardware": "training hardware",
              "draft": "draft"}


@dataclass(frozen=True)
class HardwareOption:
    """One (training, serving) hardware pair and the budget narrowed to it."""

    train_name: str
    serve_name: str
    train_hw: Any  # planner.hardware.HardwareProfile
    serve_hw: Any
    budget: Budget
    choice: str  # the open hardware choices in words ("serve on h200-sxm"), "" when none
    drafts_open: bool  # the budget lists candidate drafts


def _profiles(budget: Budget, field: str, refs) -> list[tuple[str, Any, Any]]:
    """(name, profile, reference) of each listed profile; names must differ."""
    from planner.optimize.setup import resolve_hardware

    listed = isinstance(refs, list)
    out: list[tuple[str, Any, Any]] = []
    for i, ref in enumerate(refs if listed else [refs]):
        try:
            hw = resolve_hardware(ref, budget, field)
        except InputError as exc:
            if not listed:
                raise
            why = str(exc).split(f"{field}.hardware: ", 1)[-1]
            raise InputError(f"{budget.where(field, 'hardware', i)}: {field}.hardware[{i}]: "
                             f"{why}") from None
        if any(name == hw.name for name, _, _ in out):
            raise InputError(f"{budget.where(field, 'hardware', i)}: {field}.hardware[{i}]: "
                             f"profile {hw.name!r} is listed twice (give inline profiles "
                             "distinct 'name:'s)")
        out.append((hw.name, hw, ref))
    return out


def hardware_options(budget: Budget) -> list[HardwareOption]:
    """Every (training, serving) hardware pair of the budget, training hardware outermost, in
    the order listed."""
    train = budget.train or TrainSpec()
    serve = budget.serve or ServeSpec()
    trains = _profiles(budget, "train", train.hardware)
    serves = _profiles(budget, "serve", serve.hardware)
    drafts_open = serve.speculative is not None and serve.speculative.drafts is not None
    out = []
    for (tn, thw, tref), (sn, shw, sref) in itertools.product(trains, serves):
        update = {}
        if isinstance(train.hardware, list):
            update["train"] = train.model_copy(update={"hardware": tref})
        if isinstance(serve.hardware, list):
            update["serve"] = serve.model_copy(update={"hardware": sref})
        parts = ([f"train on {tn}"] if len(trains) > 1 else []) + (
            [f"serve on {sn}"] if len(serves) > 1 else [])
        out.append(HardwareOption(tn, sn, thw, shw,
                                  budget.model_copy(update=update) if update else budget,
                                  ", ".join(parts), drafts_open))
    return out


def draft_options(budget: Budget) -> list[tuple[str, int, Budget]]:
    """(draft name, γ, budget narrowed to that draft) for every draft length to try: "none"
    (γ = 0) first, then each listed draft at each γ ≥ 1.  A single-draft budget (the
    ``draft_params``/``draft_fraction`` keys) keeps its form: γ = 0 is named "none"."""
    from planner.optimize.build import _options

    serve = budget.serve or ServeSpec()
    sd = serve.speculative
    _, gammas, _ = _options(budget)
    if sd is None:
        return [("none", 0, budget)]
    if sd.drafts is None:
        name = sd.name or "draft"
        return [("none" if g == 0 else name, g, budget) for g in gammas]
    out = [("none", 0, budget.model_copy(update={
        "serve": serve.model_copy(update={"speculative": None})}))]
    for d in sd.drafts:
        spec = SpeculativeSpec(acceptance=d.acceptance, draft_params=d.params,
                               draft_fraction=d.fraction, gamma=sd.gamma,
                               max_gamma=sd.max_gamma, train_draft=d.train,
                               draft_train_tokens=d.train_tokens, name=d.name)
        narrowed = budget.model_copy(update={
            "serve": serve.model_copy(update={"speculative": spec})})
        out += [(d.name, g, narrowed) for g in gammas if g > 0]
    return out


def pin_choices(data: dict, candidate) -> dict:
    """A budget's YAML dict narrowed to a candidate's hardware and draft (lists replaced by
    the chosen entry), e.g. to perturb the chosen hardware's price only."""
    b = candidate.budget
    if b is None:
        return data
    out = dict(data)
    for head in ("train", "serve"):
        block = out.get(head)
        if isinstance(block, dict) and isinstance(block.get("hardware"), list):
            out[head] = {**block, "hardware": getattr(b, head).hardware}
    serve = out.get("serve")
    if isinstance(serve, dict) and isinstance(serve.get("speculative"), dict) \
            and "drafts" in serve["speculative"]:
        serve = dict(serve)
        spec = b.serve.speculative
        if spec is None:
            serve.pop("speculative")
        else:
            serve["speculative"] = spec.model_dump(mode="python", exclude_none=True,
                                                   exclude={"drafts"})
        out["serve"] = serve
    return out


# ---- the runner-up table ------------------------------------------------------------------
def open_dimensions(problem) -> list[str]:
    """The choices the budget left open: ``serve_hardware`` / ``train_hardware`` when a list
    names several profiles, ``draft`` when ``drafts:`` lists candidate drafts."""
    cands = problem.candidates
    if cands[0].config is None:
        return []
    out = []
    for key in ("serve_hardware", "train_hardware"):
        if len({getattr(c, key) for c in cands}) > 1:
            out.append(key)
    serve = problem.budget.serve
    if serve is not None and serve.speculative is not None and serve.speculative.drafts:
        out.append("draft")
    return out


def _structure(sc) -> tuple:
    return (tuple((it.name, it.structure()) for it in sc.objective),
            tuple((k.name, k.item.structure()) for k in sc.constraints),
            tuple((float(t.n_exp), float(t.d_exp)) for t in sc.loss_extra))


def candidate_optima(problem, solver: str = "iso_loss"
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each candidate's own optimum: objective (inf where infeasible), N and D.  Stacked
    ``solve_iso_loss`` calls, one per structure, for posynomial problems; one solve per
    candidate otherwise."""
    from planner.optimize.scenario import stack_scenarios
    from planner.optimize.solve import solve_each

    cands = problem.candidates
    obj = np.full(len(cands), np.inf)
    n = np.full(len(cands), np.nan)
    d = np.full(len(cands), np.nan)
    if solver == "iso_loss" and problem.posynomial:
        from planner.optimize.iso_loss import solve_iso_loss

        try:  # every candidate in one batch (the usual case)
            stacked = problem.stackable if len(cands) > 1 else None
        except ValueError:  # several structures: a batch each
            stacked = None
        if stacked is not None:
            batch = solve_iso_loss(stacked)
            ok = np.atleast_1d(batch.status) == "optimal"
            obj = np.where(ok, np.atleast_1d(batch.objective), np.inf)
            return obj, np.atleast_1d(batch.params), np.atleast_1d(batch.tokens)
        groups: dict[tuple, list[int]] = {}
        for k, c in enumerate(cands):
            groups.setdefault(_structure(c.scenario), []).append(k)
        for idx in groups.values():
            batch = solve_iso_loss(stack_scenarios(cands[k].scenario for k in idx))
            ok = np.atleast_1d(batch.status) == "optimal"
            obj[idx] = np.where(ok, np.atleast_1d(batch.objective), np.inf)
            n[idx] = np.atleast_1d(batch.params)
            d[idx] = np.atleast_1d(batch.tokens)
        return obj, n, d
    for k, s in enumerate(solve_each([c.scenario for c in cands], solver)):
        if s.status == "optimal":
            obj[k], n[k], d[k] = s.objective, s.params, s.tokens
    return obj, n, d


def solve_by_structure(problem) -> tuple:
    """``solve_candidates`` (iso_loss) for candidates of several structures (drafts sized
    absolutely and as a fraction of N): one stacked solve per structure, the cheapest feasible
    overall (ties: the earlier candidate); when none is, the binding constraints of all."""
    from planner.optimize.problem import Problem
    from planner.optimize.scenario import Solution
    from planner.optimize.solve import solve_candidates

    cands = problem.candidates
    groups: dict[tuple, list[int]] = {}
    for k, c in enumerate(cands):
        groups.setdefault(_structure(c.scenario), []).append(k)
    best, best_key, binding, messages = None, None, [], []
    for idx in groups.values():
        sub = Problem(problem.budget, problem.law, problem.target_loss,
                      tuple(cands[k] for k in idx))
        sol, j = solve_candidates(sub, "iso_loss")
        if sol.status == "optimal":
            key = (float(sol.objective), idx[j])
            if best_key is None or key < best_key:
                best, best_key = sol, key
        else:
            binding += [b for b in sol.binding if b not in binding]
            if sol.message:
                messages.append(sol.message)
    if best is None:
        message = ("constraints cannot all hold: " + ", ".join(binding) if binding
                   else "; ".join(dict.fromkeys(messages)) or "infeasible")
        return Solution(np.nan, np.nan, np.nan, "infeasible", "iso_loss", message=message,
                        binding=tuple(binding)), 0
    diagnostics = {**best.diagnostics, "candidates": len(cands), "structures": len(groups)}
    return Solution(best.params, best.tokens, best.objective, best.status, best.solver,
                    best.message, best.active, best.binding, diagnostics), best_key[1]


def alone_feasible(problem, solver: str = "iso_loss", only: Optional[list[int]] = None
                   ) -> Optional[dict[str, np.ndarray]]:
    """Per constraint, per candidate: whether the loss target and that constraint alone can
    hold (one stacked solve per constraint); None where the problem does not stack.
    ``only``: the candidates to decide (the others read False)."""
    from dataclasses import replace

    from planner.optimize.iso_loss import solve_iso_loss
    from planner.optimize.scenario import stack_scenarios

    cands = problem.candidates
    which = list(range(len(cands))) if only is None else list(only)
    if solver != "iso_loss" or not problem.posynomial:
        return None
    try:  # the candidates' stacked batch, restricted to ``which``: one solve per constraint
        stacked = problem.stackable if len(cands) > 1 and which else None
    except ValueError:  # several structures: a batch per structure below
        stacked = None
    if stacked is not None:
        from planner.optimize.scenario import map_coefficients

        pick = np.array(which)
        sub = map_coefficients(stacked, lambda x: np.asarray(x)[pick] if np.ndim(x) else x)
        out = {}
        for con in sub.constraints:
            ok = np.zeros(len(cands), dtype=bool)
            ok[pick] = np.atleast_1d(solve_iso_loss(replace(sub, constraints=(con,))).status) \
                == "optimal"
            out[con.name] = ok
        return out
    out = {}
    for i, con in enumerate(cands[which[0]].scenario.constraints):
        ok = np.zeros(len(cands), dtype=bool)
        groups: dict[tuple, list[int]] = {}
        ones = {k: replace(cands[k].scenario, constraints=(cands[k].scenario.constraints[i],))
                for k in which}
        for k, one in ones.items():
            groups.setdefault(_structure(one), []).append(k)
        for idx in groups.values():
            status = solve_iso_loss(stack_scenarios(ones[k] for k in idx)).status
            ok[idx] = np.atleast_1d(status) == "optimal"
        out[con.name] = ok
    return out


def _why(problem, idx: list[int], alone, solver: str) -> tuple[list[str], str]:
    """The constraints that rule out every candidate of ``idx`` on their own, else those the
    joint solve of those candidates names; and a message."""
    from planner.optimize.problem import Problem
    from planner.optimize.solve import solve_candidates

    names = [name for name, ok in (alone or {}).items() if not ok[idx].any()]
    if names:
        return names, "ruled out by " + ", ".join(names)
    sub = Problem(problem.budget, problem.law, problem.target_loss,
                  tuple(problem.candidates[k] for k in idx))
    sol, _ = solve_candidates(sub, solver)
    return list(sol.binding), sol.message or "infeasible"


def ruling_out(problem, solver: str = "iso_loss") -> tuple[list[str], str]:
    """Why a problem none of whose candidates is feasible has no plan: the constraints that
    rule out every candidate on their own (each solved alone with the loss target), else
    those the joint solve names; and a message."""
    return _why(problem, list(range(len(problem.candidates))),
                alone_feasible(problem, solver), solver)


def solve_with_optima(problem) -> Optional[tuple]:
    """``solve_candidates`` (iso_loss) that also keeps each candidate's optimum, for budgets
    with open hardware or draft choices: ``(Solution, best index, optima)``, or None when no
    candidate is feasible (let ``solve_candidates`` word why) or there is nothing to choose."""
    from planner.optimize.scenario import Solution

    if not open_dimensions(problem) or not problem.posynomial:
        return None
    obj, n, d = candidate_optima(problem, "iso_loss")
    k = int(np.argmin(obj))
    if not np.isfinite(obj[k]):
        return None
    sc = problem.candidates[k].scenario
    nk, dk = float(n[k]), float(d[k])
    active = tuple(c.name for c in sc.constraints if abs(float(c.slack(nk, dk))) < 1e-6)
    sol = Solution(nk, dk, float(obj[k]), "optimal", "iso_loss", active=active,
                   diagnostics={"method": "bisection", "batch": len(obj),
                                "candidates": len(obj)})
    return sol, k, (obj, n, d)


def alternatives(problem, best: int, solver: str = "iso_loss",
                 optima: Optional[tuple] = None) -> list[dict]:
    """For each open choice (``open_dimensions``) and each of its options, the option's own
    best plan: N, D, objective, its cost relative to the plan (``vs_plan``) and the
    constraints binding there; or, where no configuration of that option is feasible,
    ``status: infeasible`` with the constraints that cannot all hold.  Cheapest first within
    each choice.  ``optima`` (from ``candidate_optima``) saves solving again."""
    dims = open_dimensions(problem)
    if not dims:
        return []
    cands = problem.candidates
    obj, n, d = optima if optima is not None else candidate_optima(problem, solver)
    obj = np.asarray(obj, dtype=float)
    plan_obj = float(obj[best])
    groups = {key: {} for key in dims}  # choice → option → its candidates
    for k, c in enumerate(cands):
        for key in dims:
            groups[key].setdefault(getattr(c, key), []).append(k)
    out_of_reach = sorted({k for key in dims for idx in groups[key].values()
                           if not np.isfinite(obj[idx]).any() for k in idx})
    alone = None  # decided once, for the candidates of the options that are infeasible
    rows: list[dict] = []
    for key in dims:
        values = list(groups[key])
        feasible, infeasible = [], []
        for value in values:
            idx = groups[key][value]
            k = idx[int(np.argmin(obj[idx]))]  # ties: the earlier candidate, as the optimizer
            row = {"choice": key, "name": value,
                   "chosen": getattr(cands[best], key) == value}
            if np.isfinite(obj[k]):
                c = cands[k]
                nk, dk = float(n[k]), float(d[k])
                binding = [x.name for x in c.scenario.constraints
                           if abs(float(x.slack(nk, dk))) < 1e-6]
                row.update(status="optimal", params=nk, train_tokens=dk,
                           objective=float(obj[k]), vs_plan=float(obj[k]) / plan_obj - 1.0,
                           binding=binding, configuration=c.configuration(),
                           label=c.label(), message="")
                feasible.append(row)
            else:
                if alone is None:
                    alone = alone_feasible(problem, solver, out_of_reach) or {}
                binding, message = _why(problem, idx, alone, solver)
                row.update(status="infeasible", params=None, train_tokens=None,
                           objective=None, vs_plan=None, binding=binding,
                           configuration=None, label="", message=message)
                infeasible.append(row)
        rows += sorted(feasible, key=lambda r: r["objective"]) + infeasible
    return rows


def infeasible_choices(problem, solver: str = "iso_loss") -> str:
    """Why each option of each open choice has no feasible plan, in words (for the exit-3
    message of a budget none of whose choices is feasible); "" without open choices."""
    dims = open_dimensions(problem)
    if not dims:
        return ""
    cands = problem.candidates
    alone = alone_feasible(problem, solver)
    parts = []
    for key in dims:
        for value in dict.fromkeys(getattr(c, key) for c in cands):
            idx = [k for k, c in enumerate(cands) if getattr(c, key) == value]
            binding, message = _why(problem, idx, alone, solver)
            why = ", ".join(binding) or message
            parts.append(f"{DIMENSIONS[key]} {value}: {why}")
    return "; ".join(parts)


__all__ = ["DIMENSIONS", "HardwareOption", "alone_feasible", "alternatives",
           "candidate_optima", "draft_options", "hardware_options", "infeasible_choices",
           "open_dimensions", "pin_choices", "ruling_out", "solve_by_structure",
           "solve_with_optima"]
