"""Compare a benchmark with a profile's spec, and write a calibrated profile.

A GPU profile written here ``extends:`` the shipped one and adds a ``measured:`` block; the cost
model then uses ``achievable = measured`` instead of ``spec × default fraction``
(:meth:`planner.hardware.HardwareProfile.achievable_flops`).  A CPU run has no shipped profile
to extend: it becomes a stand-alone ``cpu-<arch>-<cores>c`` profile whose peak is the best
iteration measured and whose power and price are nominal placeholders.
"""

from __future__ import annotations

import math
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from planner.bench import BenchResult
from planner.errors import InputError
from planner.hardware import HardwareProfile, profile_from_data
from planner.yaml_io import read_yaml_file

# nominal values for a stand-alone CPU profile (the cost model needs a power and a price)
CPU_NOMINAL_TDP_WATTS = 100.0
CPU_NOMINAL_PRICE_USD_PER_HOUR = 0.10


@dataclass(frozen=True)
class Row:
    """One line of the measured-vs-spec table."""

    quantity: str  # "bf16 matmul", "copy", "triad"
    unit: str  # "TFLOP/s" | "GB/s"
    median: float
    max: float
    detail: str  # best shape, or array size
    spec: Optional[float] = None
    default_achievable: Optional[float] = None  # spec × the profile's default fraction

    @property
    def fraction(self) -> Optional[float]:
        """Median as a fraction of spec."""
        return self.median / self.spec if self.spec else None

    def as_dict(self) -> dict[str, Any]:
        return {"quantity": self.quantity, "unit": self.unit, "median": self.median,
                "max": self.max, "detail": self.detail, "spec": self.spec,
                "fraction_of_spec": self.fraction, "default_achievable": self.default_achievable}


def _default_matmul_fraction(p: HardwareProfile, precision: str) -> float:
    frac = p.achievable_fraction.matmul
    if precision in ("fp8", "int8", "int4") and p.achievable_fraction.matmul_fp8:
        frac = p.achievable_fraction.matmul_fp8
    return frac


def compare(result: BenchResult, profile: Optional[HardwareProfile]) -> list[Row]:
    """Measured medians and maxima next to the spec (``None`` without a profile)."""
    rows: list[Row] = []
    for precision in result.tflops():
        c = result.best_case(precision)
        assert c is not None
        spec = profile.peak_tflops.get(precision) if profile else None  # type: ignore
        default = spec * _default_matmul_fraction(profile, precision) if spec else None
        rows.append(Row(f"{precision} matmul", "TFLOP/s", c.median_tflops,
                        result.tflops_max()[precision], f"{c.m}x{c.n}x{c.k}", spec, default))
    for b in result.bandwidth:
        spec = profile.hbm_bandwidth_gb_per_s if profile else None
        default = spec * profile.achievable_fraction.hbm if (spec and profile) else None
        rows.append(Row(b.kernel, "GB/s", b.median_gb_per_s, b.max_gb_per_s,
                        f"{b.array_bytes / 2**30:.2f} GiB", spec, default))
    return rows


def warnings_for(rows: list[Row], profile_name: Optional[str]) -> list[str]:
    """Figures that do not fit the profile (above spec: wrong profile or wrong clocks?)."""
    out = []
    for r in rows:
        if r.fraction is not None and r.fraction > 1.05:
            out.append(f"{r.quantity} measured {r.median:,.4g} {r.unit}, {r.fraction:.0%} of the "
                       f"{profile_name} spec: is {profile_name!r} the right profile?")
    return out


# ---- the measured: block ---------------------------------------------------------------------

def _sig(v: float, digits: int = 5) -> float:
    """Round to significant digits (a CPU's 0.15 TFLOP/s must not round to 0)."""
    return float(f"{v:.{digits}g}") if math.isfinite(v) else v


