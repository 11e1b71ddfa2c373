"""The sections of the planning-review document: each ``_name(doc, rv)`` appends its blocks
(Markdown) for the computed ``Review``; ``planner.render.review`` orders and writes them."""

from __future__ import annotations

import math
from typing import Optional

from planner.analysis.review import Review
from planner.render.document import Doc
from planner.units import format_count, format_objective, format_sci, format_usd

FIGURES = {
    "cost_vs_params": "Lifetime cost vs model size at the target loss, for several inference "
                      "demands; dots are the solver's plans and sit at the curves' minima.",
    "frontier": "Training vs inference cost of the models that reach the target loss: only the "
                "non-dominated branch (smaller, longer-trained models); the plan touches the "
                "line of its own lifetime cost.",
    "contours": "Loss contours in (N, D), iso-FLOP lines (6·N·D), and the optimal model as "
                "lifetime inference demand grows (darker: more demand).",
    "tornado": "Change of the optimal model size and lifetime cost when one input moves by "
               "±x%, the others held.",
}


def _ul(unit: str) -> str:
    from planner.render.figures import unit_label

    return unit_label(unit)


def _slack(x: float) -> str:
    """A constraint's slack as a percentage; a binding constraint's −0.0% reads 0.0%."""
    text = f"{100 * x:.1f}%"
    return "0.0%" if text == "-0.0%" else text


def _pct(x: Optional[float]) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:+.1f}%"


def _summary(doc: Doc, rv: Review) -> None:
    r, p, b = rv.result, rv.result.plan, rv.result.baseline
    unit = r.objective_unit
    s = r.savings
    frac = s.get("objective_fraction", s.get("fraction", 0.0))
    conf = p.extra.get("configuration")
    text = (f"Train a **{format_count(p.params)}-parameter** model on "
            f"**{format_count(p.train_tokens)} tokens** ({p.tokens_per_param:,.0f} tokens per "
            f"parameter) to reach loss "
            f"{r.target_loss:.4f} nats/token under `{r.law['name']}`. Lifetime cost "
            f"**{format_objective(p.objective, unit)}** (objective: {unit}), "
            f"{100 * frac:.1f}% less than the Chinchilla-optimal model of the same loss "
            f"({format_count(b.params)} parameters on {format_count(b.train_tokens)} tokens, "
            f"{format_objective(b.objective, unit)}).")
    if conf:
        text += f" Serving configuration: {conf}."
    if r.active_constraints:
        text += " Binding constraints: " + ", ".join(f"`{c}`" for c in r.active_constraints) + "."
    doc.p(text)


def _plan(doc: Doc, rv: Review) -> None:
    r, p, b = rv.result, rv.result.plan, rv.result.baseline
    rows = []

    def row(label, pv, bv, fmt, change=True):
        ch = _pct(pv / bv - 1) if change and bv else ""
        rows.append([label, fmt(pv), fmt(bv), ch])

    row("parameters", p.params, b.params, format_count)
    row("training tokens", p.train_tokens, b.train_tokens, format_count)
    row("tokens per parameter", p.tokens_per_param, b.tokens_per_param, lambda v: f"{v:,.1f}")
    row("loss (nats/token)", p.loss, b.loss, lambda v: f"{v:.4f}", change=False)
    if "served_loss" in p.extra:
        row("served loss (nats/token)", p.extra["served_loss"],
            b.extra.get("served_loss", b.loss), lambda v: f"{v:.4f}", change=False)
    row("training FLOPs", p.train_flops, b.train_flops, format_sci)
    row("inference FLOPs", p.inference_flops, b.inference_flops, format_sci)
    row("total FLOPs", p.total_flops, b.total_flops, format_sci)
    row(f"lifetime cost ({_ul(r.objective_unit)})", p.objective, b.objective,
        lambda v: format_objective(v, r.objective_unit))
    for key, label, unit in (("total_usd", "lifetime dollars (USD)", "usd"),
                             ("total_gpu_hours", "GPU-hours", "gpu_hours"),
                             ("energy_kwh", "energy (kWh)", "energy_kwh"),
                             ("train_wall_clock_days", "training wall-clock (days)", "")):
        if key in p.costs and key in b.costs and unit != r.objective_unit:
            row(label, p.costs[key], b.costs[key],
                format_usd if key.endswith("usd") else format_count)
    if p.extra.get("configuration"):
        rows.append(["serving configuration", p.extra["configuration"],
                     b.extra.get("configuration", ""), ""])
    doc.table(["", "planned", "Chinchilla-optimal", "change"], rows)


