"""``planner profiles list|show``: the shipped hardware profiles."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from planner.cli.app import app, guarded, out

profiles_app = typer.Typer(help="Hardware profiles (hardware_profiles/*.yaml).",
                           no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")


@profiles_app.command("list")
@guarded
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List shipped profiles with their headline numbers."""
    from planner.hardware import list_profiles, load_profile

    profiles = [load_profile(n) for n in list_profiles()]
    if as_json:
        print(json.dumps({"schema_version": 1,
                          "profiles": {p.name: p.model_dump() for p in profiles}}, indent=2,
                         default=str))
        return
    t = Table(title="Hardware profiles (dense spec figures; power W: TDP/decode/idle)")
    for col in ("name", "bf16 TFLOP/s", "fp8 TFLOP/s", "HBM GB", "HBM GB/s",
                "power W", "$/GPU-hour", "price date", "ridge batch (bf16)"):
        t.add_column(col, justify="left" if col == "name" else "right",
                     no_wrap=col in ("name", "power W"))
    for p in profiles:
        fp8 = p.peak_tflops.get("fp8")
        t.add_row(p.name, f"{p.peak_tflops.get('bf16', 0):g}", f"{fp8:g}" if fp8 else "—",
                  f"{p.hbm_gb:g}", f"{p.hbm_bandwidth_gb_per_s:,.0f}",
                  f"{p.tdp_watts:g}/{p.phase_watts('decode'):g}/{p.phase_watts('idle'):g}",
                  f"{p.price_usd_per_hour:.2f}", p.price_date, f"{p.ridge_batch():.0f}")
    out.print(t)


@profiles_app.command("show")
@guarded
def show_cmd(name: str = typer.Argument(..., help="Profile name or YAML path.")) -> None:
    """Print one profile, with extends: resolved, as JSON."""
    from planner.hardware import load_profile

    p = load_profile(name)
    doc = {"schema_version": 1, **p.model_dump()}
    doc["ridge_batch_bf16"] = p.ridge_batch()
    doc["efficiency_basis"] = p.efficiency_basis
    doc["phase_power_watts"] = {  # what the energy model charges (docs/hardware.md)
        phase: {"power_watts": p.phase_watts(phase), "basis": p.phase_power_basis(phase)}
        for phase in ("compute", "decode", "idle")}
    print(json.dumps(doc, indent=2, default=str))
