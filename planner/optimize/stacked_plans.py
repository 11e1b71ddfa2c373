"""Plans for many budgets of one structure from one stacked build (a sweep's points).

A sweep varies a few numbers of one budget.  Building every configuration's cost model per
point (216 for the chat example) costs about 0.6 ms each in Python; here they are built once
for a chunk of points from ``stacked_view`` (numbers that differ read as arrays), stacked into
one batch scenario of (configurations × points) entries and solved by one vectorised 1-D
solve, with the same-options baselines solved the same way.  Each point's report then builds,
from its own budget, only the few configurations it reads (the plan's, the baselines', each
open choice's best: ``LazyCandidate``) and goes through ``plan_result`` like any plan.

Every point is checked: its plan's objective, costed from its own budget alone, must equal the
stacked solve's to 1e-9, or the point comes back None; a chunk the stacked build cannot
express (``Unstackable``, a formula that branches on a number that differs between its points,
a point whose configurations are not the build's) comes back None for every point.
``optimize_many`` plans those one at a time.  The same build (``stacked_build``) sets up the
report's demand levels (``planner.analysis.levels``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from planner.errors import PlannerError
from planner.optimize.baselines import cheapest_same_options, same_options_points
from planner.optimize.build import CandidateBuilder, resolve_law, target_loss
from planner.optimize.lazy import LazyCandidates
from planner.optimize.problem import Problem, agrees

CHUNK_POINTS = 64  # points per stacked build at most (memory: ~1.5 MB per point, 216 configs)
MIN_CHUNK_POINTS = 16  # fewer points per build do not pay for splitting work across processes


def plan_stacked(budgets: Sequence, progress=None, jobs: Optional[int] = None) -> list:
    """Per budget, its ``PlanResult`` from the stacked path, or None where that path does not
    decide it (the caller plans those one at a time).  Only budgets with hardware, a posynomial
    law and the 1-D solver take it.  Chunks of points are planned in ``jobs`` processes
    (default: one per CPU; 1: in this process)."""
    out: list = [None] * len(budgets)
    ready = []  # (index, law, target loss)
    for i, b in enumerate(budgets):
        if b is None or not b.uses_hardware:
            continue
        try:
            law = resolve_law(b)
            if not law.is_posynomial or getattr(law, "repeats_data", False):
                continue
            ready.append((i, law, target_loss(b, law)))
        except PlannerError:
            continue  # optimize() words the error
    if len(ready) < 2:
        return out
    groups: list[list] = []
    for item in ready:  # one law per stacked build
        same = next((g for g in groups if g[0][1] == item[1]), None)
        if same is None:
            groups.append([item])
        else:
            same.append(item)
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    chunks = []
    for items in groups:  # at least one chunk per process, at most CHUNK_POINTS points each
        size = max(MIN_CHUNK_POINTS, min(CHUNK_POINTS, -(-len(items) // jobs)))
        chunks += [items[a:a + size] for a in range(0, len(items), size)]
    work = [([budgets[i] for i, _, _ in c], c[0][1], [loss for _, _, loss in c])
            for c in chunks]
    done = 0
    for chunk, plans in zip(chunks, _run(work, jobs)):
        for (i, _, _), res in zip(chunk, plans):
            out[i] = res
        done += len(chunk)
        if progress:
            progress("stacked", done, len(ready))
    return out


def _run(work: list, jobs: int):
    """The plans of each piece of work, in order; in processes when there are several."""
    import multiprocessing

    if jobs > 1 and len(work) > 1 and not multiprocessing.current_process().daemon:
        from concurrent.futures import ProcessPoolExecutor

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=ctx) as pool:
            yield from pool.map(plan_chunk, work)
        return
    for args in work:
        yield plan_chunk(args)


def plan_chunk(args: tuple) -> list:
    """The plans of one chunk ``(budgets, law, target losses)``; None for every point when
    the chunk cannot be built as one (``Unstackable``, or a formula that branches on a
    number that differs between the points)."""
    from planner.optimize.plans import plan_result
    from planner.optimize.stacked import Unstackable

    budgets, law, losses = args
    try:
        return _plan_chunk(budgets, law, losses, plan_result)
    except (Unstackable, TypeError, ValueError, ArithmeticError):
        return [None] * len(budgets)


@dataclass(frozen=True)
class StackedBuild:
    """Budgets of one structure built as one (``stacked_build``): ``scenario`` holds every
    configuration at every point, configuration-major (entry ``q·P + j`` is configuration
    ``q`` at point ``j`` of ``P``); ``metas`` are the configurations' choices
    (``CandidateBuilder.meta``), the same at every point."""

    budgets: tuple
    law: Any
    losses: tuple
    scenario: Any
    metas: tuple
    builders: tuple  # each point's own CandidateBuilder (its configurations by index)

    @property
    def configurations(self) -> int:
        return len(self.metas)

    @property
    def points(self) -> int:
        return len(self.budgets)

    def level(self, j: int):
        """The batch scenario of every configuration at point ``j`` (entry ``q``:
        configuration ``q``)."""
        from planner.optimize.scenario import map_coefficients

        p = self.points
        return map_coefficients(self.scenario, lambda x: np.asarray(x)[j::p]
                                if np.ndim(x) else x)

    def solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each configuration's optimum at each point, one vectorised 1-D solve: objective
        (inf where infeasible), N and D, arrays of shape (configurations, points)."""
        from planner.optimize.iso_loss import solve_iso_loss

        k, p = self.configurations, self.points
        sol = solve_iso_loss(self.scenario)
        status = np.asarray(sol.status).reshape(k, p)
        obj = np.where(status == "optimal", np.asarray(sol.objective, float).reshape(k, p),
                       np.inf)
        return (obj, np.asarray(sol.params, float).reshape(k, p),
                np.asarray(sol.tokens, float).reshape(k, p))

    def solve_cheapest(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``solve``, except that a configuration that cannot be the cheapest at a point (of
        all configurations, or of its hardware or draft option: what a plan and its
        ``alternatives`` read) reads ``inf`` there.

        Constraints only raise a configuration's cost, so its optimum without them is a lower
        bound; where that optimum meets every constraint (with a 1e-9 margin) it is the
        optimum.  A configuration whose lower bound exceeds, by more than 1e-9, the cost of
        such a met optimum in each of its groups cannot be the cheapest of any; only the
        others are solved with their constraints (for the chat example: none of 216 × 64).
        """
        from dataclasses import replace

        from planner.optimize.iso_loss import _flops_form, solve_iso_loss

        sc, k, p = self.scenario, self.configurations, self.points
        free_sc = replace(sc, constraints=())
        if not sc.constraints or _flops_form(free_sc) is not None:
            return self.solve()  # nothing to bound, or a closed form the full solve skips
        free = solve_iso_loss(free_sc)
        ok = np.asarray(free.status) == "optimal"
        lower = np.where(ok, np.asarray(free.objective, float), np.inf)
        n, d = np.asarray(free.params, float), np.asarray(free.tokens, float)
        met = ok & np.isfinite(n) & np.isfinite(d)
        safe_n, safe_d = np.where(met, n, 1.0), np.where(met, d, 1.0)
        with np.errstate(all="ignore"):
            for c in sc.constraints:
                met &= np.asarray(c.slack(safe_n, safe_d), float) >= 1e-9
        lower, met = lower.reshape(k, p), met.reshape(k, p)
        upper = np.where(met, lower, np.inf)
        keep = np.zeros((k, p), dtype=bool)
        for group in self._groups():
            best = upper[group].min(axis=0)  # per point: a met optimum's cost in the group
            keep[group] |= ~(lower[group] > best * (1 + 1e-9))
        obj = np.where(met, lower, np.inf)
        params = np.where(met, n.reshape(k, p), np.nan)
        tokens = np.where(met, d.reshape(k, p), np.nan)
        need = np.flatnonzero((keep & ~met & np.isfinite(lower)).reshape(-1))
        if need.size:
            from planner.optimize.scenario import map_coefficients

            part = solve_iso_loss(map_coefficients(sc, lambda x: np.asarray(x)[need]
                                                   if np.ndim(x) else x))
            found = np.asarray(part.status) == "optimal"
            obj.reshape(-1)[need] = np.where(found, np.asarray(part.objective, float), np.inf)
            params.reshape(-1)[need] = np.asarray(part.params, float)
            tokens.reshape(-1)[need] = np.asarray(part.tokens, float)
        obj[~keep] = np.inf
        return obj, params, tokens

    def _groups(self) -> list[np.ndarray]:
        """The configurations a plan compares: all of them, and those of each hardware and
        each draft option."""
        out = [np.arange(self.configurations)]
        for key in ("serve_hardware", "train_hardware", "draft"):
            values = [m[key] for m in self.metas]
            if len(set(values)) > 1:
                out += [np.flatnonzero([v == x for v in values]) for x in dict.fromkeys(values)]
        return out

    def optimum(self, j: int, solved) -> Optional[tuple[int, float, float, float]]:
        """Point ``j``'s cheapest configuration ``(index, N, D, cost)`` in ``solved`` (what
        ``solve`` returns), or None where no configuration is feasible or the optimum sits at
        the top of the search range (``optimize()`` words those one at a time)."""
        obj, params, tokens = solved
        best = int(np.argmin(obj[:, j]))
        cost, n = float(obj[best, j]), float(params[best, j])
        cap = self.scenario.params_range[1] * (1 - 1e-5)
        if not np.isfinite(cost) or n >= cap:
            return None
        return best, n, float(tokens[best, j]), cost

    def own_cost(self, j: int, best: int, params: float, tokens: float) -> float:
        """The lifetime cost of (N, D) in configuration ``best``, built from point ``j``'s own
        budget alone (to check the stacked build against)."""
        own = self.builders[j].build(best)  # point j's own builder, made by stacked_build
        return float(own.scenario.objective_value(params, tokens))


def stacked_build(budgets: Sequence, law=None, losses=None) -> StackedBuild:
    """The budgets (with hardware, one posynomial law) built as one from their
    ``stacked_view``; ``law`` and ``losses`` (the target loss of each) when already known.
    Raises ``Unstackable`` (or the ``TypeError``/``ValueError`` of a formula that branches on
    a number that differs between the points) where one build cannot express them, and
    ``ValueError`` where a budget's own configurations are not the build's."""
    from planner.optimize.build import batch_scenario
    from planner.optimize.stacked import Unstackable, stacked_view

    p = len(budgets)
    if p < 2 or not all(b.uses_hardware for b in budgets):
        raise Unstackable("fewer than two budgets with hardware")
    if law is None:
        law = resolve_law(budgets[0])
        if any(resolve_law(b) != law for b in budgets[1:]):
            raise Unstackable("the budgets' laws differ")
    if not law.is_posynomial or getattr(law, "repeats_data", False):
        raise Unstackable(f"law {law.name} is not a posynomial")
    if losses is None:
        losses = [target_loss(b, law) for b in budgets]
    builder = CandidateBuilder(stacked_view(budgets), law, np.array(losses, dtype=float))
    metas = tuple(builder.meta(k) for k in range(len(builder)))
    choices = builder.choices()
    builders = []
    for j, b in enumerate(budgets):
        own = CandidateBuilder(b, law, losses[j])
        if own.choices() != choices:
            raise ValueError(f"point {j}: its configurations are not the stacked build's")
        builders.append(own)
    scenario = batch_scenario(builder, p)
    if scenario.batch_size() != len(metas) * p:
        raise ValueError("stacked build is not one entry per configuration and point")
    return StackedBuild(tuple(budgets), law, tuple(losses), scenario, metas, tuple(builders))


def _plan_chunk(budgets: list, law, losses: list, plan_result) -> list:
    from planner.optimize.scenario import Solution

    p = len(budgets)
    if p < 2:
        return [None] * p
    build = stacked_build(budgets, law, losses)
    k = build.configurations
    solved = build.solve_cheapest()
    obj, params, tokens = solved
    same_n, same_d, same_cost = same_options_points(
        build.scenario, [m["config"].weight_bits for m in build.metas], p)
    hardware = [(m["train_hardware"], m["serve_hardware"]) for m in build.metas]
    hardware_of: dict = {}
    for q, hw in enumerate(hardware):
        hardware_of.setdefault(hw, []).append(q)
    out: list = []
    for j, budget in enumerate(budgets):
        found = build.optimum(j, solved)
        if found is None:
            out.append(None)  # infeasible, or at the search cap: optimize() words it
            continue
        b, n, d, cost = found
        lazy = LazyCandidates(build.builders[j], build.metas)
        sc = lazy[b].scenario
        problem = Problem(budget, law, losses[j], lazy)
        active = tuple(c.name for c in sc.constraints if abs(float(c.slack(n, d))) < 1e-6)
        diag = {"method": "bisection", "batch": k * p, "batched": True, "stacked": True}
        if k > 1:
            diag["candidates"] = k
        solution = Solution(n, d, cost, "optimal", "iso_loss", active=active,
                            diagnostics=diag)
        same_hw = hardware_of[hardware[b]]  # the configurations on the plan's hardware
        same = (cheapest_same_options(same_hw, same_n[:, j], same_d[:, j], same_cost[:, j])
                if len(same_hw) > 1 else None)
        res = plan_result(problem, solution, b, optima=(obj[:, j], params[:, j], tokens[:, j]),
                          same_options=same)
        if res.ok and not agrees(res.plan.objective, cost):
            res = None  # its own budget disagrees with the stacked build: one at a time
        out.append(res)
    return out