def _breakdown(doc: Doc, rv: Review) -> None:
    r, p, b = rv.result, rv.result.plan, rv.result.baseline
    unit = r.objective_unit
    rows = []
    for name, v in p.items.items():
        bv = b.items.get(name, math.nan)
        if v == 0 and (bv == 0 or not math.isfinite(bv)):
            continue
        rows.append([name.replace("_", " "), format_objective(v, unit), format_objective(bv, unit),
                     f"{100 * v / p.objective:.1f}%" if p.objective else ""])
    rows.append(["total", format_objective(p.objective, unit), format_objective(b.objective, unit),
                 "100%"])
    doc.p(f"What the optimizer minimised, item by item (objective: {unit}).")
    doc.table(["item", f"planned ({_ul(unit)})", f"Chinchilla-optimal ({_ul(unit)})",
               "share of plan"], rows)
    c = p.costs
    if c and "total_usd" in c:
        rows = []
        for item in ("train", "draft_train", "prefill", "decode", "draft", "overhead",
                     "communication", "idle"):
            usd = c.get(f"{item}_usd", 0.0)
            if usd <= 0:
                continue
            rows.append([item.replace("_", " "), format_usd(usd),
                         format_count(c[f'{item}_gpu_hours']), format_count(c[f'{item}_energy_kwh'])])
        rows.append(["total", format_usd(c["total_usd"]), format_count(c['total_gpu_hours']),
                     format_count(c['energy_kwh'])])
        doc.p("The planned model in dollars, GPU-hours and energy:")
        doc.table(["item", "USD", "GPU-hours", "energy (kWh)"], rows)
    e = p.extra.get("energy")
    if e:
        rows = [[phase, ph["hardware"], f"{ph['power_watts']:,.0f}", ph["basis"],
                 format_count(ph["gpu_hours"]), f"{ph['pue']:g}", format_count(ph["energy_kwh"])]
                for phase, ph in e["phases"].items()]
        rows.append(["total", "", "", "", "", "", format_count(e["energy_kwh"])])
        doc.p("Energy by phase: GPU-hours × the phase's board power × PUE (training and prefill "
              "compute-bound, decode memory-bound, idle the provisioned hours with no work).")
        doc.table(["phase", "hardware", "power (W)", "power from", "GPU-hours", "PUE",
                   "energy (kWh)"], rows, align="llrlrrr")
        sources = {ph["hardware"]: ph["power_source"] for ph in e["phases"].values()
                   if ph["power_source"]}
        for hw, src in sources.items():
            doc.p(f"Power figures of {hw}: {src}")


def _constraints(doc: Doc, rv: Review) -> None:
    p = rv.result.plan
    if not p.constraints:
        doc.p("No constraints besides the target loss.")
        return
    doc.p("Slack is `1 − value/limit`: 0 when the constraint binds, negative when violated.")
    rows = [[name, c.get("description", ""), f"{c['value_in_unit']:.4g}",
             f"{c['limit_in_unit']:.4g}", c["unit"], _slack(c["slack"]),
             "yes" if c["active"] else ""]
            for name, c in p.constraints.items()]
    doc.table(["constraint", "what", "value", "limit", "unit", "slack", "binding"], rows,
              "llrrlrl")


def _training(doc: Doc, rv: Review) -> None:
    from planner.render.training import training_rows

    if not rv.result.plan.extra.get("training_plan"):
        doc.p("No training hardware in this budget (FLOPs only): no training plan.")
        return
    doc.p("How the planned model is trained: shape, hyperparameters, parallel split, memory "
          "per GPU and wall-clock (docs/training-plan.md).")
    doc.table(["", "value"], training_rows(rv.result.plan.extra["training_plan"]), "ll")