def _sampled(samples: dict[str, Any]) -> dict[str, Any]:
    """Sampler summary -> ``clocks_mhz``, ``power_watts`` and friends, flat and rounded."""
    out: dict[str, Any] = {}
    clocks: dict[str, float] = {}
    for key, stats in samples.items():
        if key.endswith("_clock_mhz") and isinstance(stats, dict):
            prefix = key[: -len("_clock_mhz")]
            for s in ("min", "median", "max"):
                clocks[f"{prefix}_{s}"] = _sig(stats[s])
    if clocks:
        out["clocks_mhz"] = clocks
    if isinstance(samples.get("power_watts"), dict):
        out["power_watts"] = {s: _sig(samples["power_watts"][s]) for s in ("min", "median", "max")}
    if isinstance(samples.get("temperature_c"), dict):
        out["temperature_c"] = {s: _sig(samples["temperature_c"][s])
                                for s in ("min", "median", "max")}
    if "throttle" in samples:
        out["throttle_reasons"] = list(samples["throttle"])
    out["samples"] = int(samples.get("samples", 0))
    out.update(phase_power(samples))
    return out


def phase_power(samples: dict[str, Any]) -> dict[str, Any]:
    """The sampler's per-phase medians as the profile's ``idle_watts``, ``decode_watts`` and
    ``compute_watts`` (with ``power_samples``: readings behind each), for the phases the run
    sampled power in (none on the CPU backend, which reads no power)."""
    phases = samples.get("phases") or {}
    out: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for phase in ("idle", "decode", "compute"):
        p = phases.get(phase)
        if isinstance(p, dict) and isinstance(p.get("power_watts"), (int, float)) \
                and p["power_watts"] > 0:
            out[f"{phase}_watts"] = _sig(float(p["power_watts"]), 4)
            counts[phase] = int(p.get("samples", 0))
    if counts:
        out["power_samples"] = counts
    return out


def measured_block(result: BenchResult) -> dict[str, Any]:
    """The ``measured:`` mapping of a calibrated profile (plain YAML-safe types)."""
    if not result.matmul and not result.bandwidth:
        raise InputError("the benchmark measured nothing (every case was skipped): "
                         + "; ".join(f"{k}: {v}" for k, v in result.skipped.items()))
    copy, triad = result.kernel("copy"), result.kernel("triad")
    env = {k: v for k, v in result.environment.items() if v is not None and v != ""}
    block: dict[str, Any] = {
        "tflops": {p: _sig(v) for p, v in result.tflops().items()},
        "tflops_max": {p: _sig(v) for p, v in result.tflops_max().items()},
    }
    if copy:
        block["hbm_bandwidth_gb_per_s"] = _sig(copy.median_gb_per_s)
        block["hbm_bandwidth_max_gb_per_s"] = _sig(copy.max_gb_per_s)
    if triad:
        block["triad_gb_per_s"] = _sig(triad.median_gb_per_s)
    block.update({
        "method": result.method,
        "date": result.date,
        "backend": result.backend,
        "device_name": result.device_name,
    })
    if result.uuid:
        block["uuid"] = result.uuid
    if env.get("driver"):
        block["driver"] = str(env["driver"])
    if env.get("torch_version"):
        block["torch_version"] = str(env["torch_version"])
    block["seconds"] = round(result.seconds, 2)
    block.update(_sampled(result.samples))
    block["shapes"] = [
        {k: (_sig(v) if isinstance(v, float) else v) for k, v in c.as_dict().items()}
        for c in (*result.matmul, *result.bandwidth)
    ]
    block["environment"] = {k: (_sig(v) if isinstance(v, float) else v) for k, v in env.items()}
    if result.skipped:
        block["skipped"] = dict(result.skipped)
    return block


def cpu_profile_name(result: BenchResult) -> str:
    """``cpu-<arch>-<cores>c``: identifies the kind of machine, not the host."""
    arch = re.sub(r"[^a-z0-9]+", "-", str(result.environment.get("machine")
                                          or platform.machine() or "cpu").lower()).strip("-")
    return f"cpu-{arch}-{int(result.environment.get('cpu_count') or 1)}c"


