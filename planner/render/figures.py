"""Figures for planning reviews: numbers first (``*_data``: plain numpy, testable without
matplotlib), then drawings (``*_figure``: matplotlib's object API on the Agg canvas, no pyplot).

* lifetime cost vs N along the iso-loss curve, for several demands, minima marked;
* the train-vs-inference cost frontier (non-dominated branch), plan and Chinchilla marked;
* iso-loss contours in (N, D) with iso-FLOP lines and the optimum's path as demand grows;
* a tornado chart of the plan's sensitivity (planner.analysis.sensitivity).

matplotlib is an optional extra (``pip install matplotlib``, or the ``plot`` extra: ``pip install '.[plot]'`` in a checkout) imported inside the drawing
functions.  ``save_figure`` writes PNG and SVG; the SVG is byte-stable between runs
(``svg.hashsalt`` fixed, no date in the metadata).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from planner.errors import InputError, PlannerError

TRAIN_ITEMS = ("train", "draft_train")
SVG_SALT = "planner"
DEMAND_MULTIPLIERS = (0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)  # of the budget's demand


def unit_label(unit: str) -> str:
    from planner.units import UNIT_LABELS

    return UNIT_LABELS.get(unit, unit)


# ---- the iso-loss curve and the cost along it -----------------------------------------------
def _expand(sc, ndim_extra: int = 1):
    """The batch scenario with every array coefficient given trailing axes, so that a batch of
    K candidates broadcasts against a grid of P model sizes as (K, P)."""
    from planner.terms import Constraint, CostItem, PosyLoss, Term

    def col(x):
        a = np.asarray(x)
        return a.reshape(a.shape + (1,) * ndim_extra) if a.ndim else x

    def term(t):
        return Term(col(t.coef), t.n_exp, t.d_exp)

    def item(it):
        return CostItem(it.name, tuple(tuple(term(t) for t in p) for p in it.alternatives),
                        it.unit)

    p = sc.loss
    loss = PosyLoss(col(p.E), col(p.A), col(p.alpha), col(p.B), col(p.beta), col(p.limit))
    return replace(sc, loss=loss, objective=tuple(item(i) for i in sc.objective),
                   constraints=tuple(Constraint(c.name, item(c.item), col(c.limit),
                                                c.description) for c in sc.constraints),
                   loss_extra=tuple(term(t) for t in sc.loss_extra))


def curve_costs(problem, params: np.ndarray, candidates=None) -> dict[str, np.ndarray]:
    """Along the iso-loss curve at each N of ``params``: the training tokens, the lifetime cost
    (objective unit), its training and inference parts, of the cheapest candidate configuration
    (of ``candidates``, default all of the problem's) whose constraints hold there (NaN where
    none does or the target is out of reach)."""
    from planner.optimize.iso_loss import _Curve
    from planner.optimize.scenario import stack_scenarios

    params = np.asarray(params, dtype=float)
    cands = list(candidates) if candidates is not None else list(problem.candidates)
    k = len(cands)
    sc = (_expand(stack_scenarios(c.scenario for c in cands)) if k > 1
          else cands[0].scenario)
    shape = (k,) + params.shape if k > 1 else params.shape
    curve = _Curve(sc, shape)
    with np.errstate(all="ignore"):
        n, d, _ = curve.at(np.log(params))
        n = np.broadcast_to(n, shape)
        d = np.broadcast_to(d, shape)
        obj = np.broadcast_to(sc.objective_value(n, d), shape)
        train = np.zeros(shape)
        for it in sc.objective:
            if it.name in TRAIN_ITEMS:
                train = train + it.value(n, d)
        ok = np.isfinite(d) & np.isfinite(obj)
        for c in sc.constraints:
            ok &= np.asarray(c.item.value(n, d)) <= np.asarray(c.limit) * (1 + 1e-9)
    masked = np.where(ok, obj, np.inf)
    if k > 1:
        pick = np.argmin(masked, axis=0)
        take = lambda a: np.take_along_axis(np.broadcast_to(a, shape), pick[None], 0)[0]  # noqa
        best, d_best, t_best = take(masked), take(d), take(train)
    else:
        pick = np.zeros(params.shape, dtype=int)
        best, d_best, t_best = masked, d, train
    good = np.isfinite(best)
    nan = np.nan
    with np.errstate(invalid="ignore"):
        inference = np.where(good, best - t_best, nan)
    reachable = np.isfinite(d).any(axis=0) if k > 1 else np.isfinite(d)
    return {"params": params, "tokens": np.where(good, d_best, nan),
            "objective": np.where(good, best, nan),
            "train": np.where(good, t_best, nan), "inference": inference,
            "candidate": pick, "reachable": reachable}


def min_params(problem) -> float:
    """Smallest N that reaches the target loss with unlimited data (no extra loss terms)."""
    p = problem.candidates[0].scenario.loss
    return float((p.A / (p.limit - p.E)) ** (1.0 / p.alpha))


def _split(point) -> tuple[float, float]:
    train = sum(v for k, v in point.items.items() if k in TRAIN_ITEMS)
    return train, point.objective - train


# ---- demand study: the optimum as inference demand grows ------------------------------------
def demand_study(budget, problem=None, result=None, multipliers=None,
                 progress=None) -> dict[str, Any]:
    """Plans at lifetime inference demand = base × multipliers (or, for a budget without
    demand, at multiples of the Chinchilla model's training tokens), batched."""
    from planner.analysis.sweep import budget_data, optimize_many, set_field
    from planner.optimize import chinchilla_point, optimize, prepare

    problem = problem or prepare(budget)
    data, marks, where = budget_data(budget)
    base_total = budget.inference.total_tokens
    if multipliers is None:
        multipliers = DEMAND_MULTIPLIERS
    multipliers = np.asarray(multipliers, dtype=float)
    if base_total > 0:
        levels = base_total * multipliers
        reference = "the budget's demand"
    else:
        levels = chinchilla_point(problem.candidates[0].scenario)[1] * multipliers
        reference = "the Chinchilla model's training tokens"
    from planner.budget import budget_from_data

    budgets, problems = [], []
    for m, level in zip(multipliers, levels):
        if base_total > 0 and m == 1.0:
            budgets.append(budget)
            problems.append(problem)
            continue
        b = budget_from_data(set_field(data, "inference.tokens", float(level), budget), marks,
                             where)
        budgets.append(b)
        try:
            problems.append(prepare(b))
        except PlannerError as exc:
            problems.append(exc)
    details: dict = {}
    results = optimize_many(budgets, problems=problems, progress=progress, details=details)
    outcome = details["outcome"]
    base_index = next((i for i, b in enumerate(budgets) if b is budget), None)
    if result is None:
        result = results[base_index] if base_index is not None else optimize(budget)
    return {"outcome": outcome, "base_index": base_index,
            "multipliers": multipliers, "levels": levels, "reference": reference,
            "budgets": budgets, "problems": problems, "results": results,
            "base_total": base_total, "base_problem": problem, "base_result": result}


def _ok(res) -> bool:
    return not isinstance(res, Exception) and res is not None


# ---- figure data ----------------------------------------------------------------------------
def cost_vs_params_data(study: dict, show=(0.01, 0.1, 1.0, 10.0, 100.0),
                        points: int = 160) -> dict[str, Any]:
    """Lifetime cost vs N along the iso-loss curve for a few demand levels, with each level's
    optimum (the solver's answer, to be seen at the curve's minimum)."""
    from planner.optimize import chinchilla_point

    base = study["base_problem"]
    n_chin = chinchilla_point(base.candidates[0].scenario)[0]
    pick = [i for i, m in enumerate(study["multipliers"]) if any(np.isclose(m, s) for s in show)
            and _ok(study["results"][i]) and _ok(study["problems"][i])]
    optima = [study["results"][i].plan.params for i in pick]
    lo = max(min_params(base) * 1.02, min(optima + [n_chin]) / 4.0)
    hi = max(optima + [n_chin]) * 4.0
    grid = np.logspace(np.log10(lo), np.log10(hi), points)
    curves = []
    for i in pick:
        res = study["results"][i]
        c = curve_costs(study["problems"][i], grid)
        curves.append({"multiplier": float(study["multipliers"][i]),
                       "demand_tokens": float(study["levels"][i]),
                       "objective": c["objective"],
                       "opt_params": res.plan.params, "opt_objective": res.plan.objective,
                       "opt_tokens": res.plan.train_tokens})
    return {"params": grid, "curves": curves, "chinchilla_params": n_chin,
            "unit": study["base_result"].objective_unit, "reference": study["reference"],
            "base_total": study["base_total"]}


def plan_candidate(problem, result):
    """The candidate configuration the plan uses (matched by its label)."""
    label = result.plan.extra.get("configuration")
    for c in problem.candidates:
        if c.config is not None and c.config.label() == label:
            return c
    return problem.candidates[0]


def _pareto(train, inference, params):
    ok = np.isfinite(train) & np.isfinite(inference) & (train > 0) & (inference > 0)
    order = np.argsort(train[ok], kind="stable")
    tr, inf, n = train[ok][order], inference[ok][order], params[ok][order]
    keep = np.zeros(len(tr), dtype=bool)
    best = np.inf
    for j in range(len(tr)):  # ascending training cost: keep strictly cheaper inference
        if inf[j] < best:
            keep[j] = True
            best = inf[j]
    return tr[keep], inf[keep], n[keep]


def frontier_data(problem, result, points: int = 300) -> dict[str, Any]:
    """Training vs inference cost along the iso-loss curve, non-dominated branch only (no
    other model of the same loss costs less to train *and* less to serve), at the plan's
    serving configuration and, when it differs, at the Chinchilla baseline's."""
    from planner.optimize import baseline_candidate, chinchilla_point

    n0, d0 = chinchilla_point(problem.candidates[0].scenario)
    lo = min_params(problem) * 1.001
    hi = max(n0, result.plan.params, result.baseline.params) * 2.0
    grid = np.logspace(np.log10(lo), np.log10(hi), points)
    plan_c = plan_candidate(problem, result)
    base_c = baseline_candidate(problem, n0, d0)
    branches = []
    for cand, who in ((plan_c, "plan"), (base_c, "baseline")):
        if who == "baseline" and cand is plan_c:
            continue
        c = curve_costs(problem, grid, [cand])
        cap = 5.0 * max(result.plan.objective, result.baseline.objective)
        near = c["objective"] <= cap  # drop the far tail near the smallest reachable N
        tr, inf, n = _pareto(np.where(near, c["train"], np.nan), c["inference"], grid)
        label = cand.config.label() if cand.config is not None else ""
        branches.append({"who": who, "configuration": label, "train": tr, "inference": inf,
                         "params": n})
    return {"branches": branches,
            "plan": _split(result.plan), "chinchilla": _split(result.baseline),
            "plan_params": result.plan.params, "chinchilla_params": result.baseline.params,
            "unit": result.objective_unit}


def contour_data(study: dict, points: int = 160) -> dict[str, Any]:
    """Loss over a log grid of (N, D), the target, iso-FLOP lines and the optimum's path."""
    from planner.optimize import chinchilla_point

    base = study["base_problem"]
    law = base.law
    res = [r for r in study["results"] if _ok(r)]
    path_n = np.array([r.plan.params for r in res])
    path_d = np.array([r.plan.train_tokens for r in res])
    levels = np.array([lv for lv, r in zip(study["levels"], study["results"]) if _ok(r)])
    n0, d0 = chinchilla_point(base.candidates[0].scenario)
    n_lo, n_hi = min(path_n.min(), n0) / 6.0, max(path_n.max(), n0) * 6.0
    d_lo, d_hi = min(path_d.min(), d0) / 6.0, max(path_d.max(), d0) * 6.0
    ns = np.logspace(np.log10(n_lo), np.log10(n_hi), points)
    ds = np.logspace(np.log10(d_lo), np.log10(d_hi), points)
    nn, dd = np.meshgrid(ns, ds)
    loss = np.asarray(law.loss(nn, dd), dtype=float)
    c_lo, c_hi = 6 * n_lo * d_lo, 6 * n_hi * d_hi
    flops = 10.0 ** np.arange(np.ceil(np.log10(c_lo)), np.floor(np.log10(c_hi)) + 1)
    r = study["base_result"]
    return {"params": ns, "tokens": ds, "loss": loss, "target": base.target_loss,
            "iso_flops": flops, "path_params": path_n, "path_tokens": path_d,
            "path_demand": levels, "plan": (r.plan.params, r.plan.train_tokens),
            "chinchilla": (n0, d0), "law": law.name,
            "penalised": bool(r.plan.extra.get("loss_penalty"))}


# ---- drawing --------------------------------------------------------------------------------
def _figure(width=7.2, height=4.6):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("figures need matplotlib: pip install matplotlib (or pip install "
                         "'.[plot]' in a planner checkout)") from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _fmt_tokens(x: float) -> str:
    from planner.units import format_count

    return format_count(x)


def _count_axis(axis) -> None:
    """Log axis ticks as 3B, 10B, 2T (no overlapping minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _fmt_tokens(v)))
    axis.set_minor_formatter(NullFormatter())


def cost_vs_params_figure(d: dict):
    fig = _figure(9.2, 4.8)
    ax = fig.add_subplot()
    unit = unit_label(d["unit"])
    colors = _colors(len(d["curves"]))
    for c, color in zip(d["curves"], colors):
        m = c["multiplier"]
        label = (f"demand ×{m:g} ({_fmt_tokens(c['demand_tokens'])} tokens)"
                 if d["base_total"] > 0 else f"demand {_fmt_tokens(c['demand_tokens'])} tokens")
        lw = 2.6 if np.isclose(m, 1.0) and d["base_total"] > 0 else 1.4
        ax.plot(d["params"], c["objective"], color=color, lw=lw, label=label)
        ax.plot([c["opt_params"]], [c["opt_objective"]], "o", color=color, ms=8, mec="black",
                zorder=5)
    ax.axvline(d["chinchilla_params"], color="grey", ls=":", lw=1.2,
               label=f"Chinchilla-optimal N = {_fmt_tokens(d['chinchilla_params'])}")
    ax.plot([], [], "o", color="white", mec="black", ms=8, label="minimum (the solver's plan)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _count_axis(ax.xaxis)
    ax.set_xlabel("parameters N (model size)")
    ax.set_ylabel(f"lifetime cost ({unit}, training + inference)")
    ax.set_title("Lifetime cost vs model size, every model at the target loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def frontier_figure(d: dict):
    fig = _figure(8.4, 5.0)
    ax = fig.add_subplot()
    unit = unit_label(d["unit"])
    styles = {"plan": ("#1f77b4", "-"), "baseline": ("#ff7f0e", "-.")}
    lo_x, hi_x = [], []
    for b in d["branches"]:
        color, ls = styles[b["who"]]
        conf = f" ({b['configuration']})" if b["configuration"] else ""
        who = "plan's" if b["who"] == "plan" else "baseline's"
        label = (f"non-dominated models at the target loss{conf}" if len(d["branches"]) == 1
                 else f"frontier at the {who} configuration{conf}")
        ax.plot(b["train"], b["inference"], color=color, ls=ls, lw=2, label=label)
        if len(b["train"]):
            lo_x.append(b["train"].min())
            hi_x.append(b["train"].max())
    (pt, pi), (ct, ci) = d["plan"], d["chinchilla"]
    total = pt + pi
    xs = np.logspace(np.log10(min(lo_x + [pt, ct]) * 0.8), np.log10(max(hi_x + [pt]) * 1.05),
                     300)
    ys = total - xs
    keep = ys > 0.02 * total
    ax.plot(xs[keep], ys[keep], color="grey", ls="--", lw=1,
            label=f"same lifetime cost as the plan ({_num(total)} {unit})")
    ax.plot([pt], [pi], "*", color="#d62728", ms=15, mec="black", zorder=5,
            label=f"plan: N = {_fmt_tokens(d['plan_params'])}")
    ax.plot([ct], [ci], "s", color="#ff7f0e", ms=9, mec="black", zorder=5,
            label=f"Chinchilla-optimal: N = {_fmt_tokens(d['chinchilla_params'])}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"training cost ({unit})")
    ax.set_ylabel(f"lifetime inference cost ({unit})")
    ax.set_title("Training vs inference cost along the iso-loss curve")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", framealpha=0.9)
    return fig


def contour_figure(d: dict):
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import MaxNLocator

    fig = _figure(9.2, 5.6)
    ax = fig.add_subplot()
    n, t, loss = d["params"], d["tokens"], d["loss"]
    lo, hi = float(np.nanmin(loss)), float(np.nanpercentile(loss, 97))
    levels = MaxNLocator(nbins=12).tick_values(lo, hi)
    ax.contourf(n, t, loss, levels=levels, cmap="Blues_r", alpha=0.55, extend="both")
    lines = ax.contour(n, t, loss, levels=levels, colors="#4a6a8a", linewidths=0.6)
    ax.clabel(lines, levels[::2], fmt="%.2f", fontsize=7, inline=True)
    tc = ax.contour(n, t, loss, levels=[d["target"]], colors="#2ca02c", linewidths=2.4)
    ax.clabel(tc, fmt={d["target"]: f"target {d['target']:.3f}"}, fontsize=8)
    j = len(n) // 10
    for c in d["iso_flops"]:
        ax.plot(n, c / (6.0 * n), color="black", lw=0.7, ls="--", alpha=0.55)
        y = c / (6.0 * n[j])
        if t[0] * 1.2 <= y <= t[-1] / 1.5:
            ax.text(n[j], y * 1.1, f"{c:.0e} FLOPs", fontsize=6.5, alpha=0.8)
    demand = np.maximum(d["path_demand"], 1.0)
    norm = LogNorm(vmin=demand.min(), vmax=max(demand.max(), demand.min() * 10))
    ax.plot(d["path_params"], d["path_tokens"], color="#d62728", lw=1.5, zorder=4)
    sc = ax.scatter(d["path_params"], d["path_tokens"], c=demand, cmap="Reds", norm=norm,
                    edgecolors="black", s=34, zorder=5, label="optimum as demand grows")
    fig.colorbar(sc, ax=ax, label="lifetime inference demand (tokens)", shrink=0.8)
    ax.plot(*d["plan"], "*", color="#d62728", ms=17, mec="black", zorder=6, label="plan")
    ax.plot(*d["chinchilla"], "s", color="#ff7f0e", ms=9, mec="black", zorder=6,
            label="Chinchilla-optimal")
    ax.plot([], [], color="#2ca02c", lw=2.4, label="target loss (nats/token)")
    ax.plot([], [], color="#4a6a8a", lw=0.6, label="loss contours (nats/token)")
    ax.plot([], [], color="black", ls="--", lw=0.7, label="iso-FLOP lines (6·N·D)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _count_axis(ax.xaxis)
    _count_axis(ax.yaxis)
    ax.set_xlim(n[0], n[-1])
    ax.set_ylim(t[0], t[-1])
    ax.set_xlabel("parameters N")
    ax.set_ylabel("training tokens D")
    title = f"Iso-loss contours of {d['law']} and the optimum's path as demand grows"
    if d.get("penalised"):
        title += "\n(16-bit loss; quantised plans sit past the target by their penalty)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7.5, loc="lower left", framealpha=0.9)
    return fig


def tornado_figure(sens):
    """Two panels: change of the optimal N and of the optimal lifetime cost, per input at
    −x% and +x%."""
    from matplotlib.patches import Patch

    rows = sens.sorted_rows("objective")[::-1]
    fig = _figure(9.6, 0.45 * len(rows) + 1.9)
    pct = 100 * sens.fraction
    panels = (("params", "optimal parameters N"),
              ("objective", f"optimal lifetime cost ({unit_label(sens.objective_unit)})"))
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(rows))
    limit = 100.0
    colors = ("#1f77b4", "#d62728")
    for ax, (metric, title) in zip(axes, panels):
        base = getattr(sens.base, metric)
        for j, r in enumerate(rows):
            for v, color, side in zip(r.change(metric, base), colors, (-1, 1)):
                off = 0.17 * side
                if v is None:
                    ax.text(side * limit * 0.98, j + off, f"{'−' if side < 0 else '+'}"
                            f"{pct:g}%: infeasible", ha="left" if side < 0 else "right",
                            va="center", fontsize=7, color=color)
                    continue
                w = 100 * v
                ax.barh(j + off, max(min(w, limit), -limit), color=color, height=0.34)
                if abs(w) > limit:
                    ax.text(np.sign(w) * limit * 0.98, j + off, f"{w:+.0f}%", va="center",
                            fontsize=7, ha="right" if w > 0 else "left", color="white")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(-limit * 1.02, limit * 1.02)
        ax.set_xlabel(f"change of {title} (%)", fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels([f"{r.label} = {r.base_value:.4g}{' ' + r.unit if r.unit else ''}"
                             for r in rows], fontsize=8)
    axes[0].set_ylim(-0.6, len(rows) - 0.4)
    fig.legend(handles=[Patch(color=colors[0], label=f"input −{pct:g}%"),
                        Patch(color=colors[1], label=f"input +{pct:g}%")],
               loc="outside lower center", ncols=2, fontsize=8)
    conf = f"; configuration held: {sens.configuration}" if sens.configuration else ""
    fig.suptitle(f"Sensitivity of the plan to ±{pct:g}% in each input (bars clipped at "
                 f"±100%{conf})", fontsize=10)
    return fig


def _colors(k: int):
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    return [cmap(0.1 + 0.75 * i / max(k - 1, 1)) for i in range(k)]


def _num(x: float) -> str:
    return f"{x:.3g}"


def save_figure(fig, out_dir: str | Path, stem: str,
                formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``stem.png`` / ``stem.svg``; the SVG is byte-stable (fixed hash salt, no date)."""
    import matplotlib

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if fig.get_layout_engine() is not None:  # lay out once, not once per format
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}):
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            if fmt == "svg":
                fig.savefig(path, format="svg", metadata={"Date": None})
            elif fmt == "png":
                fig.savefig(path, format="png", dpi=110)
            else:
                raise InputError(f"unknown figure format {fmt!r}: png or svg")
            paths.append(path)
    return paths


__all__ = ["contour_data", "contour_figure", "cost_vs_params_data", "cost_vs_params_figure",
           "curve_costs", "demand_study", "frontier_data", "frontier_figure", "save_figure",
           "tornado_figure"]
