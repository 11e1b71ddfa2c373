"""Diagnostics figure of a law fit (matplotlib object API, Agg; no pyplot): observed vs
predicted loss, residuals against N, and iso-loss contours in (N, D) with the runs overlaid.
Every colour scale has its colourbar; held-out runs (``--holdout``) are drawn as open red
circles with their hold-out prediction; count axes read 10M, 1B (few ticks, no overlap)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def fit_figure(result, runs, path: str | Path) -> Path:
    """Write the three-panel figure to ``path`` (PNG or SVG by suffix)."""
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "planner"
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from planner.units import format_count

    def count_axis(axis):
        axis.set_major_locator(LogLocator(base=10, numticks=5))
        axis.set_major_formatter(FuncFormatter(lambda x, _: format_count(x)))
        axis.set_minor_formatter(NullFormatter())

    fig = Figure(figsize=(16, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    law, pred = result.law, result.predicted
    held = (result.holdout or {}).get("runs") or []
    sc1 = ax1.scatter(runs.loss, pred, s=12, c=np.log10(runs.params), cmap="viridis")
    fig.colorbar(sc1, ax=ax1, label="log10 parameters N", shrink=0.85)
    if held:
        ax1.scatter([r["observed"] for r in held], [r["predicted"] for r in held], s=40,
                    facecolors="none", edgecolors="#d62728", lw=1.2,
                    label="held out (predicted without them)")
    lo, hi = float(min(runs.loss.min(), pred.min())), float(max(runs.loss.max(), pred.max()))
    ax1.plot([lo, hi], [lo, hi], color="grey", lw=1, label="predicted = observed")
    ax1.set_xlabel("observed loss (nats/token)")
    ax1.set_ylabel("predicted loss (nats/token)")
    ax1.set_title(f"{result.form} fit, {result.n_runs} runs")
    ax1.legend(loc="upper left")
    sc2 = ax2.scatter(runs.params, 100 * np.expm1(result.residuals), s=12,
                      c=np.log10(runs.tokens / runs.params), cmap="plasma")
    fig.colorbar(sc2, ax=ax2, label="log10 tokens / parameter", shrink=0.85)
    if held:
        ax2.scatter([r["params"] for r in held], [100 * r["rel_error"] for r in held], s=40,
                    facecolors="none", edgecolors="#d62728", lw=1.2, label="held out")
        ax2.legend(loc="upper right", fontsize=8)
    ax2.axhline(0, color="grey", lw=1)
    ax2.set_xscale("log")
    count_axis(ax2.xaxis)
    ax2.set_xlabel("parameters N")
    ax2.set_ylabel("relative error of predicted loss (%)")
    ax2.set_title("residuals")
    n = np.logspace(np.log10(runs.params.min()) - 0.3, np.log10(runs.params.max()) + 0.3, 120)
    d = np.logspace(np.log10(runs.tokens.min()) - 0.3, np.log10(runs.tokens.max()) + 0.3, 120)
    nn, dd = np.meshgrid(n, d)
    levels = np.unique(np.round(np.quantile(runs.loss, np.linspace(0.05, 0.95, 8)), 2))
    cs = ax3.contour(nn, dd, np.asarray(law.loss(nn, dd)), levels=levels, cmap="viridis")
    ax3.clabel(cs, fontsize=7, fmt="%.2f")
    fig.colorbar(cs, ax=ax3, label="loss (nats/token)", shrink=0.85)
    ax3.scatter(runs.params, runs.tokens, s=10, color="black", label="runs")
    if held:
        ax3.scatter([r["params"] for r in held], [r["tokens"] for r in held], s=40,
                    facecolors="none", edgecolors="#d62728", lw=1.2, label="held out")
    ax3.set_xscale("log")
    ax3.set_yscale("log")
    count_axis(ax3.xaxis)
    count_axis(ax3.yaxis)
    ax3.set_xlabel("parameters N")
    ax3.set_ylabel("training tokens D")
    ax3.set_title("fitted iso-loss contours (nats/token)")
    ax3.legend(loc="upper left")
    out = Path(path)
    import io

    from planner.files import atomic_write

    fmt = out.suffix.lower().lstrip(".") or "png"
    buf = io.BytesIO()  # render to bytes, then write atomically
    fig.savefig(buf, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
    atomic_write(out, buf.getvalue(), option="--plot")
    return out
