"""``planner fit RUNS.csv``: fit a loss law to a team's own runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from planner.cli.app import (
    BootstrapSolverChoice,
    LawFormChoice,
    app,
    err,
    guarded,
    out,
    value_of,
)
from planner.errors import InputError


def constants_table(title: str, result) -> Table:
    """A fit's constants with their bootstrap standard errors and 95% intervals (``result``
    has ``constants``, ``stderr`` and ``ci95``, as law and downstream-mapping fits do)."""
    t = Table(title=title)
    for col in ("constant", "value", "std. error", "95% interval"):
        t.add_column(col, justify="left" if col == "constant" else "right")
    for k, v in result.constants.items():
        se = result.stderr.get(k)
        ci = result.ci95.get(k)
        t.add_row(k, f"{v:.6g}", f"{se:.3g}" if se is not None else "",
                  f"{ci[0]:.4g} – {ci[1]:.4g}" if ci else "")
    return t


@app.command()
@guarded
def fit(
    runs: Path = typer.Argument(..., help="CSV of runs: params, tokens, loss (one row a run)."),
    law: LawFormChoice = typer.Option(LawFormChoice.chinchilla, "--law", case_sensitive=False,
                                      help="chinchilla, kaplan, or data-constrained (needs a "
                                           "unique_tokens column)."),
    columns: Optional[str] = typer.Option(None, "--columns",
                                          help="Map columns: params=N,tokens=D,loss=L "
                                               "(also weight=, name=, unique_tokens=)."),
    exclude: Optional[str] = typer.Option(None, "--exclude",
                                          help="Skip rows where this column is 1/true."),
    bootstrap: int = typer.Option(0, "--bootstrap", min=0, help="Bootstrap resamples (at most "
                                  "100,000)."),
    holdout: Optional[str] = typer.Option(None, "--holdout",
                                          help="largest:K (fit small, predict the K largest "
                                               "sizes) or kfold:K."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1,
                             help="Seed of resampling and folds (0 to 2^32-1)."),
    starts: int = typer.Option(64, "--starts", min=1,
                               help="Best grid initialisations refined by L-BFGS-B (at most "
                                    "10,000)."),
    bootstrap_solver: BootstrapSolverChoice = typer.Option(
                                         BootstrapSolverChoice.newton, "--bootstrap-solver",
                                         case_sensitive=False, help="newton: all resamples refitted at once (damped "
                                              "Newton, L-BFGS-B for any that do not converge); "
                                              "lbfgs: one L-BFGS-B refit per resample "
                                              "(slower; the reference)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="Write the fitted law (YAML) for budgets: "
                                               "law: {file: ...}."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Diagnostics figure (PNG/SVG)."),
    force: bool = typer.Option(False, "--force", help="Replace existing output files."),
) -> None:
    """Fit the Chinchilla (or Kaplan, or data-constrained) form with the Huber loss of log residuals, with
    bootstrap uncertainty and held-out validation."""
    from planner.budget.limits import MAX_BOOTSTRAP, MAX_FIT_STARTS, check_count
    from planner.files import check_output_path
    from planner.fit.law_fit import fit_law
    from planner.fit.runs import read_runs
    from planner.render.terminal import to_json

    law = value_of(law)
    bootstrap_solver = value_of(bootstrap_solver)
    check_count(starts, MAX_FIT_STARTS, "--starts", "starts")
    check_count(bootstrap, MAX_BOOTSTRAP, "--bootstrap", "resamples")
    # outputs are checked before any work: never an input, never replaced without --force
    if output is not None:
        check_output_path(output, [runs], force=force, option="--output")
    if plot is not None:
        if plot.suffix.lower() not in (".png", ".svg"):
            raise InputError(f"{plot}: --plot: a figure file ends in .png or .svg")
        check_output_path(plot, [runs] + ([output] if output else []), force=force,
                          option="--plot")
    data = read_runs(runs, columns, exclude)
    from planner.budget.limits import check_runs

    check_runs(data)
    if bootstrap and not as_json:
        from rich.progress import Progress

        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("bootstrap", total=bootstrap)
            result = fit_law(data, law, starts=starts, bootstrap=bootstrap, seed=seed,
                             holdout=holdout, name=output.stem if output else "fitted",
                             solver=bootstrap_solver,
                             progress=lambda i, n: bar.update(task, completed=i))
    else:
        result = fit_law(data, law, starts=starts, bootstrap=bootstrap, seed=seed,
                         holdout=holdout, name=output.stem if output else "fitted",
                         solver=bootstrap_solver)
    law_text = None
    if output is not None:  # composed first, written last: a failing --plot leaves no law file
        from planner.budget.limits import check_law_constants
        from planner.laws.io import law_file_text

        check_law_constants(result.constants, f"{output}: the fitted law")  # loadable
        law_text = law_file_text(result, output.stem)
    from planner.files import atomic_write

    if plot is not None:  # rendered aside, then written atomically like the law file
        import tempfile

        from planner.render.fit_figures import fit_figure

        with tempfile.TemporaryDirectory(prefix="planner-fit-") as tmp:
            aside = Path(tmp) / f"figure{plot.suffix}"
            try:
                fit_figure(result, data, aside)
                figure = aside.read_bytes()
            except (OSError, ValueError) as exc:
                raise InputError(f"{plot}: --plot: cannot draw the figure: {exc}") from None
        atomic_write(plot, figure, inputs=[runs], option="--plot")
    if output is not None:
        atomic_write(output, law_text, inputs=[runs], option="--output")
    if as_json:
        print(to_json(result.to_dict()))
        return
    out.print(constants_table(f"Fitted {law} law on {len(data)} runs (objective "
                              f"{result.objective:.10g})", result))
    for w in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}")
    d = result.to_dict()["residuals"]
    out.print(f"residuals: RMS {d['rms_log']:.4f} in log loss, mean |relative error| "
              f"{100 * d['mean_abs_rel_error']:.2f}%")
    if result.holdout:
        h = result.holdout
        out.print(f"held out ({h['mode']}, {h['n_heldout']} runs): mean |relative error| "
                  f"{100 * h['mean_abs_rel_error']:.2f}%, mean error "
                  f"{100 * h['mean_rel_error']:+.2f}%")
    if output is not None:
        out.print(f"wrote {output} (use it with law: {{file: {output.name}}})")
    if plot is not None:
        out.print(f"wrote {plot}")
