"""Render plans for people (rich tables) and for programs (JSON)."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.table import Table

from planner.plan import PlanResult
from planner.units import (
    UNIT_LABELS,
    format_count,
    format_objective,
    format_sci,
    format_usd,
)


def to_json(result: Any) -> str:
    """One JSON document (NaN/inf become null: strict JSON), with ``schema_version`` first."""
    from planner.plan import JSON_SCHEMA_VERSION

    doc = result.to_dict() if hasattr(result, "to_dict") else result
    if isinstance(doc, dict) and "schema_version" not in doc:
        doc = {"schema_version": JSON_SCHEMA_VERSION, **doc}
    return json.dumps(_clean(doc), indent=2, allow_nan=False)


def _clean(x):
    t = type(x)  # the common types first (a sweep's document holds ~10^6 values)
    if t is float:
        return x if math.isfinite(x) else None
    if t is str or t is int or t is bool or x is None:
        return x
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        return _clean(x.item())
    return x


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def savings_lines(result: PlanResult) -> list[str]:
    """The saving against the Chinchilla-optimal model of the same loss served with the same
    options, and, when the options differ from plain serving, the split of the saving against
    the plainly served model into model size and serving options."""
    s = result.savings
    unit = result.objective_unit

    def amount(x: float) -> str:
        return f"{format_sci(x)} FLOPs" if unit == "flops" else format_objective(x, unit)

    frac = s["fraction"] if unit == "flops" else s["objective_fraction"]
    diff = s["flops"] if unit == "flops" else s[unit]
    lines = [f"Saving against the Chinchilla-optimal model served the same way: {amount(diff)} "
             f"({100 * frac:.1f}% of its lifetime {unit})"]
    plain = result.baseline_plain
    if plain is not None and abs(s["from_serving_options"]) > 1e-9 * abs(plain.objective):
        total = s["from_model_size"] + s["from_serving_options"]
        lines.append(f"Against the plainly served (16-bit, no speculation) Chinchilla model: "
                     f"{amount(total)} ({100 * s['against_plain_fraction']:.1f}%), of which "
                     f"model size {amount(s['from_model_size'])} and serving options "
                     f"{amount(s['from_serving_options'])}")
    return lines


def uncertainty_line(u: dict) -> str:
    """The uncertainty headline: the spread of the optimum, then the point plan's regret by
    its median and P90 (the mean only with the share of it that its top decile carries)."""
    unit = u["objective_unit"]
    mean = u["expected_regret_fraction"]
    tail = u.get("regret_tail_share", math.nan)
    mean_text = (f"; mean {100 * mean:.1f}%, {100 * tail:.0f}% of it from the worst 10% of "
                 "samples" if math.isfinite(mean) and math.isfinite(tail) else "")
    return (f"Uncertainty ({u['n_samples']} samples, {u['source']}): optimal parameters "
            f"P10 {format_count(u['params']['p10'])} / P50 {format_count(u['params']['p50'])} / "
            f"P90 {format_count(u['params']['p90'])}; lifetime {unit} P10 "
            f"{format_objective(u['objective']['p10'], unit)} / P90 "
            f"{format_objective(u['objective']['p90'], unit)}; regret of this plan: median "
            f"{100 * u['median_regret_fraction']:.1f}%, P90 "
            f"{100 * u['p90_regret_fraction']:.1f}%{mean_text}; target out of its reach in "
            f"{100 * u['infeasible_fraction']:.0f}% of samples")


def plan_table(result: PlanResult) -> Table:
    """The plan beside the Chinchilla-optimal baseline of the same loss."""
    p, b = result.plan, result.baseline
    t = Table(title=f"Plan at target loss {result.target_loss:.4f} nats/token "
                    f"(law {result.law['name']}, objective {result.objective_unit})")
    t.add_column("")
    t.add_column("planned", justify="right", style="bold")
    t.add_column("Chinchilla-optimal", justify="right")
    t.add_column("change", justify="right")

    def row(label, pv, bv, fmt, change=True):
        ch = _pct(pv / bv - 1) if change and bv else ""
        t.add_row(label, fmt(pv), fmt(bv), ch)

    row("parameters", p.params, b.params, format_count)
    row("training tokens", p.train_tokens, b.train_tokens, format_count)
    row("tokens / parameter", p.tokens_per_param, b.tokens_per_param, lambda v: f"{v:,.1f}")
    row("loss (nats/token)", p.loss, b.loss, lambda v: f"{v:.4f}", change=False)
    row("training FLOPs", p.train_flops, b.train_flops, format_sci)
    row("inference FLOPs", p.inference_flops, b.inference_flops, format_sci)
    row("total FLOPs", p.total_flops, b.total_flops, format_sci)
    for key, label in (("train_usd", "training $"), ("inference_usd", "inference $"),
                       ("total_usd", "total $")):
        if key in p.costs:
            row(label, p.costs[key], b.costs.get(key, math.nan), format_usd)
    for key, label in (("train_gpu_hours", "training GPU-hours"),
                       ("inference_gpu_hours", "inference GPU-hours"),
                       ("energy_kwh", "energy (kWh)")):
        if key in p.costs:
            row(label, p.costs[key], b.costs.get(key, math.nan), format_count)
    if result.objective_unit not in ("flops", "usd", "gpu_hours", "energy_kwh"):
        row(f"objective ({result.objective_unit})", p.objective, b.objective,
            lambda v: format_objective(v, result.objective_unit))
    return t


def serving_table(result: PlanResult) -> Table | None:
    """The serving configuration the optimizer chose, its latency and footprint."""
    p = result.plan
    if p is None or not p.serving:
        return None
    sv, ex = p.serving, p.extra
    t = Table(title=f"Serving on {sv['hardware']} ({ex.get('configuration', '')})")
    t.add_column("")
    t.add_column("value", justify="right")
    rows = [("weight bits", f"{sv['weight_bits']} (loss penalty {ex.get('loss_penalty', 0):.4f} "
                            f"nats, served loss {ex.get('served_loss', p.loss):.4f})"),
            ("batch size", f"{sv['batch_size']:.4g} run (configured "
                           f"{sv.get('configured_batch_size', sv['batch_size'])}, Little's law)"),
            ("GPUs per replica", f"{sv['gpus_per_replica']} ({sv.get('interconnect', '')})"),
            ("decode regime", sv["decode_regime"] + (
                f"; compute-bound from batch {sv['ridge_batch']:,.0f}"
                if isinstance(sv.get("ridge_batch"), (int, float)) else
                "; never compute-bound (KV grows as fast)" if sv.get("ridge_batch") == "never"
                else ""))]
    if sv.get("demand_split", "given") != "given":
        rows.append(("demand split", sv["demand_split"]))
    cap = sv.get("capacity", {})
    if cap:
        rows.append(("billing", f"{cap['billing']} GPU-hours" + (
            f" ({cap['note']})" if cap.get("note") else "")))
    if "replicas" in sv:
        rows.append(("replicas (peak × target utilisation)",
                     f"{sv['replicas']:,} ({sv['serving_gpus']:,} GPUs; continuous "
                     f"{cap.get('replicas_continuous', math.nan):.3g} as optimised)"))
        rows.append(("GPU-hours provisioned / busy",
                     f"{format_count(cap['provisioned_gpu_hours'])} / "
                     f"{format_count(cap['busy_gpu_hours'])} "
                     f"(utilisation {100 * cap['utilization']:.1f}%)"))
        if "inference_usd_integer_replicas" in cap:
            rows.append(("inference $ with whole replicas",
                         format_usd(cap["inference_usd_integer_replicas"])))
    if "time_to_first_token_s" in sv:
        rows += [("time to first token", f"{1e3 * sv['time_to_first_token_s']:.1f} ms"),
                 ("time per output token", f"{1e3 * sv['time_per_output_token_s']:.2f} ms "
                                           "(prefill interleaved; "
                  f"{1e3 * sv.get('time_per_output_token_unloaded_s', math.nan):.2f} ms "
                                           "decoding alone)"),
                 ("idealized runtime / request",
                  f"{sv['idealized_runtime_s']:.3f} s on {sv['idealized_accelerators']} GPU(s), "
                  f"{format_usd(sv['idealized_cost_usd'])}")]
    spec = ex.get("speculative")
    if spec:
        rows.append(("speculative decoding",
                     f"γ={spec['gamma']}, α={spec['acceptance']}, speed-up "
                     f"{spec['speedup']:.2f}×" if spec["enabled"] else
                     f"off (α={spec['acceptance']} does not pay at c={spec['c']:.3f})"))
    if "train_wall_clock_days" in p.costs:
        rows.append(("training wall-clock", f"{p.costs['train_wall_clock_days']:.1f} days on "
                                            f"{p.costs['train_gpus']:.0f} GPUs"))
    for k, v in rows:
        t.add_row(k, v)
    return t


def breakdown_table(result: PlanResult) -> Table | None:
    """Itemised lifetime cost of the plan: dollars, GPU-hours and energy per item."""
    c = result.plan.costs if result.plan else {}
    if not c:
        return None
    t = Table(title="Cost breakdown (planned model)")
    for col in ("item", "USD", "GPU-hours", "energy kWh", "share"):
        t.add_column(col, justify="left" if col == "item" else "right")
    total = c["total_usd"] or 1.0
    for item in ("train", "draft_train", "prefill", "decode", "draft", "overhead",
                 "communication", "idle"):
        usd = c.get(f"{item}_usd", 0.0)
        if usd <= 0:
            continue
        t.add_row(item.replace("_", " "), format_usd(usd), format_count(c[f'{item}_gpu_hours']),
                  format_count(c[f'{item}_energy_kwh']), f"{100 * usd / total:.1f}%")
    t.add_row("total", format_usd(c["total_usd"]), format_count(c['total_gpu_hours']),
              format_count(c['energy_kwh']), "100%")
    return t


def energy_table(result: PlanResult) -> Table | None:
    """Energy of the plan by phase: GPU-hours × the phase's board power × PUE."""
    e = result.plan.extra.get("energy") if result.plan else None
    if not e:
        return None
    t = Table(title="Energy by phase (planned model): GPU-hours × power × PUE")
    for col in ("phase", "hardware", "power W", "power from", "GPU-hours", "PUE", "energy kWh"):
        t.add_column(col, justify="left" if col in ("phase", "hardware", "power from")
                     else "right")
    for phase, p in e["phases"].items():
        t.add_row(phase, p["hardware"], f"{p['power_watts']:,.0f}", p["basis"],
                  format_count(p["gpu_hours"]), f"{p['pue']:g}", format_count(p["energy_kwh"]))
    t.add_row("total", "", "", "", "", "", format_count(e["energy_kwh"]))
    return t


