"""``planner bench`` and ``planner gpu-info``: measure the local device, calibrate a profile.

torch and pynvml are imported inside the commands (through :mod:`planner.bench`), never at
module import, so ``planner --help`` stays fast.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from planner.cli.app import BackendChoice, app, err, guarded, out, value_of
from planner.errors import InputError, NoGPUError

DEFAULT_SECONDS = {"cuda": 45.0, "cpu": 10.0}


# ---- formatting -------------------------------------------------------------------------------

def _row_unit(row: Any) -> tuple[str, float]:
    """Unit and scale for a table row: TFLOP/s, or GFLOP/s below 1 TFLOP/s (CPUs); GB/s."""
    if row.unit != "TFLOP/s":
        return row.unit, 1.0
    return ("TFLOP/s", 1.0) if row.median >= 1 else ("GFLOP/s", 1e3)


def _minmax(stats: Any, unit: str, digits: int = 0) -> str:
    return (f"{stats['median']:,.{digits}f} {unit} median ({stats['min']:,.{digits}f}–"
            f"{stats['max']:,.{digits}f})")


def _sampled_line(samples: dict) -> Optional[str]:
    n = samples.get("samples", 0)
    if not n:
        return None
    parts = []
    for key, label in (("sm_clock_mhz", "SM clock"), ("mem_clock_mhz", "memory clock"),
                       ("cpu_clock_mhz", "CPU clock")):
        if isinstance(samples.get(key), dict):
            parts.append(f"{label} {_minmax(samples[key], 'MHz')}")
    if isinstance(samples.get("power_watts"), dict):
        parts.append(f"power {_minmax(samples['power_watts'], 'W')}")
    if isinstance(samples.get("temperature_c"), dict):
        parts.append(f"temperature max {samples['temperature_c']['max']:.0f} °C")
    if "throttle" in samples:
        parts.append("slowdown: " + (", ".join(samples["throttle"]) or "none"))
    return f"sampled {n}×: " + "; ".join(parts) if parts else None


def _phase_power_line(samples: dict) -> Optional[str]:
    """``power by phase: idle 72 W (20 readings), ...`` (what a written profile records)."""
    phases = samples.get("phases") or {}
    parts = [f"{name} {p['power_watts']:,.0f} W ({p['samples']} readings)"
             for name in ("idle", "decode", "compute") if (p := phases.get(name))]
    return ("power by phase (median NVML power.draw; idle_watts, decode_watts, compute_watts "
            "in a written profile): " + ", ".join(parts)) if parts else None


# ---- gpu-info ---------------------------------------------------------------------------------

@app.command("gpu-info")
@guarded
def gpu_info(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print what NVML reports about the NVIDIA GPUs here (exit 0 even when there are none)."""
    from planner.bench.nvml import probe

    p = probe()
    if as_json:
        print(json.dumps({"schema_version": 1, **p.as_dict()}, indent=2))
        return
    if not p.available:
        out.print(f"no NVIDIA GPU: {p.reason}", markup=False)
        return
    out.print(f"NVIDIA driver {p.driver_version or '?'}, CUDA {p.cuda_driver_version or '?'}, "
              f"{len(p.devices)} GPU(s)", markup=False)

    def num(v: Any, unit: str = "") -> str:
        return "—" if v is None else f"{v:,.0f}{unit}"

    for d in p.devices:
        t = Table(title=f"GPU {d.index} (NVML index): {d.name}", show_header=False,
                  title_justify="left")
        t.add_column("field")
        t.add_column("value")
        cc = d.compute_capability
        for k, v in (
            ("profile", d.profile or "— (no shipped profile; bench --profile NAME)"),
            ("UUID", d.uuid or "—"),
            ("memory", num(d.memory_total_bytes / 2**30 if d.memory_total_bytes else None,
                           " GiB")),
            ("compute capability", f"{cc[0]}.{cc[1]}" if cc else "—"),
            ("SM clock (max)", f"{num(d.sm_clock_mhz)} ({num(d.max_sm_clock_mhz)}) MHz"),
            ("memory clock (max)", f"{num(d.mem_clock_mhz)} ({num(d.max_mem_clock_mhz)}) MHz"),
            ("power (limit)", f"{num(d.power_watts)} ({num(d.power_limit_watts)}) W"),
            ("temperature", num(d.temperature_c, " °C")),
            ("PCI bus", d.pci_bus_id or "—"),
        ):
            t.add_row(k, v)
        out.print(t)
    for d in p.devices:
        if d.unavailable:
            err.print(f"note: device {d.index}: not reported: " + ", ".join(
                f"{k} ({v})" for k, v in d.unavailable.items()), markup=False)
    for w in p.warnings:
        err.print(f"note: {w}", markup=False)


# ---- bench ------------------------------------------------------------------------------------

def _cuda_or_reason() -> tuple[bool, str]:
    """Whether the CUDA backend can run, without importing torch when NVML already says no
    and torch is absent."""
    from planner.bench import cuda
    from planner.bench.nvml import probe

    nv = probe()
    if not cuda.torch_installed():
        if not nv.available:
            return False, f"no NVIDIA GPU ({nv.reason})"
        return False, (f"{nv.devices[0].name} found, but torch is not installed "
                       "(pip install torch, or pip install '.[gpu]' in a planner checkout)")
    ok, why = cuda.availability()
    if ok:
        return True, ""
    return False, why + ("" if nv.available else f"; NVML: {nv.reason}")


