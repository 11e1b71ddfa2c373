"""How sure is the plan?  Re-plan under every sample of the law's constants (vectorised 1-D
solver) and price the point-estimate plan under each (expected regret).

Samples come from a fitted law's bootstrap (``planner fit --bootstrap``), or, for the
``epoch2024`` preset, from normal draws with its published standard errors (Besiroglu et al. 2024, arXiv 2404.10102:
E 0.03, A 124.58, B 1293.23, α 0.02, β 0.02; independent, so wider than the bootstrap's
correlated cloud).  The target loss stays the point estimate's, except for a downstream-error
target whose mapping has bootstrap samples: each sample then also gets its own target loss
(``planner.laws.downstream.uncertainty_samples``).  All samples of a posynomial law are
re-planned in one stacked call of the vectorised solver.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.errors import InputError
from planner.terms import PosyLoss

PUBLISHED_SE = {"epoch2024": (0.03, 124.58, 1293.23, 0.02, 0.02)}


def standard_errors(law) -> tuple[dict[str, float], str] | None:
    """One standard error per constant of ``law`` and where it came from: the spread of a
    fitted law's bootstrap samples, or the published standard errors of a preset; None when
    neither is known."""
    samples = getattr(law, "samples", None)
    if samples is not None and len(samples) > 1:
        s = np.asarray(samples, dtype=float)
        return ({k: float(v) for k, v in zip(law.constant_names, s.std(axis=0, ddof=1))},
                "bootstrap standard errors")
    if law.name in PUBLISHED_SE:
        return (dict(zip(law.constant_names, PUBLISHED_SE[law.name])),
                "published standard errors")
    return None


def law_samples(law, n: int, seed: int) -> tuple[np.ndarray, str]:
    """(k, m) samples of the law's constants (columns ``law.constant_names``) and where they
    came from."""
    if getattr(law, "samples", None) is not None and len(law.samples):
        s = np.asarray(law.samples, dtype=float)
        if len(s) > n:
            s = s[np.random.default_rng(seed).choice(len(s), n, replace=False)]
        return s, "bootstrap"
    if law.name in PUBLISHED_SE:
        rng = np.random.default_rng(seed)
        mean = np.array([law.E, law.A, law.B, law.alpha, law.beta])
        s = mean + rng.standard_normal((n, 5)) * np.array(PUBLISHED_SE[law.name])
        s = s[np.all(s > 0, axis=1)]
        return s, "published standard errors (independent normal draws)"
    raise InputError(f"law {law.name} has no uncertainty information: fit it with "
                     "planner fit --bootstrap N and use law: {file: ...}")


def _pcts(x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if not len(x):
        return {"p10": float("nan"), "p50": float("nan"), "p90": float("nan")}
    p10, p50, p90 = np.percentile(x, [10, 50, 90])
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90)}


def _by_sample(problem, solution, consts: np.ndarray, candidate: int):
    """Optimum and point-plan cost under each sample, one solve per sample: any law (the
    repeated-data law's nested solve included)."""
    from dataclasses import replace as _replace

    from planner.optimize.build import loss_fields
    from planner.optimize.solve import solve

    law = problem.law
    sc = problem.candidates[candidate].scenario
    k = len(consts)
    params, tokens, objective = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    cost, feasible, holds = np.full(k, np.nan), np.zeros(k, bool), np.zeros(k, bool)
    for i, row in enumerate(consts):
        law_i = law.with_constants(**dict(zip(law.constant_names, (float(x) for x in row))))
        if problem.target_loss <= law_i.irreducible_loss:
            continue
        sc_i = _replace(sc, **loss_fields(law_i, problem.target_loss, sc.loss_extra))
        opt = solve(sc_i)
        if opt.status == "optimal":
            feasible[i] = True
            params[i], tokens[i], objective[i] = opt.params, opt.tokens, opt.objective
        n = solution.params
        d = float(sc_i.loss_constraint.tokens(n))
        if np.isfinite(d):
            cost[i] = float(sc_i.objective_value(n, d))
            holds[i] = all(float(c.slack(n, d)) >= -1e-9 for c in sc_i.constraints)
    return params, tokens, objective, cost, feasible, holds


def _summary(n_samples, source, unit, params, tokens, objective, cost, feasible, both):
    """The uncertainty block of a plan.  The regret of the point plan is led by its median and
    P90: the mean is dominated by the few samples under which the planned N barely reaches the
    target (a long tail), so it is reported with that tail's size (``regret_tail_share``: the
    share of the mean contributed by samples above the P90)."""
    regret = np.where(both, cost - objective, np.nan)
    with np.errstate(all="ignore"):
        frac = regret / objective
    p90 = float(np.nanpercentile(frac, 90)) if np.any(both) else float("nan")
    mean = float(np.nanmean(frac)) if np.any(both) else float("nan")
    tail = (float(np.nansum(np.where(frac > p90, frac, 0.0)) / np.nansum(frac))
            if np.any(both) and np.nansum(frac) > 0 else float("nan"))
    out = {
        "n_samples": int(n_samples),
        "source": source,
        "params": _pcts(np.where(feasible, params, np.nan)),
        "train_tokens": _pcts(np.where(feasible, tokens, np.nan)),
        "objective": _pcts(np.where(feasible, objective, np.nan)),
        "objective_unit": unit,
        "point_plan_objective": _pcts(np.where(both, cost, np.nan)),
        "expected_regret": float(np.nanmean(regret)) if np.any(both) else float("nan"),
        "median_regret_fraction": float(np.nanmedian(frac)) if np.any(both) else float("nan"),
        "p90_regret_fraction": p90,
        "regret_tail_share": tail,
        "infeasible_fraction": float(1.0 - np.mean(both)),
    }
    out["expected_regret_fraction"] = mean
    return out


def plan_uncertainty(problem, solution, samples: int = 1000, seed: int = 0,
                     candidate: int = 0) -> dict:
    """P10/P50/P90 of the optimal N, D and cost over the law's samples, and the expected
    regret of the point plan (its extra cost under each sample, with D re-chosen to reach the
    target at the planned N)."""
    chinchilla_form = problem.law.constant_names == ("E", "A", "B", "alpha", "beta")
    if not chinchilla_form or not problem.posynomial:  # one solve per sample
        consts, source = law_samples(problem.law, samples, seed)
        out = _by_sample(problem, solution, consts, candidate)
        unit = problem.candidates[candidate].scenario.objective_unit
        params, tokens, objective, cost, feasible, holds = out
        return _summary(len(consts), source, unit, params, tokens, objective, cost, feasible,
                        feasible & holds)
    from planner.laws.downstream import uncertainty_samples
    from planner.optimize.iso_loss import solve_iso_loss

    # target losses: the point target, or one per sample of a downstream mapping's bootstrap
    consts, limit, source = uncertainty_samples(problem, samples, seed, law_samples)
    E, A, B, alpha, beta = consts.T
    sc = problem.candidates[candidate].scenario
    ok = np.isfinite(limit) & (limit > E)
    limit = np.where(ok, limit, E + 1.0)  # unreachable samples: placeholder, masked by ok
    batch = replace(sc, loss=PosyLoss(E, A, alpha, B, beta, limit))
    opt = solve_iso_loss(batch)
    feasible = (opt.status == "optimal") & ok
    # the point plan under each sample: same N, D on that sample's iso-loss curve
    curve = batch.loss_constraint
    with np.errstate(all="ignore"):
        n, d, _ = curve.at(np.full(len(E), np.log(solution.params)))
        cost = sc.objective_value(n, d)
        holds = np.isfinite(d)
        for c in sc.constraints:
            holds &= c.item.value(n, d) <= np.asarray(c.limit) * (1 + 1e-9)
    return _summary(len(E), source, sc.objective_unit, opt.params, opt.tokens, opt.objective,
                    cost, feasible, feasible & holds)