def power_source_lines(result: PlanResult) -> list[str]:
    """One line per hardware profile of the plan: where its power figures come from."""
    e = result.plan.extra.get("energy") if result.plan else None
    seen: dict[str, str] = {}
    for p in (e or {}).get("phases", {}).values():
        if p["power_source"]:
            seen.setdefault(p["hardware"], p["power_source"])
    return [f"Power figures of {hw}: {src}" for hw, src in seen.items()]


def training_table(result: PlanResult) -> Table | None:
    """The training plan: shape, learning rate, batch, steps, split, memory, GPUs, days."""
    from planner.render.training import training_rows

    tp = result.plan.extra.get("training_plan") if result.plan else None
    if not tp:
        return None
    t = Table(title=f"Training plan on {tp['hardware']}")
    t.add_column("")
    t.add_column("value", justify="right")
    for k, v in training_rows(tp):
        t.add_row(k, v)
    return t


def constraints_table(result: PlanResult) -> Table | None:
    if not result.plan or not result.plan.constraints:
        return None
    t = Table(title="Constraints (in the units of their budget keys)")
    for col in ("constraint", "value", "limit", "unit", "slack", "binding"):
        t.add_column(col, justify="left" if col in ("constraint", "unit") else "right")
    for name, c in result.plan.constraints.items():
        slack = f"{100 * c['slack']:.1f}%"
        t.add_row(name, f"{c['value_in_unit']:.4g}", f"{c['limit_in_unit']:.4g}", c["unit"],
                  "0.0%" if slack == "-0.0%" else slack, "yes" if c["active"] else "")
    return t


