"""Figures for planning reviews: drawings only (matplotlib's object API on the Agg canvas, no
pyplot) of the numbers computed by ``planner.analysis.curves`` and ``.sensitivity``.

* lifetime cost vs N along the iso-loss curve, for several demands, minima marked;
* the train-vs-inference cost frontier (non-dominated branch), plan and Chinchilla marked;
* iso-loss contours in (N, D) with iso-FLOP lines and the optimum's path as demand grows;
* a tornado chart of the plan's sensitivity (planner.analysis.sensitivity).

matplotlib is an optional extra (``pip install matplotlib``, or the ``plot`` extra:
``pip install '.[plot]'`` in a checkout) imported inside the drawing functions.
``save_figure`` writes PNG (the default) and/or SVG, each figure laid out once (``_row_layout``:
one measuring pass with the renderer) and drawn once per file; the SVG is byte-stable between
runs (``svg.hashsalt`` fixed, no date in the metadata).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from planner.errors import InputError

SVG_SALT = "planner"
DPI = 110  # pixels per inch of the PNGs; the figures are laid out at the same dpi, so the
# layout pass and the drawing share one Agg renderer and its cached text extents
PNG_COMPRESS_LEVEL = 3  # zlib level of the PNGs: encoding 17 ms a figure instead of 25 ms at
# PIL's default (6), files 2-4% larger (which-draft's figures, 2026-12)


def unit_label(unit: str) -> str:
    from planner.units import UNIT_LABELS

    return UNIT_LABELS.get(unit, unit)


# ---- drawing --------------------------------------------------------------------------------
def _figure(width=7.2, height=4.6):
    """A figure of ``width`` × ``height`` inches on an Agg canvas; its axes are placed by
    ``_row_layout`` (set by each drawing function) when it is saved."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("figures need matplotlib: pip install matplotlib (or pip install "
                         "'.[plot]' in a planner checkout)") from None
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


# ---- layout: one measuring pass ---------------------------------------------------------------
PAD = 0.05  # inches between the figure's edge and anything drawn (constrained layout: 3/72)


def _row_layout(panels, gap=0.15, above=(), below=()):
    """A layout engine that places ``panels`` side by side: (axes, width in inches, or None to
    share what the fixed ones leave, height as a fraction of the shared panels' height,
    centred), ``gap`` inches apart, with room for what each draws around itself (tick and axis
    labels, titles, legends outside it), for the figure texts ``above`` (a suptitle) and the
    figure legends ``below``.  Those extents are measured once with the renderer (matplotlib's
    constrained layout measures twice and solves for a general grid: 0.1-0.2 s a figure)."""
    from matplotlib.layout_engine import LayoutEngine

    class RowLayout(LayoutEngine):
        _adjust_compatible = False
        _colorbar_gridspec = False

        def execute(self, fig):
            _place_row(fig, panels, gap, above, below)

    return RowLayout()


def _around(ax, renderer) -> tuple[float, float, float, float]:
    """Pixels that ``ax`` draws outside its position: left, right, bottom, top."""
    tight = ax.get_tightbbox(renderer)
    box = ax.get_position(original=True).transformed(ax.figure.transFigure)
    return (max(box.x0 - tight.x0, 0.0), max(tight.x1 - box.x1, 0.0),
            max(box.y0 - tight.y0, 0.0), max(tight.y1 - box.y1, 0.0))