def calibrated_profile_data(result: BenchResult, base: Optional[str], name: str) -> dict:
    """Profile data for ``result``: ``extends: base`` plus ``measured:``, or (CPU, no base) a
    stand-alone profile whose peaks are the measured maxima."""
    block = measured_block(result)
    if base:
        return {"name": name, "extends": base,
                "description": f"{base} calibrated by planner bench on {result.device_name} "
                               f"({result.date[:10]})",
                "measured": block}
    if result.backend != "cpu":
        raise InputError(f"{result.device_name!r} matches no shipped profile; pass --profile "
                         "NAME to say which profile the calibration extends")
    if "fp32" not in block["tflops"] or "hbm_bandwidth_gb_per_s" not in block:
        raise InputError("a CPU profile needs the fp32 matmul and the copy measurements")
    fp32_med, fp32_max = block["tflops"]["fp32"], block["tflops_max"]["fp32"]
    bw_med, bw_max = block["hbm_bandwidth_gb_per_s"], block["hbm_bandwidth_max_gb_per_s"]
    # numpy has no bf16/fp16 BLAS: those entries stand in with the fp32 figures so that
    # budgets (bf16 by default) can run on this profile; the file says so
    block["tflops"] = {"fp32": fp32_med, "bf16": fp32_med, "fp16": fp32_med}
    block["tflops_max"] = {"fp32": fp32_max, "bf16": fp32_max, "fp16": fp32_max}
    block["stand_ins"] = {"bf16": "fp32", "fp16": "fp32"}
    mem = result.environment.get("memory_total_bytes")
    return {
        "name": name,
        "description": f"{result.device_name} ({result.environment.get('cpu_count', '?')} "
                       "threads) measured by planner bench --backend cpu; bf16/fp16 are the "
                       "fp32 figures (numpy has no bf16 matmul)",
        "vendor": "cpu",
        "source": f"planner bench --backend cpu, {result.date}; peaks = best iteration; "
                  "tdp_watts and price_usd_per_hour are nominal placeholders",
        "peak_tflops": {"fp32": fp32_max, "bf16": fp32_max, "fp16": fp32_max},
        "hbm_gb": _sig(mem / 1e9) if mem else 1.0,
        "hbm_bandwidth_gb_per_s": bw_max,
        "tdp_watts": CPU_NOMINAL_TDP_WATTS,
        "price_usd_per_hour": CPU_NOMINAL_PRICE_USD_PER_HOUR,
        "price_source": "nominal placeholder (planner bench --backend cpu); set your own",
        # median/max: with a measured block the calibration factor is then exactly 1
        "achievable_fraction": {"matmul": min(1.0, _sig(fp32_med / fp32_max)),
                                "hbm": min(1.0, _sig(bw_med / bw_max))},
        "measured": block,
    }


def validate(data: dict, where: str = "<calibrated profile>",
             base_dir: Optional[Path] = None) -> HardwareProfile:
    """The profile ``data`` describes (``extends:`` resolved); raises ``InputError``."""
    return profile_from_data(data, where, base_dir)


def write_profile(data: dict, path: str | Path) -> HardwareProfile:
    """Validate ``data``, write it as YAML, read the file back and return the profile.

    Nothing is written when ``data`` does not validate.  The read-back goes through the same
    strict loader budgets use (not the cached :func:`planner.hardware.load_profile`)."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        raise InputError(f"--write {path}: a profile file must end in .yaml or .yml")
    validate(data, str(path), path.parent)
    head = (f"# Calibrated hardware profile written by `planner bench` "
            f"({data['measured'].get('date', '')}).\n"
            f"# Use it in a budget: `serve: {{hardware: {path.name}}}` or "
            f"`train: {{hardware: {path.name}}}`\n"
            "# (a path relative to the budget file).  `measured:` holds the achievable "
            "figures the planner uses.\n")
    text = head + yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100,
                                 allow_unicode=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--write {path}: {exc.strerror or exc}") from None
    from planner.files import atomic_write

    atomic_write(path, text, option="--write")
    back, marks = read_yaml_file(path)
    back.setdefault("name", path.stem)
    return profile_from_data(back, str(path), path.parent, marks)
