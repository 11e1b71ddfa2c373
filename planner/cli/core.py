"""Core commands: optimize, validate, schema, laws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from planner.cli.app import SolverChoice, app, err, guarded, out, value_of
from planner.errors import PlannerError

BudgetArg = typer.Argument(..., help="Budget YAML file (schema_version: 1).", show_default=False)


@app.command()
@guarded
def optimize(
    budget: Path = BudgetArg,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    solver: Optional[SolverChoice] = typer.Option(
        None, "--solver", case_sensitive=False,
        help="iso_loss (fast 1-D, default) or gp (geometric program, Clarabel)."),
    check: bool = typer.Option(False, "--check", help="Also run the other solver and report "
                               "the relative difference."),
    uncertainty: bool = typer.Option(False, "--uncertainty", help="Spread of the optimum over "
                                     "the law's uncertainty and the point plan's expected "
                                     "regret (also: 'uncertainty:' in the budget)."),
) -> None:
    """Find the parameters N and training tokens D that minimise lifetime cost at the target
    loss, beside the Chinchilla-optimal model of the same loss."""
    from planner.optimize import optimize as run
    from planner.render.terminal import render_plan, to_json

    # optimize() checks every plan before returning it (planner.optimize.plans.checked): a
    # non-finite or wrong plan comes back as status failed_check, exit 4
    result = run(budget, solver=value_of(solver), check=check, uncertainty=uncertainty or None)
    if as_json:
        print(to_json(result))  # a failed plan is a document too: status and message
        if not result.ok:
            try:
                result.raise_for_status()
            except PlannerError as exc:
                err.print(f"error: {exc}", markup=False, soft_wrap=True)
                raise typer.Exit(exc.exit_code) from None
        return
    result.raise_for_status()
    render_plan(result, out, err)


@app.command()
@guarded
def validate(budget: Path = BudgetArg) -> None:
    """Check a budget file: schema, cross-field rules, law, target, hardware profiles (exit 0
    when valid, 2 or 3 otherwise).  No solver is set up."""
    from planner.budget import load_budget
    from planner.optimize.build import penalty_law, resolve_law, target_loss

    b = load_budget(budget)
    law = resolve_law(b)
    if getattr(law, "repeats_data", False) and b.data is not None:
        law = law.with_unique_tokens(b.data.unique_tokens)
    loss = target_loss(b, law)
    if b.uses_hardware:
        from planner.optimize.choices import hardware_options

        hardware_options(b)  # every listed training and serving profile, validated
        penalty_law(b, law)  # needs the law's form when the law is a file
    out.print(f"{budget}: valid (law {law.name}, target loss {loss:.4f} nats/token)")


@app.command()
@guarded
def schema() -> None:
    """Print the JSON Schema of the budget file."""
    from planner.budget import budget_json_schema

    print(json.dumps(budget_json_schema(), indent=2))


@app.command()
@guarded
def laws(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the loss-law presets with their constants and sources."""
    from planner.laws import ALL_PRESETS
    from planner.plan import law_summary

    if as_json:
        from planner.render.terminal import to_json

        print(to_json({"laws": {k: law_summary(v) for k, v in ALL_PRESETS.items()}}))
        return
    t = Table(title="Loss-law presets")
    for col in ("name", "form", "constants", "N counts", "fitted N", "source"):
        t.add_column(col)
    for name, law in ALL_PRESETS.items():
        consts = ", ".join(f"{k}={v:g}" for k, v in law.constants().items())
        fp = law.info.fitted_params
        t.add_row(name, law.form, consts, law.info.n_definition,
                  f"{fp[0]:.2g}-{fp[1]:.2g}" if fp else "", law.info.source)
    out.print(t)
