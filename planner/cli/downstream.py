"""``planner fit-downstream EVALS.csv``: fit a downstream-error mapping to (loss, error) pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from planner.cli.app import app, err, guarded, out


@app.command("fit-downstream")
@guarded
def fit_downstream(
    evals: Path = typer.Argument(..., help="CSV of (loss, error) pairs: columns loss,error "
                                 "(loss nats/token on the law's eval set; error a fraction)."),
    columns: Optional[str] = typer.Option(None, "--columns",
                                          help="Map columns: loss=COL,error=COL,name=COL."),
    where: Optional[str] = typer.Option(None, "--where",
                                        help="Keep only rows where COLUMN=VALUE."),
    law: Optional[str] = typer.Option(None, "--law",
                                      help="Name of the loss law whose eval set the losses are "
                                           "on (a preset, or a law file's name); budgets with "
                                           "another law are refused."),
    bootstrap: int = typer.Option(0, "--bootstrap", min=0, help="Bootstrap resamples of the "
                                  "pairs (their samples flow into plan uncertainty)."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1,
                             help="Seed of the resampling (0 to 2^32-1)."),
    starts: int = typer.Option(4, "--starts", min=1, help="Best grid starts (of 32 γ values) "
                               "refined by robust least squares."),
    source: Optional[str] = typer.Option(None, "--source", help="Provenance to record in the "
                                         "mapping file."),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="Write the mapping (YAML) for budgets: target: "
                                               "{downstream: {mapping: {file: ...}}}."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    force: bool = typer.Option(False, "--force", help="Replace an existing -o file."),
) -> None:
    """Fit Err(L) = ε − k·exp(−γ·L) (Gadre et al. 2024, arXiv 2403.08540) with robust least
    squares and multiple starts, with bootstrap uncertainty."""
    from planner.budget.limits import MAX_BOOTSTRAP, MAX_FIT_STARTS, check_count
    from planner.fit.downstream import fit_mapping, read_pairs
    from planner.render.terminal import to_json

    check_count(starts, MAX_FIT_STARTS, "--starts", "starts")
    check_count(bootstrap, MAX_BOOTSTRAP, "--bootstrap", "resamples")
    if output is not None:
        from planner.files import check_output_path

        check_output_path(output, inputs=(evals,), force=force, option="--output")
    pairs = read_pairs(evals, columns, where)
    kw = dict(starts=starts, bootstrap=bootstrap, seed=seed,
              name=output.stem if output else "fitted", law=law, source=source)
    if bootstrap and not as_json:
        from rich.progress import Progress

        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("bootstrap", total=bootstrap)
            result = fit_mapping(pairs, progress=lambda i, n: bar.update(task, completed=i),
                                 **kw)
    else:
        result = fit_mapping(pairs, **kw)
    if output is not None:
        from planner.laws.downstream import save_mapping_file

        d = result.to_dict()
        save_mapping_file(result.mapping, output, inputs=(evals,), extra={
            "pairs_file": str(evals), "where": where, "objective": result.objective,
            "stderr": d["stderr"], "ci95": d["ci95"], "residuals": d["residuals"]})
    if as_json:
        print(to_json(result.to_dict()))
        return
    m = result.mapping
    from planner.cli.fit import constants_table

    out.print(constants_table(f"Fitted error = ε − k·exp(−γ·loss) on {m.n_pairs} pairs "
                              f"(objective {result.objective:.6g})", result))
    r = result.to_dict()["residuals"]
    out.print(f"residuals: RMS {r['rms_error']:.4f}, mean |error| {r['mean_abs_error']:.4f}, "
              f"max {r['max_abs_error']:.4f} (fraction of top-1 error)")
    out.print(f"fitted range: loss {m.fitted_loss[0]:.4g}-{m.fitted_loss[1]:.4g} nats/token, "
              f"error {m.fitted_error[0]:.4g}-{m.fitted_error[1]:.4g}")
    if output is not None:
        out.print(f"wrote {output} (use it with target: {{downstream: {{error: ..., mapping: "
                  f"{{file: {output.name}}}}}}})")


@app.command("downstream-presets")
@guarded
def downstream_presets(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the downstream-error mapping presets: constants, tied loss law, fitted ranges."""
    import json

    from planner.laws.downstream import PRESET_NAMES, get_mapping_preset

    rows = {}
    for name in PRESET_NAMES:
        m = get_mapping_preset(name)
        rows[name] = {"law": m.law, "constants": m.constants(), "n_pairs": m.n_pairs,
                      "fitted_loss": list(m.fitted_loss), "fitted_error": list(m.fitted_error),
                      "n_bootstrap": 0 if m.samples is None else len(m.samples),
                      "source": m.source}
    if as_json:
        print(json.dumps({"schema_version": 1, "presets": rows}, indent=2))
        return
    t = Table(title="Downstream-error mappings: error = ε − k·exp(−γ·loss) (Gadre et al. 2024)")
    for col in ("name", "law", "ε", "k", "γ", "fitted loss", "fitted error"):
        t.add_column(col)
    for name, r in rows.items():
        c = r["constants"]
        t.add_row(name, r["law"], f"{c['epsilon']:.4f}", f"{c['k']:.3f}", f"{c['gamma']:.4f}",
                  "{:.3f}-{:.3f}".format(*r["fitted_loss"]),
                  "{:.3f}-{:.3f}".format(*r["fitted_error"]))
    out.print(t)
