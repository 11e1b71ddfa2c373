"""Hardware profiles: peak FLOP/s per precision, HBM, interconnect, power, price.

Three numbers are kept apart:
* **spec**: the datasheet peak (dense, no 2:4 sparsity), ``peak_tflops`` and ``hbm_bandwidth``;
* **achievable**: what a microbenchmark reaches, from the profile's ``measured:`` block
  (``planner bench``) or else ``spec × achievable_fraction``;
* **workload** efficiency: the fraction of *spec* a real workload reaches (prefill MFU, decode
  bandwidth), set per profile or budget.  With a measured profile the workload fractions are
  rescaled by ``measured / (spec × achievable_fraction)``, so a slower card costs more.

Profiles live in ``hardware_profiles/*.yaml`` (shipped in the wheel); one may ``extends:``
another and override fields; budgets name a profile, a file, or give one inline.
"""

from __future__ import annotations

import copy
import difflib
import functools
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from planner.errors import InputError
from planner.yaml_io import format_validation_error, merge_mappings, read_yaml_file

Precision = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4"]
Positive = Annotated[float, Field(ge=1e-9, le=1e15, allow_inf_nan=False)]
"""Every positive profile number (TFLOP/s, GB, GB/s, bytes, W, USD/hour, seconds) lies in
[1e-9, 1e15]: a zero, subnormal or astronomically large field would make costs overflow or
vanish."""
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AchievableFractions(_Strict):
    """Microbenchmark ceilings as fractions of spec (bf16 matmul A100 87%, H100 80%; fp8 H100
    71%; large HBM copy 85-90%)."""

    matmul: Fraction = 0.8
    matmul_fp8: Optional[Fraction] = None
    hbm: Fraction = 0.88


class WorkloadEfficiency(_Strict):
    """Fractions of spec that serving workloads reach (defaults from measured serving kernels:
    docs/serving-model.md)."""

    prefill_mfu: Fraction = 0.65
    decode_mfu: Fraction = 0.65  # compute-bound decode steps (large batch)
    decode_bandwidth: Fraction = 0.75  # weight/KV streaming, of spec HBM bandwidth
    step_overhead_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 5e-4