def choices_table(result: PlanResult) -> Table | None:
    """Runner-up choices: each listed hardware's (and draft's) best plan beside the chosen
    one, or the constraints that leave it without a plan."""
    rows = getattr(result, "alternatives", ())
    if not rows:
        return None
    from planner.optimize.choices import DIMENSIONS

    unit = result.objective_unit
    ulabel = UNIT_LABELS.get(unit, unit)
    t = Table(title="Runner-up choices: each option's best plan")
    for col in ("choice", "option", "parameters", "training tokens", f"lifetime cost ({ulabel})",
                "vs plan", "binding constraints"):
        t.add_column(col, justify="left" if col in ("choice", "option", "binding constraints")
                     else "right")
    for r in rows:
        name = f"{r['name']} (chosen)" if r["chosen"] else r["name"]
        if r["status"] != "optimal":
            t.add_row(DIMENSIONS[r["choice"]], name, "—", "—", "—", "—",
                      "[red]infeasible: " + (", ".join(r["binding"]) or r["message"]) + "[/red]")
            continue
        t.add_row(DIMENSIONS[r["choice"]], name, format_count(r["params"]),
                  format_count(r["train_tokens"]), format_objective(r["objective"], unit),
                  _pct(r["vs_plan"]), ", ".join(r["binding"]) or "none (loss target only)")
    return t


