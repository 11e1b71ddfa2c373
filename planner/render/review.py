"""The planning-review report: ``planner report BUDGET.yaml -o review/``.

Writes ``report.md`` (and ``report.html``, the same blocks rendered to HTML with inline CSS) and
``figures/*.png|svg``: the plan beside the Chinchilla-optimal model, the cost breakdown, the
constraints and their slack, the alternatives (other serving configurations, nearby model
sizes), the sensitivity tornado, the figures of planner.render.figures, the assumptions with their
sources, and the warnings.  No timestamps: the same budget gives the same files.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from planner.analysis.review import Review
from planner.budget import Budget
from planner.errors import InputError
from planner.units import format_count, format_objective, format_sci, format_usd

SECTIONS = ("Summary", "Plan", "Cost breakdown", "Training plan", "Constraints", "Alternatives",
            "Sensitivity", "Figures", "Assumptions and sources", "Warnings", "Input budget")
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


# ---- document blocks ------------------------------------------------------------------------
@dataclass
class Doc:
    """A tiny document model rendered to Markdown and HTML."""

    blocks: list = field(default_factory=list)

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def ul(self, items: Sequence[str]):
        self.blocks.append(("ul", list(items)))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], align: str = ""):
        """``align``: one letter per column, 'l' or 'r' (default: first left, rest right)."""
        align = align or "l" + "r" * (len(header) - 1)
        self.blocks.append(("table", list(header), [list(r) for r in rows], align))

    def img(self, path: str, alt: str):
        self.blocks.append(("img", path, alt))

    def code(self, text: str, lang: str = ""):
        self.blocks.append(("code", text, lang))

    def markdown(self) -> str:
        out = []
        for b in self.blocks:
            kind = b[0]
            if kind == "h":
                out.append("#" * b[1] + " " + b[2])
            elif kind == "p":
                out.append(b[1])
            elif kind == "ul":
                out.append("\n".join(f"- {x}" for x in b[1]))
            elif kind == "table":
                header, rows, align = b[1], b[2], b[3]
                esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
                lines = ["| " + " | ".join(esc(h) for h in header) + " |",
                         "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
                lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
                out.append("\n".join(lines))
            elif kind == "img":
                out.append(f"![{b[2]}]({b[1]})")
            elif kind == "code":
                fence = "````" if "```" in b[1] else "```"
                out.append(f"{fence}{b[2]}\n{b[1].rstrip()}\n{fence}")
        return "\n\n".join(out) + "\n"


_CSS = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;"
        "color:#222}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;"
        "padding:.25em .6em}td{text-align:right}td.l{text-align:left}"
        "th{background:#f3f3f3}img{max-width:100%}figcaption{color:#555;font-size:.9em}"
        "code{background:#f3f3f3;padding:0 .2em}pre{background:#f6f6f6;padding:.6em;"
        "overflow-x:auto}")


def markdown_to_html(markdown: str, title: str) -> str:
    """The HTML page of a Markdown document: markdown-it-py (CommonMark with tables; raw HTML
    in the text is escaped, not passed through) in one template."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return _TEMPLATE.format(title=html.escape(title), css=_CSS, body=body)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{css}</style></head><body>
{body}</body></html>
"""


# ---- sections -------------------------------------------------------------------------------
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
        for item in ("train", "draft_train", "prefill", "decode", "draft", "overhead"):
            usd = c.get(f"{item}_usd", 0.0)
            if usd <= 0:
                continue
            rows.append([item.replace("_", " "), format_usd(usd),
                         format_count(c[f'{item}_gpu_hours']), format_count(c[f'{item}_energy_kwh'])])
        rows.append(["total", format_usd(c["total_usd"]), format_count(c['total_gpu_hours']),
                     format_count(c['energy_kwh'])])
        doc.p("The planned model in dollars, GPU-hours and energy:")
        doc.table(["item", "USD", "GPU-hours", "energy (kWh)"], rows)


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
                f"{hw.hbm_bandwidth_gb_per_s:,.0f} GB/s, {hw.tdp_watts:g} W, PUE {hw.pue:g}; "
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


def report_date() -> str:
    """Today's date (UTC), or the date of ``SOURCE_DATE_EPOCH`` when set (reproducible
    builds: the same budget and date give byte-identical files)."""
    import datetime
    import os

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if
            epoch and epoch.isdigit() else datetime.datetime.now(datetime.timezone.utc))
    return when.date().isoformat()


def _version() -> str:
    from planner import __version__

    return __version__


def compose(rv: Review, figures: dict[str, str], notes: Sequence[str] = ()) -> Doc:
    b = rv.budget
    doc = Doc()
    name = b.name or (Path(b.source).stem if b.source else "budget")
    doc.h(1, f"Planning review: {name}")
    meta = f"Budget `{b.source or '<dict>'}`"
    if b.description:
        meta += f" — {b.description}"
    doc.p(meta + f". Produced by planner {_version()} on {report_date()}.")
    doc.h(2, "Summary")
    _summary(doc, rv)
    doc.h(2, "Plan")
    _plan(doc, rv)
    doc.h(2, "Cost breakdown")
    _breakdown(doc, rv)
    doc.h(2, "Training plan")
    _training(doc, rv)
    doc.h(2, "Constraints")
    _constraints(doc, rv)
    doc.h(2, "Alternatives")
    _alternatives(doc, rv)
    doc.h(2, "Sensitivity")
    _sensitivity(doc, rv, figures.get("tornado"))
    doc.h(2, "Figures")
    titles = {"cost_vs_params": "Lifetime cost vs model size",
              "frontier": "Training vs inference frontier",
              "contours": "Iso-loss contours and the optimum's path"}
    for key, title in titles.items():
        doc.h(3, title)
        if key in figures:
            doc.img(figures[key], FIGURES[key])
        else:
            doc.p("Not drawn (see Warnings).")
    doc.h(2, "Assumptions and sources")
    _assumptions(doc, rv)
    doc.h(2, "Warnings")
    warnings = list(rv.result.warnings) + rv.notes + list(notes)
    if warnings:
        doc.ul(warnings)
    else:
        doc.p("None.")
    doc.h(2, "Input budget")
    doc.code(_budget_text(b), "yaml")
    return doc


def _budget_text(b: Budget) -> str:
    """The budget as the user wrote it (the file verbatim), or its data for a dict budget."""
    if b.source and Path(b.source).is_file():
        return Path(b.source).read_text(encoding="utf-8")
    import yaml

    return yaml.safe_dump(b.model_dump(mode="json", exclude_none=True), sort_keys=False)


# ---- writing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Optional[Path]
    figures: tuple[Path, ...]
    review: Review


def draw_figures(rv: Review, out_dir: Path, formats: Sequence[str] = ("png",)
                 ) -> dict[str, list[Path]]:
    from planner.render import figures as plots

    makers = {"cost_vs_params": plots.cost_vs_params_figure, "frontier": plots.frontier_figure,
              "contours": plots.contour_figure}
    out: dict[str, list[Path]] = {}
    for key, make in makers.items():
        if key in rv.data:
            out[key] = plots.save_figure(make(rv.data[key]), out_dir, key, formats)
    if rv.sensitivity.rows:
        out["tornado"] = plots.save_figure(plots.tornado_figure(rv.sensitivity), out_dir,
                                           "tornado", formats)
    return out


def write_report(rv: Review, out_dir: str | Path, formats: Sequence[str] = ("png",),
                 html_too: bool = True) -> ReportFiles:
    from planner.files import atomic_write

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: -o: cannot create the report folder: "
                         f"{exc.strerror or exc}") from None
    notes: list[str] = []
    figs: dict[str, list[Path]] = {}
    if formats:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            notes.append("figures not drawn: matplotlib is not installed "
                         "(pip install '.[plot]' from a checkout)")
        else:
            figs = draw_figures(rv, out_dir / "figures", formats)
    prefer = "svg" if "svg" in formats else (formats[0] if formats else "png")

    def link(paths: list[Path], ext: str) -> str:
        pick = next((p for p in paths if p.suffix == f".{ext}"), paths[0])
        return pick.relative_to(out_dir).as_posix()

    doc_md = compose(rv, {k: link(v, "png") for k, v in figs.items()}, notes)
    md = out_dir / "report.md"
    atomic_write(md, doc_md.markdown())
    html_path = None
    if html_too:
        doc_html = compose(rv, {k: link(v, prefer) for k, v in figs.items()}, notes)
        html_path = out_dir / "report.html"
        name = rv.budget.name or "budget"
        atomic_write(html_path, markdown_to_html(doc_html.markdown(),
                                                 f"Planning review: {name}"))
    files = tuple(p for v in figs.values() for p in v)
    return ReportFiles(md, html_path, files, rv)


def report(budget: Budget | str | Path, out_dir: str | Path, fraction: float = 0.2,
           formats: Sequence[str] = ("png",), html_too: bool = True,
           solver: Optional[str] = None, progress=None) -> ReportFiles:
    """Compute the review of ``budget`` and write it under ``out_dir``."""
    from planner.analysis.review import build_review

    return write_report(build_review(budget, fraction, solver, progress), out_dir, formats,
                        html_too)


__all__ = ["SECTIONS", "ReportFiles", "compose", "report", "write_report"]