def _progress_runner(kind: str, run, quiet: bool):
    """Run ``run(progress=...)`` under a rich progress bar on stderr."""
    if quiet or not err.is_terminal:
        return run(progress=None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(f"{kind}: starting", total=None)

        def progress(desc: str, done: int, total: int) -> None:
            bar.update(task, description=f"{kind}: {desc}", completed=done, total=total)

        return run(progress=progress)


@app.command("bench")
@guarded
def bench(
    backend: BackendChoice = typer.Option(BackendChoice.auto, "--backend", case_sensitive=False,
                                          help="cuda, cpu, or auto (cuda when a GPU is usable, "
                                               "else cpu)."),
    device: int = typer.Option(0, "--device", help="CUDA device index (as torch numbers them)."),
    seconds: Optional[float] = typer.Option(
        None, "--seconds", help="Time budget for the measurements (default 45 on a GPU, 10 on "
        "the CPU)."),
    write: Optional[Path] = typer.Option(
        None, "--write", help="Write a calibrated profile (YAML) that budgets can name, e.g. "
        "my-h100.yaml."),
    profile: Optional[str] = typer.Option(
        None, "--profile", help="Profile to compare with and extend (default: the one matching "
        "the GPU)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --write file."),
) -> None:
    """Measure matmul TFLOP/s per precision and memory bandwidth; compare with the spec;
    optionally write a calibrated profile.  Exit 5 when --backend cuda finds no GPU."""
    from planner.bench import calibrate
    from planner.hardware import load_profile

    backend = value_of(backend).lower()
    if backend not in ("cuda", "cpu", "auto"):
        raise InputError(f"--backend {backend!r}: choose cuda, cpu or auto")
    if seconds is not None and not (math.isfinite(seconds) and 0 < seconds <= 3600):
        raise InputError(f"--seconds {seconds:g}: give a time budget between 0 and 3600 s")
    if device < 0:
        raise InputError(f"--device {device}: a device index is 0 or more")
    if write is not None and write.suffix not in (".yaml", ".yml"):
        raise InputError(f"--write {write}: a profile file must end in .yaml or .yml")
    if write is not None:  # before measuring: never the base profile, never replaced silently
        from planner.files import check_output_path

        check_output_path(write, [profile] if profile and profile.endswith((".yaml", ".yml"))
                          else [], force=force, option="--write")
    base = load_profile(profile) if profile else None  # unknown names fail before measuring

    if backend in ("cuda", "auto"):
        ok, why = _cuda_or_reason()
        if not ok and backend == "cuda":
            raise NoGPUError(f"{why}; `planner bench --backend cpu` measures the CPU instead")
        if not ok and write is not None:  # never a CPU measurement under a GPU's file name
            raise NoGPUError(f"--write {write}: {why}, so there is no GPU to calibrate; "
                             "pass --backend cpu to write a profile of this CPU")
        if not ok:
            err.print(f"note: {why}; measuring the CPU with numpy", markup=False)
        backend = "cuda" if ok else "cpu"
    budget = seconds if seconds is not None else DEFAULT_SECONDS[backend]

    if backend == "cuda":
        from planner.bench import cuda
        from planner.bench.nvml import probe

        nv = probe()
        if write is not None and base is None:
            _name, matched = cuda.matched_profile(device, nv)
            if matched is None:
                raise InputError(f"{_name!r} matches no shipped profile; pass --profile NAME "
                                 "to say which profile the calibration extends")
        result = _progress_runner(
            "bench", lambda progress: cuda.run(budget, device=device, probe=nv,
                                               progress=progress), as_json)
    else:
        from planner.bench import cpu

        result = _progress_runner("bench", lambda progress: cpu.run(budget, progress=progress),
                                  as_json)

    if base is None and result.profile:
        base = load_profile(result.profile)
    rows = calibrate.compare(result, base)
    warnings = calibrate.warnings_for(rows, base.name if base else None)

    written = None
    if write is not None:
        if base is not None:
            data = calibrate.calibrated_profile_data(result, base.name, write.stem)
        else:
            data = calibrate.calibrated_profile_data(result, None,
                                                     calibrate.cpu_profile_name(result))
        written = calibrate.write_profile(data, write)

    if as_json:
        doc = {"schema_version": 1, "result": result.as_dict(),
               "profile": base.name if base else None,
               "comparison": [r.as_dict() for r in rows], "warnings": warnings,
               "written": str(write) if written else None,
               "written_profile": written.name if written else None}
        print(json.dumps(doc, indent=2, default=str))
        for w in warnings:
            err.print(f"warning: {w}", markup=False)
        return

    vs = f" vs {base.name} spec" if base else ""
    t = Table(title=f"{result.device_name} ({result.backend}, {result.seconds:.1f} s){vs}")
    for col in ("measured", "unit", "median", "max", "spec", "of spec", "spec×default",
                "shape"):
        t.add_column(col, justify="left" if col in ("measured", "unit", "shape") else "right",
                     no_wrap=col not in ("measured", "shape"))
    for r in rows:
        unit, scale = _row_unit(r)

        def num(v: Optional[float], scale: float = scale) -> str:
            if v is None:
                return "—"
            v *= scale
            return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"

        t.add_row(r.quantity, unit, num(r.median), num(r.max), num(r.spec),
                  "—" if r.fraction is None else
                  f"{r.fraction:.0%}" if r.fraction >= 0.095 else f"{r.fraction:.1%}",
                  num(r.default_achievable), r.detail)
    out.print(t)
    for line in (_sampled_line(result.samples), _phase_power_line(result.samples)):
        if line:
            out.print(line, markup=False)
    for k, v in result.skipped.items():
        err.print(f"note: skipped {k}: {v}", markup=False)
    for w in warnings:
        err.print(f"warning: {w}", markup=False)
    if written is not None:
        how = f"extends {written.extends or base.name}" if base else "stand-alone CPU profile"
        out.print(f"wrote {write} (profile {written.name!r}, {how}); use it in a budget with "
                  f"`serve: {{hardware: {write.name}}}` or `train: {{hardware: {write.name}}}`",
                  markup=False)