def render_plan(result: PlanResult, console: Console,
                warnings_to: Console | None = None) -> None:
    """Print the plan tables, the saving, the solver cross-check; warnings go to
    ``warnings_to`` (the CLI passes stderr)."""
    console.print(plan_table(result))
    for table in (breakdown_table(result), energy_table(result), serving_table(result)):
        if table is not None:
            console.print(table)
    for line in power_source_lines(result):
        console.print(line, markup=False, highlight=False)
    tt = training_table(result)
    if tt is not None:
        console.print(tt)
    ct = constraints_table(result)
    if ct is not None:
        console.print(ct)
    cht = choices_table(result)
    if cht is not None:
        console.print(cht)
    for line in savings_lines(result):
        console.print(line)
    u = result.plan.extra.get("uncertainty") if result.plan else None
    if u:
        console.print(uncertainty_line(u))
    if result.active_constraints:
        console.print("Binding constraints: " + ", ".join(result.active_constraints))
    cross = result.diagnostics.get("cross_check")
    if cross:
        console.print(f"Cross-check against {cross['solver']}: parameters differ by "
                      f"{cross['params_rel_diff']:.2e}, lifetime {result.objective_unit} by "
                      f"{cross['objective_rel_diff']:.2e} (relative)")
    for w in result.warnings:
        (warnings_to or console).print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"[dim]solver: {result.solver}[/dim]")


# ---- planning-review outputs (sweep, compare, report; issue 6) -----------------------------
def _fmt_metric(value, kind: str, unit: str = "") -> str:
    if value is None:
        return "—"
    if kind == "text":
        return str(value)
    if not math.isfinite(value):
        return "—"
    if kind == "count":
        return format_count(value)
    if kind == "ratio":
        return f"{value:,.1f}"
    if kind == "loss":
        return f"{value:.4f}"
    if kind == "sci":
        return format_sci(value)
    if kind == "usd":
        return format_usd(value)
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "objective":
        return format_objective(value, unit)
    return f"{value:,.4g}"


