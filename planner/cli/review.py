"""Planning-review commands: ``sweep``, ``compare``, ``report`` (docs/review.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from planner.cli.app import (
    FormatsChoice,
    SolverChoice,
    app,
    err,
    guarded,
    out,
    value_of,
)

SolverOpt = typer.Option(None, "--solver", case_sensitive=False,
                         help="iso_loss (fast 1-D, batched; default) or gp "
                         "(geometric program, Clarabel, one point at a time).")


@contextlib.contextmanager
def _progress(enabled: bool = True) -> Iterator:
    """A rich progress bar on stderr (hidden when stderr is not a terminal); yields the
    ``(stage, done, total)`` callback the library takes."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    show = enabled and err.is_terminal
    with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True, disable=not show) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@app.command()
@guarded
def sweep(
    budget: Path = typer.Argument(..., help="Budget YAML file.", show_default=False),
    vary: List[str] = typer.Option(
        ..., "--vary", show_default=False,
        help="FIELD=GRID, repeatable (Cartesian product). FIELD is a dotted path into the "
        "budget (inference.tokens, target.loss, train.mfu, serve.batch_size, law.alpha). "
        "GRID: start:stop:n (log-spaced; same as log:start:stop:n), lin:start:stop:n, or a "
        "list a,b,c. Quantities like 2T are fine."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Write every point as CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout: "
                                 "{points: [{inputs, plan, ...}]}."),
    rows: int = typer.Option(20, "--rows", min=2, max=100_000, help="Points shown in the "
                             "terminal table (evenly spaced)."),
    solver: Optional[SolverChoice] = SolverOpt,
    force: bool = typer.Option(False, "--force", help="Replace an existing --csv file."),
    jobs: Optional[int] = typer.Option(None, "--jobs", min=1, max=1024, help="Processes that "
                                       "plan chunks of points [default: one per CPU]."),
) -> None:
    """Plan every point of a grid over budget fields, batched through the 1-D solver."""
    from planner.analysis.sweep import parse_vary
    from planner.analysis.sweep import sweep as run
    from planner.files import check_output_path
    from planner.render.terminal import sweep_table, to_json

    if csv_path is not None:  # before any work: never the budget, never replaced silently
        check_output_path(csv_path, [budget], force=force, option="--csv")
    axes = [parse_vary(v) for v in vary]
    with _progress() as progress:
        result = run(budget, axes, solver=value_of(solver), progress=progress, jobs=jobs)
    if csv_path is not None:
        from planner.files import atomic_write
        from planner.render.csv_table import csv_text

        atomic_write(csv_path, csv_text(result.rows()), inputs=[budget], option="--csv")
    if as_json:
        print(to_json(result))
    else:
        out.print(sweep_table(result, rows))
        bad = sum(1 for p in result.points if p.result is None)
        d = result.diagnostics
        out.print(f"{d['points']:,} points ({d['batched_points']:,} batched, "
                  f"{d['one_at_a_time_points']:,} one at a time), "
                  f"{d['budgets_seconds'] + d['solve_seconds']:.2f} s"
                  + (f"; [red]{bad:,} infeasible[/red]" if bad else ""))
        for note in result.notes:
            out.print(f"[dim]note: {note}[/dim]")
    if csv_path is not None:
        err.print(f"wrote {csv_path}")


@app.command()
@guarded
def compare(
    budgets: List[Path] = typer.Argument(..., help="Budget files, or one file with "
                                         "'scenarios:' (name → overrides).",
                                         show_default=False),
    at: Optional[str] = typer.Option(
        None, "--at", help="Cost this fixed model in every scenario instead of optimising, "
        "e.g. params=13B,tokens=260B (give one of them to take the other from the iso-loss "
        "curve)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write one CSV row per "
                                            "scenario (the columns of a sweep's CSV)."),
    solver: Optional[SolverChoice] = SolverOpt,
    force: bool = typer.Option(False, "--force", help="Replace an existing --csv file."),
) -> None:
    """Plans of several scenarios side by side, differences highlighted."""
    from planner.analysis.compare import compare as run
    from planner.files import check_output_path
    from planner.render.terminal import compare_table, to_json

    if csv_path is not None:  # before any work: never an input, never replaced silently
        check_output_path(csv_path, budgets, force=force, option="--csv")
    result = run(budgets, at=at, solver=value_of(solver))
    if csv_path is not None:
        from planner.files import atomic_write
        from planner.render.csv_table import csv_text

        atomic_write(csv_path, csv_text(result.rows()), inputs=budgets, option="--csv")
    if as_json:
        print(to_json(result))
        return
    out.print(compare_table(result))
    for e in result.entries:
        if e.error:
            out.print(f"[red]{e.name}:[/red] {e.error}", markup=True)
        for w in e.fixed_warnings:
            out.print(f"[yellow]warning:[/yellow] {e.name}: {w}")
        if e.result is not None and not at:
            for w in e.result.warnings:
                out.print(f"[yellow]warning:[/yellow] {e.name}: {w}")


@app.command()
@guarded
def report(
    budget: Path = typer.Argument(..., help="Budget YAML file.", show_default=False),
    out_dir: Path = typer.Option(Path("review"), "-o", "--out", help="Folder to write "
                                 "report.md, report.html and figures/ into."),
    fraction: float = typer.Option(0.2, "--fraction", min=0.001, max=0.9,
                                   help="Sensitivity perturbation (0.2: ±20%)."),
    formats: FormatsChoice = typer.Option(FormatsChoice.png, "--formats", case_sensitive=False,
                                          help="Figure formats: png (default), svg, png,svg, "
                                          "or 'none'."),
    no_html: bool = typer.Option(False, "--no-html", help="Markdown only."),
    as_json: bool = typer.Option(False, "--json", help="Print the written paths and the plan "
                                 "as JSON."),
    solver: Optional[SolverChoice] = SolverOpt,
    force: bool = typer.Option(False, "--force", help="Write into an existing, non-empty "
                               "folder (replacing report files there)."),
) -> None:
    """Write a planning review (Markdown + HTML + figures): plan, cost breakdown, constraints,
    alternatives, sensitivity, assumptions with sources, warnings."""
    from planner.errors import InputError
    from planner.files import check_output_dir
    from planner.render.review import report as run
    from planner.render.terminal import alternatives_table, plan_table, to_json

    check_output_dir(out_dir, [budget], force=force, option="--out")  # before any work
    fmts = tuple(f.strip().lower() for f in value_of(formats).split(",") if f.strip())
    if fmts == ("none",):
        fmts = ()
    for f in fmts:
        if f not in ("png", "svg"):
            raise InputError(f"--formats: unknown format {f!r}; use png, svg or none")
    with _progress() as progress:
        files = run(budget, out_dir, fraction=fraction, formats=fmts, html_too=not no_html,
                    solver=value_of(solver), progress=progress)
    if as_json:
        print(to_json({"report": str(files.markdown),
                       "html": str(files.html) if files.html else None,
                       "figures": [str(p) for p in files.figures],
                       "result": files.review.result.to_dict(),
                       "sensitivity": files.review.sensitivity.to_dict()}))
        return
    out.print(plan_table(files.review.result))
    out.print(alternatives_table(files.review))
    out.print(f"report: {files.markdown}" + (f", {files.html}" if files.html else ""))
    if files.figures:
        out.print("figures: " + ", ".join(str(p) for p in files.figures))
    for w in files.review.result.warnings:
        out.print(f"[yellow]warning:[/yellow] {w}")