def _choices(doc: Doc, rv: Review) -> None:
    """Runner-up choices: each listed hardware's (and draft's) best plan, or why it has none."""
    from planner.optimize.choices import DIMENSIONS

    unit = rv.result.objective_unit
    doc.p("Each hardware and draft option's own best plan (the plan picks the cheapest "
          "feasible one; `vs plan` is its lifetime cost relative to the plan):")
    rows = []
    for r in rv.choices:
        name = f"{r['name']} (chosen)" if r["chosen"] else r["name"]
        if r["status"] != "optimal":
            rows.append([DIMENSIONS[r["choice"]], name, "—", "—", "—", "—",
                         "infeasible: " + (", ".join(r["binding"]) or r["message"])])
            continue
        rows.append([DIMENSIONS[r["choice"]], name, format_count(r["params"]),
                     format_count(r["train_tokens"]), format_objective(r["objective"], unit),
                     _pct(r["vs_plan"]), ", ".join(r["binding"]) or "none (loss target only)"])
    doc.table(["choice", "option", "parameters", "training tokens",
               f"lifetime cost ({_ul(unit)})", "vs plan", "binding constraints"], rows,
              "llrrrrl")


def _alternatives(doc: Doc, rv: Review) -> None:
    unit = rv.result.objective_unit
    if getattr(rv, "choices", None):
        _choices(doc, rv)
    if rv.configurations:
        doc.p(f"Each serving configuration's own optimum ({len(rv.configurations)} feasible of "
              f"{len(rv.problem.candidates)}; the top 8):")
        rows = [[c["configuration"], format_count(c["params"]), format_count(c["train_tokens"]),
                 format_objective(c["objective"], unit), _pct(c["premium"])]
                for c in rv.configurations[:8]]
        doc.table(["configuration", "parameters", "training tokens", f"lifetime cost ({_ul(unit)})",
                   "premium"], rows)
    if not rv.nearby:
        return
    doc.p("Other model sizes at the same loss (training tokens set by the iso-loss curve, the "
          "cheapest configuration that meets the constraints):")
    doc.table(["model", "parameters", "training tokens", "tokens/parameter",
               f"lifetime cost ({_ul(unit)})", "premium over the plan"],
              [[r["label"], format_count(r["params"]), format_count(r["train_tokens"])
                if math.isfinite(r["train_tokens"]) else r["why"],
                f"{r['train_tokens'] / r['params']:,.0f}" if math.isfinite(r["train_tokens"])
                else "—", format_objective(r["objective"], unit), _pct(r["premium"])]
               for r in rv.nearby])


def _sensitivity(doc: Doc, rv: Review, fig: Optional[str]) -> None:
    s = rv.sensitivity
    pct = 100 * s.fraction
    doc.p(f"Each input moved by ±{pct:g}% alone and the plan re-solved (a `match:` target is "
          "re-evaluated under the perturbed law, a `loss:` target is kept).")
    if fig:
        doc.img(fig, FIGURES["tornado"].replace("x%", f"{pct:g}%"))
    rows = []
    for r in s.sorted_rows("objective"):
        cells = [r.label, f"{r.base_value:.4g}" + (f" {r.unit}" if r.unit else "")]
        for o, (dn, dc) in ((r.low, (r.change("params", s.base.params)[0],
                                     r.change("objective", s.base.objective)[0])),
                            (r.high, (r.change("params", s.base.params)[1],
                                      r.change("objective", s.base.objective)[1]))):
            if o.feasible:
                cells += [_pct(dn), _pct(dc)]
            else:
                cells += ["infeasible", o.note[:60]]
        rows.append(cells)
    doc.table(["input", "base value", f"−{pct:g}%: N", f"−{pct:g}%: cost", f"+{pct:g}%: N",
               f"+{pct:g}%: cost"], rows)