def compare_table(comparison) -> Table:
    """Scenarios side by side; values that differ from the first column are highlighted with
    their relative change, rows where scenarios differ are marked ``≠``."""
    mode = ("fixed model " + ", ".join(f"{k}={format_count(v)}"
                                       for k, v in comparison.at.items())
            if comparison.at else "each scenario's optimum")
    t = Table(title=f"Scenario comparison ({mode}); ≠ marks rows that differ, changes are "
                    "relative to the first column")
    t.add_column("")
    t.add_column("", width=1)
    for e in comparison.entries:
        t.add_column(e.name, justify="right")
    for m in comparison.metrics():
        rel = m.relative()
        cells = []
        for i, v in enumerate(m.values):
            unit = m.units[i] if m.units else ""
            text = _fmt_metric(v, m.kind, unit)
            differs = (i > 0 and v is not None and m.values[0] is not None
                       and (m.kind == "text" and v != m.values[0]
                            or m.kind != "text" and rel[i] is not None and abs(rel[i]) > 1e-6
                            or m.kind == "pct" and abs(v - m.values[0]) > 1e-6))
            if differs:
                if rel[i] is not None:
                    text += f" ({100 * rel[i]:+.1f}%)"
                text = f"[bold yellow]{text}[/bold yellow]"
            cells.append(text)
        t.add_row(m.label, "≠" if m.differs else "", *cells)
    return t


def sweep_table(result, max_rows: int = 20) -> Table:
    """The sweep's points (evenly subsampled to ``max_rows``): inputs, N, D, cost, saving."""
    points = list(result.points)
    n = len(points)
    if n > max_rows:
        idx = sorted({round(i * (n - 1) / (max_rows - 1)) for i in range(max_rows)})
        points = [points[i] for i in idx]
    unit = next((p.result.objective_unit for p in result.points if p.result is not None), "")
    shown = f"{len(points)} of {n:,} points" if n > len(points) else f"{n} points"
    t = Table(title=f"Sweep of {result.budget} ({shown})")
    for a in result.axes:
        t.add_column(a.field, justify="right", no_wrap=True, min_width=len(a.field))
    ulabel = UNIT_LABELS.get(unit, unit)
    for col in ("parameters", "training tokens", "tokens/param", f"lifetime cost ({ulabel})",
                "saving vs Chinchilla", "status"):
        t.add_column(col, justify="right")
    for p in points:
        ins = [v if isinstance(v, str) else f"{v:.4g}" for v in p.inputs.values()]
        r = p.result
        if r is None:
            t.add_row(*ins, "—", "—", "—", "—", "—", f"[red]{p.status}[/red]")
            continue
        s = r.savings
        frac = s.get("objective_fraction", s.get("fraction", math.nan))
        t.add_row(*ins, format_count(r.plan.params), format_count(r.plan.train_tokens),
                  f"{r.plan.tokens_per_param:,.0f}", format_objective(r.plan.objective, unit),
                  f"{100 * frac:.1f}%", p.status)
    return t


def alternatives_table(review) -> Table:
    """Top serving configurations (budgets with discrete choices) or nearby model sizes."""
    unit = review.result.objective_unit
    ulabel = UNIT_LABELS.get(unit, unit)
    if review.configurations:
        t = Table(title="Top alternatives: each serving configuration's optimum")
        for col in ("configuration", "parameters", "training tokens", f"lifetime cost ({ulabel})",
                    "premium"):
            t.add_column(col, justify="left" if col == "configuration" else "right")
        for c in review.configurations[:5]:
            t.add_row(c["configuration"], format_count(c["params"]),
                      format_count(c["train_tokens"]), format_objective(c["objective"], unit),
                      _pct(c["premium"]))
        return t
    t = Table(title="Top alternatives: other model sizes at the same loss")
    for col in ("model", "parameters", "training tokens", f"lifetime cost ({ulabel})",
                "premium over the plan"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in review.nearby:
        ok = r["premium"] is not None
        t.add_row(r["label"], format_count(r["params"]),
                  format_count(r["train_tokens"]) if ok else r.get("why", "—"),
                  format_objective(r["objective"], unit) if ok else "—",
                  _pct(r["premium"]) if ok else "—")
    return t