class Measured(_Strict):
    """What ``planner bench`` measured on a real device (achievable numbers).

    ``tflops`` and ``hbm_bandwidth_gb_per_s`` are what the cost model reads; the rest is
    provenance written by ``planner bench`` (all optional; unknown keys are kept)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    tflops: dict[str, Positive] = Field(default_factory=dict)  # achieved dense matmul (median)
    hbm_bandwidth_gb_per_s: Optional[Positive] = None  # achieved copy bandwidth (median)
    method: str = ""
    date: str = ""
    # provenance (planner bench)
    backend: str = ""  # cuda | cpu
    device_name: str = ""
    uuid: str = ""
    driver: str = ""
    torch_version: str = ""
    tflops_max: dict[str, Positive] = Field(default_factory=dict)  # best single iteration
    hbm_bandwidth_max_gb_per_s: Optional[Positive] = None
    triad_gb_per_s: Optional[Positive] = None  # STREAM triad a = b + s*c (median)
    shapes: list[dict[str, Any]] = Field(default_factory=lambda: [])  # one entry per timed case
    clocks_mhz: dict[str, float] = Field(default_factory=dict)  # sampled during the run
    power_watts: dict[str, float] = Field(default_factory=dict)  # sampled during the run
    # per-phase board power (median NVML power.draw, watts): idle (CUDA context open, no
    # kernel), decode (the HBM copy/triad: memory-bound), compute (the matmuls); the cost
    # model prefers these to the profile's figures (HardwareProfile.phase_watts)
    idle_watts: Optional[Positive] = None
    decode_watts: Optional[Positive] = None
    compute_watts: Optional[Positive] = None
    power_samples: dict[str, int] = Field(default_factory=dict)  # phase -> NVML readings
    seconds: Optional[Annotated[float, Field(ge=0)]] = None  # wall time of the run


class HardwareProfile(_Strict):
    """One accelerator.  Units: TFLOP/s (1e12 FLOP/s), GB and GB/s (1e9 bytes), watts, USD."""

    name: str
    description: str = ""
    vendor: str = ""
    peak_tflops: dict[Precision, Positive]
    hbm_gb: Positive
    hbm_bandwidth_gb_per_s: Positive
    link: str = ""
    link_bandwidth_gb_per_s: Optional[Positive] = None  # GPU-to-GPU, bidirectional
    link_kind: Optional[Literal["nvlink", "pcie", "infinity-fabric"]] = None
    link_latency_us: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 10.0  # per collective
    link_source: str = ""
    hbm_capacity_bytes: Optional[Positive] = None  # what the device really has (driver-reported)
    hbm_capacity_source: str = ""
    tdp_watts: Positive
    decode_watts: Optional[Positive] = None  # memory-bound decode; absent: TDP
    idle_watts: Optional[Positive] = None  # powered, model loaded, no work; absent: decode
    power_source: str = ""  # where tdp/decode/idle watts come from (paper, table, derivation)
    price_usd_per_hour: Positive
    price_date: str = ""
    price_source: str = ""
    pue: Annotated[float, Field(ge=1, le=3)] = 1.2
    hbm_headroom: Annotated[float, Field(ge=0, lt=1)] = 0.1  # reserved for activations etc.
    achievable_fraction: AchievableFractions = Field(default_factory=AchievableFractions)
    workload: WorkloadEfficiency = Field(default_factory=WorkloadEfficiency)
    measured: Optional[Measured] = None
    source: str = ""
    extends: Optional[str] = None

    @field_validator("decode_watts")
    @classmethod
    def _decode_within_tdp(cls, v: Optional[float], info: ValidationInfo) -> Optional[float]:
        tdp = info.data.get("tdp_watts")
        if v is not None and tdp is not None and v > tdp:
            raise ValueError(f"{v:g} W is above tdp_watts ({tdp:g} W): memory-bound decode "
                             "cannot draw more than the board's power limit (lowering "
                             "tdp_watts? set decode_watts and idle_watts with it)")
        return v

    @field_validator("idle_watts")
    @classmethod
    def _idle_within_decode(cls, v: Optional[float], info: ValidationInfo) -> Optional[float]:
        decode, tdp = info.data.get("decode_watts"), info.data.get("tdp_watts")
        if v is not None and decode is not None and v > decode:
            raise ValueError(f"{v:g} W is above decode_watts ({decode:g} W): an idle GPU "
                             "cannot draw more than a decoding one")
        if v is not None and tdp is not None and v > tdp:
            raise ValueError(f"{v:g} W is above tdp_watts ({tdp:g} W)")
        return v

    # ---- numbers the cost model reads (SI base units) ----------------------------------------
    def peak_flops(self, precision: str) -> float:
        """Spec dense peak in FLOP/s at ``precision``."""
        if precision not in self.peak_tflops:
            raise InputError(f"hardware {self.name!r} has no {precision} peak; it lists "
                             f"{', '.join(self.peak_tflops)}")
        return self.peak_tflops[precision] * 1e12

    @property
    def hbm_bytes(self) -> float:
        """Device memory in bytes: ``hbm_capacity_bytes`` when the profile gives it (an
        "80 GB" part holds 80 GiB less what the driver reserves), else ``hbm_gb × 1e9``."""
        if self.hbm_capacity_bytes is not None:
            return float(self.hbm_capacity_bytes)
        return self.hbm_gb * 1e9

    @property
    def link_bandwidth_per_direction(self) -> float:
        """GPU-to-GPU bytes/s in one direction: half the bidirectional datasheet figure; PCIe
        4.0 x16 (32 GB/s, PCI-SIG) when the profile gives no link."""
        if self.link_bandwidth_gb_per_s is None:
            return 32e9
        return self.link_bandwidth_gb_per_s * 1e9 / 2.0

    def phase_watts(self, phase: str) -> float:
        """Board power of one phase in watts: ``idle`` (provisioned, no work), ``decode``
        (memory-bound: decode, draft, step overhead, communication) or anything else
        (compute-bound: training, prefill).

        Precedence, per phase: the ``measured:`` block (``planner bench``), then the profile's
        field, then the next busier phase: compute = measured ``compute_watts`` or
        ``tdp_watts``; decode = measured ``decode_watts``, ``decode_watts`` or compute;
        idle = measured ``idle_watts``, ``idle_watts`` or decode.  Each is capped by the
        busier phase (idle <= decode <= compute), so the power above idle is never negative."""
        return self._phase_power(phase)[0]

    def phase_power_basis(self, phase: str) -> str:
        """Which figure :meth:`phase_watts` used, in words (``power_source`` says where the
        profile's figures come from)."""
        return self._phase_power(phase)[1]

    def _phase_power(self, phase: str) -> tuple[float, str]:
        m = self.measured

        def bench(key: str) -> str:
            n = m.power_samples.get(key) if m else None
            return (f"measured by planner bench on {m.device_name or 'this device'}"
                    f"{' ' + m.date[:10] if m and m.date else ''}"
                    f"{f', median of {n} NVML readings' if n else ''}")

        if m is not None and m.compute_watts is not None:
            compute = (float(m.compute_watts), bench("compute"))
        else:
            compute = (float(self.tdp_watts), "tdp_watts")
        if phase not in ("decode", "idle"):
            return compute
        power, busier = compute, "compute"
        for name in ("decode", "idle"):  # each falls back to, and is capped by, the busier one
            measured = getattr(m, f"{name}_watts", None) if m is not None else None
            given = getattr(self, f"{name}_watts")
            if measured is not None:
                figure = (float(measured), bench(name))
            elif given is not None:
                figure = (float(given), f"{name}_watts")
            else:
                figure = (power[0], f"{power[1]} (no {name} figure)")
            if figure[0] > power[0]:
                figure = (power[0], f"{power[1]} ({name} figure capped at the {busier} draw)")
            power, busier = figure, name
            if phase == name:
                break
        return power

    @property
    def hbm_bandwidth(self) -> float:
        """Spec HBM bandwidth in bytes/s."""
        return self.hbm_bandwidth_gb_per_s * 1e9

    def achievable_flops(self, precision: str) -> float:
        """Measured matmul FLOP/s if benchmarked, else spec × achievable fraction."""
        if self.measured and precision in self.measured.tflops:
            return self.measured.tflops[precision] * 1e12
        frac = self.achievable_fraction.matmul
        if precision in ("fp8", "int8", "int4") and self.achievable_fraction.matmul_fp8:
            frac = self.achievable_fraction.matmul_fp8
        return self.peak_flops(precision) * frac

    def achievable_bandwidth(self) -> float:
        if self.measured and self.measured.hbm_bandwidth_gb_per_s:
            return self.measured.hbm_bandwidth_gb_per_s * 1e9
        return self.hbm_bandwidth * self.achievable_fraction.hbm

    @property
    def efficiency_basis(self) -> str:
        """'measured' when a bench block calibrates this profile, else 'spec x default'."""
        return "measured" if self.measured else "spec x default fraction"

    def calibration(self, precision: str) -> tuple[float, float]:
        """Factors (compute, bandwidth) applied to spec-relative workload efficiencies:
        ``achievable / (spec × default fraction)``; 1.0 without a measured block."""
        if not self.measured:
            return 1.0, 1.0
        frac = self.achievable_fraction.matmul
        if precision in ("fp8", "int8", "int4") and self.achievable_fraction.matmul_fp8:
            frac = self.achievable_fraction.matmul_fp8
        c = self.achievable_flops(precision) / (self.peak_flops(precision) * frac)
        b = self.achievable_bandwidth() / (self.hbm_bandwidth * self.achievable_fraction.hbm)
        return c, b

    @property
    def power_kw(self) -> float:
        return self.tdp_watts / 1000.0

    def ridge_batch(self, precision: str = "bf16", weight_bits: float = 16) -> float:
        """Decode batch where the weight-only roofline turns compute-bound: ``F·b_w/(16·BW)``
        (KV bytes ignored; ``Roofline.ridge_batch`` counts them)."""
        return self.peak_flops(precision) * weight_bits / (16.0 * self.hbm_bandwidth)


def profile_dirs() -> list[Path]:
    """Where shipped profiles live: the wheel's package data, else the checkout's folder
    (editable installs do not see hatchling's force-include)."""
    here = Path(__file__).resolve().parent
    return [d for d in (here / "_hardware_profiles", here.parent / "hardware_profiles")
            if d.is_dir()]


def _profile_files() -> dict[str, Path]:
    """The shipped profiles by name (listed again only when a profile folder changes)."""
    dirs = profile_dirs()
    return dict(_listed(tuple(dirs), tuple(d.stat().st_mtime_ns for d in dirs)))


@functools.lru_cache(maxsize=8)
def _listed(dirs: tuple, mtimes: tuple) -> tuple:
    files: dict[str, Path] = {}
    for d in dirs:
        for f in sorted(d.glob("*.yaml")):
            files.setdefault(f.stem, f)
    return tuple(files.items())


def list_profiles() -> list[str]:
    return sorted(_profile_files())


@functools.lru_cache(maxsize=128)
def _read_profile_file(path: str, mtime_ns: int, size: int) -> tuple[dict, dict]:
    return read_yaml_file(Path(path))


def _read_profile(path: Path) -> tuple[dict, dict]:
    """A profile file's data (a fresh copy: callers merge into it) and its marks, parsed once
    per version of the file (a report loads the same few profiles dozens of times)."""
    st = path.stat()
    data, marks = _read_profile_file(str(path), st.st_mtime_ns, st.st_size)
    return copy.deepcopy(data), marks


def _raw_profile(name_or_path: str, base_dir: Path | None, seen: tuple = ()) -> dict:
    """Profile data with ``extends:`` resolved (recursively, cycles refused)."""
    files = _profile_files()
    path: Path | None = None
    if name_or_path in files:
        path = files[name_or_path]
    else:
        cand = Path(name_or_path)
        if not cand.is_absolute() and base_dir is not None:
            cand = base_dir / cand
        try:
            if cand.suffix in (".yaml", ".yml") and cand.is_file():
                path = cand
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte
            path = None
    if path is None:
        close = difflib.get_close_matches(name_or_path, list(files), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(f"unknown hardware profile {name_or_path!r}{hint}; known: "
                         f"{', '.join(sorted(files))}, or a path to a .yaml file")
    if str(path) in seen:
        raise InputError(f"{path}: extends: cycle through {' -> '.join(seen)}")
    from planner.budget.limits import MAX_EXTENDS_DEPTH, check_numbers

    if len(seen) >= MAX_EXTENDS_DEPTH:
        raise InputError(f"{path}: extends: chain longer than {MAX_EXTENDS_DEPTH} profiles "
                         f"(from {seen[0]}); refused")
    data, marks = _read_profile(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}:1:1: a hardware profile is a mapping of keys")
    check_numbers(data, marks, str(path))
    if data.get("extends") is not None and not isinstance(data["extends"], str):
        line, col = marks.get(("extends",), (1, 1))
        raise InputError(f"{path}:{line}:{col}: extends: expected a profile name or path")
    data.setdefault("name", path.stem)
    if data.get("extends"):
        base = _raw_profile(str(data["extends"]), path.parent, seen + (str(path),))
        base.pop("measured", None)
        data = merge_mappings(base, data)
    data["__file__"] = str(path)
    return data


def profile_from_data(data: dict, where: str = "<profile>", base_dir: Path | None = None,
                      marks: dict | None = None) -> HardwareProfile:
    """Validate profile data (after resolving an ``extends:`` it may name)."""
    data = dict(data)
    if data.get("extends"):
        base = _raw_profile(str(data["extends"]), base_dir)
        base.pop("measured", None)
        base.pop("__file__", None)
        data = merge_mappings(base, data)
    data.pop("__file__", None)
    try:
        return HardwareProfile.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, marks or {}, where, HardwareProfile)) \
            from None


@functools.lru_cache(maxsize=64)
def _load_cached(name_or_path: str, base_dir: str | None) -> HardwareProfile:
    data = _raw_profile(name_or_path, Path(base_dir) if base_dir else None)
    where = data.pop("__file__", name_or_path)
    parent = data.pop("extends", None)  # already merged in; kept on the result for the record
    _, marks = _read_profile(Path(where)) if Path(where).is_file() else (None, {})
    profile = profile_from_data(data, where, None, marks)
    return profile.model_copy(update={"extends": parent}) if parent else profile


def load_profile(name_or_path: str, base_dir: Path | None = None) -> HardwareProfile:
    """A profile by shipped name (``h100-sxm``) or by YAML path (relative to ``base_dir``)."""
    if base_dir is not None and name_or_path in _profile_files():
        base_dir = None  # a shipped name is found without it: one cache entry
    return _load_cached(name_or_path, str(base_dir) if base_dir else None)