def _assumptions(doc: Doc, rv: Review) -> None:
    b, r = rv.budget, rv.result
    law = r.law
    items = []
    consts = ", ".join(f"{k} = {v:g}" for k, v in law["constants"].items())
    items.append(f"**Loss law** `{law['name']}` ({law['form']} form): {consts}. Source: "
                 f"{law.get('source') or 'not given'} (provenance {law.get('provenance')}). "
                 f"N counts {law.get('n_definition')}; loss in {law.get('loss_unit')}.")
    rng = []
    if law.get("fitted_params"):
        rng.append("N {}–{}".format(*(format_count(x) for x in law["fitted_params"])))
    if law.get("fitted_tokens"):
        rng.append("D {}–{}".format(*(format_count(x) for x in law["fitted_tokens"])))
    if law.get("fitted_tokens_per_param"):
        rng.append("D/N {:g}–{:g}".format(*law["fitted_tokens_per_param"]))
    if rng:
        items.append("**Fitted range** of the law: " + ", ".join(rng) + ".")
    t = b.target
    if t.loss is not None:
        items.append(f"**Target**: loss {t.loss:g} nats/token (given).")
    elif getattr(t, "downstream", None) is not None:
        m = t.downstream.mapping
        items.append(f"**Target**: average top-1 error {t.downstream.error:g} through mapping "
                     f"{m if isinstance(m, str) else m.file} (Gadre et al. 2024): loss "
                     f"{r.target_loss:.4f} nats/token under the law.")
    else:
        how = (f"trained on {format_count(t.match.tokens)} tokens" if t.match.tokens
               else "at its compute-optimal token count")
        items.append(f"**Target**: as good as a {format_count(t.match.params)}-parameter model "
                     f"{how}: loss {r.target_loss:.4f} nats/token under the law.")
    inf = b.inference
    if inf.tokens is not None:
        items.append(f"**Inference demand**: {format_count(inf.tokens)} lifetime tokens.")
    else:
        rate = (f"{format_count(inf.requests_per_month)} requests/month × {inf.months:g} months"
                if inf.requests_per_month is not None else
                f"{format_count(inf.requests)} requests")
        items.append(f"**Inference demand**: {rate}, {inf.tokens_per_request.input:g} prompt + "
                     f"{inf.tokens_per_request.output:g} output tokens per request = "
                     f"{format_count(inf.total_tokens)} lifetime tokens.")
    items.append(f"**Objective**: {b.objective}; solver {r.solver}.")
    if b.model is not None:
        from planner.models import describe

        items.append(f"**Model** (pinned): {describe(b.model)}.")
    if b.uses_hardware:
        cand = rv.problem.candidates[0]
        from planner.optimize import plan_candidate

        cm = plan_candidate(rv.problem, r).cost_model or cand.cost_model
        for role, hw in (("Training", cm.train_hw), ("Serving", cm.serve_hw)):
            items.append(
                f"**{role} hardware** `{hw.name}` ({hw.description or hw.vendor}): "
                f"{hw.peak_tflops.get('bf16', 0):g} bf16 TFLOP/s, {hw.hbm_gb:g} GB HBM at "
                f"{hw.hbm_bandwidth_gb_per_s:,.0f} GB/s, {hw.tdp_watts:g} W TDP "
                f"(decode {hw.phase_watts('decode'):g} W, idle {hw.phase_watts('idle'):g} W), "
                f"PUE {hw.pue:g}; "
                f"source: {hw.source or 'not given'}. **Price** "
                f"${hw.price_usd_per_hour:.2f}/GPU-hour, dated {hw.price_date or 'undated'} "
                f"({hw.price_source or 'no source given'}).")
        tr, sv = cm.train, cm.serve
        gpus = f", {tr.gpus} GPUs" if tr.gpus else ""
        dl = f", deadline {tr.deadline_days:g} days" if tr.deadline_days else ""
        items.append(f"**Training**: MFU {tr.mfu:g} at {tr.precision}{gpus}{dl}.")
        items.append(f"**Serving**: batch {sv.batch_size}, weight bits {sv.weight_bits}, KV "
                     f"bits {sv.kv_bits}, compute {sv.compute_precision}, efficiency "
                     f"{cm.roofline.rates.basis}; quantisation penalty law "
                     f"{sv.quantization_penalty}; model shape: {cm.shape.source}.")
    else:
        items.append("**Costs** in FLOPs: training 6·N·D, inference 2·N per token (Kaplan et "
                     "al. 2020; Sardana et al. 2024). No hardware, prices or MFU.")
    items.append("**Baseline**: the Chinchilla-optimal model of the same loss (inference "
                 "ignored), costed the same way.")
    doc.ul(items)
