"""The planning-review report: ``planner report BUDGET.yaml -o review/``.

Writes ``report.md`` (and ``report.html``, the same blocks rendered to HTML with inline CSS) and
``figures/*.png|svg``: the plan beside the Chinchilla-optimal model, the cost breakdown, the
constraints and their slack, the alternatives (other serving configurations, nearby model
sizes), the sensitivity tornado, the figures of planner.render.figures, the assumptions with their
sources, and the warnings.  No timestamps: the same budget gives the same files.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from planner.analysis.review import Review
from planner.budget import Budget
from planner.errors import InputError
from planner.render.document import Doc, markdown_to_html
from planner.render.review_sections import (
    FIGURES,
    _alternatives,
    _assumptions,
    _breakdown,
    _constraints,
    _plan,
    _sensitivity,
    _summary,
    _training,
)

SECTIONS = ("Summary", "Plan", "Cost breakdown", "Training plan", "Constraints", "Alternatives",
            "Sensitivity", "Figures", "Assumptions and sources", "Warnings", "Input budget")


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

    def figure_section(doc: Doc, rv: Review) -> None:
        titles = {"cost_vs_params": "Lifetime cost vs model size",
                  "frontier": "Training vs inference frontier",
                  "contours": "Iso-loss contours and the optimum's path"}
        for key, title in titles.items():
            doc.h(3, title)
            if key in figures:
                doc.img(figures[key], FIGURES[key])
            else:
                doc.p("Not drawn (see Warnings).")

    def warning_section(doc: Doc, rv: Review) -> None:
        warnings = list(rv.result.warnings) + rv.notes + list(notes)
        if warnings:
            doc.ul(warnings)
        else:
            doc.p("None.")

    writers = {"Summary": _summary, "Plan": _plan, "Cost breakdown": _breakdown,
               "Training plan": _training, "Constraints": _constraints,
               "Alternatives": _alternatives,
               "Sensitivity": lambda doc, rv: _sensitivity(doc, rv, figures.get("tornado")),
               "Figures": figure_section, "Assumptions and sources": _assumptions,
               "Warnings": warning_section,
               "Input budget": lambda doc, rv: doc.code(_budget_text(rv.budget), "yaml")}
    for section in SECTIONS:  # the headings come from SECTIONS, in its order
        doc.h(2, section)
        writers[section](doc, rv)
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


def draw_figures(rv: Review, out_dir: Path, formats: Sequence[str] = ("png",),
                 progress=None) -> dict[str, list[Path]]:
    """Draw and save every figure of the review (``progress(stage, done, total)`` after
    each)."""
    from planner.render import figures as plots

    makers = {"cost_vs_params": plots.cost_vs_params_figure, "frontier": plots.frontier_figure,
              "contours": plots.contour_figure}
    jobs = [(key, lambda key=key: makers[key](rv.data[key])) for key in makers
            if key in rv.data]
    if rv.sensitivity.rows:
        jobs.append(("tornado", lambda: plots.tornado_figure(rv.sensitivity)))
    out: dict[str, list[Path]] = {}
    with _gc_frozen():
        for done, (key, make) in enumerate(jobs):
            if progress:
                progress("figures", done, len(jobs))
            out[key] = plots.save_figure(make(), out_dir, key, formats)
    if progress:
        progress("figures", len(jobs), len(jobs))
    return out


@contextmanager
def _gc_frozen():
    """Objects that exist now (the review's: ~460k for which-draft) are left out of the
    cyclic garbage collector's full passes while the figures are drawn, and given back after.
    matplotlib allocates enough to trigger a full pass while drawing, and a full pass over the
    review's objects took 0.3 s of which-draft's 1.5 s of figures (only the drawing's own
    garbage is collected meanwhile)."""
    import gc

    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def write_report(rv: Review, out_dir: str | Path, formats: Sequence[str] = ("png",),
                 html_too: bool = True, progress=None) -> ReportFiles:
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
            figs = draw_figures(rv, out_dir / "figures", formats, progress)
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
                        html_too, progress)


__all__ = ["SECTIONS", "ReportFiles", "compose", "report", "write_report"]