def _place_row(fig, panels, gap, above, below) -> None:
    r = fig.canvas.get_renderer()
    w_px, h_px, dpi = fig.bbox.width, fig.bbox.height, fig.dpi
    pad, gap = PAD * dpi, gap * dpi
    around = [_around(ax, r) for ax, _, _ in panels]
    top = pad + max([h_px - t.get_window_extent(r).y0 for t in above], default=0.0)
    bottom = pad + max([t.get_window_extent(r).y1 + pad for t in below], default=0.0)
    shared = [i for i, (_, width, _) in enumerate(panels) if width is None]
    fixed = sum(width * dpi for _, width, _ in panels if width is not None)
    free = w_px - 2 * pad - sum(a[0] + a[1] for a in around) - gap * (len(panels) - 1) - fixed
    each = free / len(shared)
    y0 = bottom + max(around[i][2] for i in shared)
    height = h_px - top - max(around[i][3] for i in shared) - y0
    x = pad
    for (ax, width, frac), (left, right, _, _) in zip(panels, around):
        w = each if width is None else width * dpi
        h = height * frac
        ax.set_position([(x + left) / w_px, (y0 + (height - h) / 2) / h_px, w / w_px, h / h_px])
        x += left + w + right + gap


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
    ax = fig.add_axes((0.08, 0.1, 0.68, 0.83))  # about where the layout puts it
    fig.set_layout_engine(_row_layout([(ax, None, 1.0)]))
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
    ax = fig.add_axes((0.1, 0.1, 0.88, 0.84))
    fig.set_layout_engine(_row_layout([(ax, None, 1.0)]))
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
    ax = fig.add_axes((0.08, 0.1, 0.68, 0.83))
    demand_bar = fig.add_axes((0.82, 0.18, 0.02, 0.66))  # colour bars: 0.2 in wide, 80% of
    loss_bar = fig.add_axes((0.91, 0.18, 0.02, 0.66))  # the plot's height
    fig.set_layout_engine(_row_layout([(ax, None, 1.0), (demand_bar, 0.2, 0.8),
                                       (loss_bar, 0.2, 0.8)], gap=0.2))
    n, t, loss = d["params"], d["tokens"], d["loss"]
    lo, hi = float(np.nanmin(loss)), float(np.nanpercentile(loss, 97))
    levels = MaxNLocator(nbins=12).tick_values(lo, hi)
    filled = ax.contourf(n, t, loss, levels=levels, cmap="Blues_r", alpha=0.55, extend="both")
    fig.colorbar(filled, cax=loss_bar, label="loss (nats/token)")
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
    fig.colorbar(sc, cax=demand_bar, label="lifetime inference demand (tokens)")
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
    legend = fig.legend(handles=[Patch(color=colors[0], label=f"input −{pct:g}%"),
                                 Patch(color=colors[1], label=f"input +{pct:g}%")],
                        loc="lower center", ncols=2, fontsize=8)
    title = fig.suptitle(_tornado_title(pct, sens.configuration), fontsize=10)
    fig.set_layout_engine(_row_layout([(ax, None, 1.0) for ax in axes], above=[title],
                                      below=[legend]))
    return fig


def _tornado_title(pct: float, configuration: str | None, width: int = 110) -> str:
    """The tornado's title; the configuration held on lines of its own (at most ``width``
    characters: a 9.6-inch figure holds ~120 at 10 pt), so that a long one is not clipped."""
    import textwrap

    title = f"Sensitivity of the plan to ±{pct:g}% in each input (bars clipped at ±100%)"
    if not configuration:
        return title
    return "\n".join([title, *textwrap.wrap(f"configuration held: {configuration}", width)])


def _colors(k: int):
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    return [cmap(0.1 + 0.75 * i / max(k - 1, 1)) for i in range(k)]


def _num(x: float) -> str:
    return f"{x:.3g}"


def _drop_layout_engine(fig) -> None:
    """No layout engine at all once laid out.  ``set_layout_engine("none")`` would leave a
    placeholder engine, and savefig draws a figure that has any engine once without rendering
    before drawing it: every figure drawn twice."""
    import matplotlib

    with matplotlib.rc_context({"figure.autolayout": False,
                                "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)  # None reads these two rcParams: both off, no engine
    assert fig.get_layout_engine() is None


def save_figure(fig, out_dir: str | Path, stem: str,
                formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``stem.png`` / ``stem.svg`` (each rendered in memory, then written atomically);
    the SVG is byte-stable (fixed hash salt, no date)."""
    import io

    import matplotlib

    from planner.files import atomic_write

    for fmt in formats:
        if fmt not in ("png", "svg"):
            raise InputError(f"unknown figure format {fmt!r}: png or svg")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the figures folder: "
                         f"{exc.strerror or exc}") from None
    paths = []
    engine = fig.get_layout_engine()
    if engine is not None:  # lay out once, not once per format, and without drawing
        engine.execute(fig)
        _drop_layout_engine(fig)
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}):
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            buf = io.BytesIO()
            if fmt == "svg":
                fig.savefig(buf, format="svg", metadata={"Date": None})
            else:
                fig.savefig(buf, format="png", dpi=DPI,
                            pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
            atomic_write(path, buf.getvalue())
            paths.append(path)
    return paths


__all__ = ["contour_figure", "cost_vs_params_figure", "frontier_figure", "save_figure",
           "tornado_figure", "unit_label"]
