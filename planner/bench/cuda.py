"""The GPU backend: cuBLAS matmul throughput per precision and HBM bandwidth, through torch.

torch is an optional extra (``pip install torch``, or ``pip install '.[gpu]'`` in a checkout) and is imported inside the functions
here, never at module import.  The method (see :mod:`planner.bench`):

* matmul ``C = A @ B`` with ``torch.matmul(A, B, out=C)`` (the output is written every
  iteration) in bf16, fp16 and tf32 (fp32 inputs with ``allow_tf32``), and fp8 (e4m3 inputs,
  ``torch._scaled_mm`` with unit scales, bf16 output, fast accumulation) on compute capability
  8.9 and newer; 2·m·n·k FLOP a call; several shapes, the best shape's median is the
  achievable figure;
* warm-up before timing; each iteration timed with its own pair of CUDA events; the L2 cache
  flushed (a buffer of twice its size zeroed) before each iteration, outside the events;
* bandwidth: ``dst.copy_(src)`` (2 bytes moved per array byte) and the STREAM triad
  ``torch.add(b, c, alpha=s, out=a)`` (3 bytes per array byte) on 1 GiB arrays;
* NVML sampled every 100 ms on a background thread (clocks, power, temperature, slowdown
  reasons), the device matched by UUID since NVML ignores ``CUDA_VISIBLE_DEVICES``; the
  readings are split by phase: ``idle`` (``idle_s`` seconds with the CUDA context open and no
  kernel running, before any work: what a provisioned replica waiting for requests draws),
  ``compute`` (the matmuls: prefill and training) and ``decode`` (the copy and triad: memory
  bound like token generation), each phase's median power written to the profile;
* iteration counts sized so that the whole run fits ``seconds``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import time
import warnings
from typing import Any, Iterator, Optional, Sequence

from planner.bench import (
    BandwidthCase,
    BenchResult,
    Deadline,
    MatmulCase,
    Progress,
    iterations_for,
    rates,
    utc_now,
)
from planner.bench import nvml as nvml_mod
from planner.bench.sampler import SETTLE_S, Sampler
from planner.errors import InputError, NoGPUError

#: (m, n, k): two square GEMMs and a Llama-70B-sized MLP projection (8192 tokens)
DEFAULT_SHAPES: tuple[tuple[int, int, int], ...] = ((4096, 4096, 4096), (8192, 8192, 8192),
                                                    (8192, 28672, 8192))
PRECISIONS = ("bf16", "fp16", "fp8", "tf32")
GIB = 2**30
_TRIAD_SCALAR = 3.0


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def availability() -> tuple[bool, str]:
    """``(True, "")`` when torch sees a CUDA device, else ``(False, one-line reason)``."""
    if not torch_installed():
        return False, ("torch is not installed (pip install torch, or pip install '.[gpu]' in a "
                       "planner checkout)")
    try:
        import torch  # noqa: PLC0415 - optional and slow to import
    except Exception as exc:  # noqa: BLE001
        return False, f"torch failed to import: {exc}"
    if getattr(torch.version, "cuda", None) is None:
        return False, f"torch {torch.__version__} is a CPU-only build"
    if not torch.cuda.is_available():
        return False, "torch sees no CUDA device"
    return True, ""


def device_uuid(torch: Any, index: int) -> str:
    props = torch.cuda.get_device_properties(index)
    u = getattr(props, "uuid", None)
    return str(u) if u is not None else ""


def _check_device(torch: Any, device: int) -> None:
    count = torch.cuda.device_count()
    if not 0 <= device < count:
        raise InputError(f"--device {device}: torch sees {count} CUDA device(s) "
                         f"(0..{count - 1})")


def identify(torch: Any, device: int, probe: nvml_mod.NVMLProbe
             ) -> tuple[str, Optional[str], Optional[nvml_mod.GPUInfo]]:
    """``(name, shipped profile or None, NVML record or None)`` of a CUDA device, matched to
    NVML by UUID (NVML ignores ``CUDA_VISIBLE_DEVICES``; indices can differ)."""
    props = torch.cuda.get_device_properties(device)
    uuid = device_uuid(torch, device)
    info = probe.by_uuid(uuid) if (probe.available and uuid) else None
    if info is not None:
        return info.name, info.profile, info
    name = str(props.name)
    return name, nvml_mod.profile_for_name(name, int(props.total_memory)), None


def matched_profile(device: int, probe: nvml_mod.NVMLProbe) -> tuple[str, Optional[str]]:
    """The device's name and the shipped profile it maps to (``None`` when none does)."""
    import torch  # noqa: PLC0415

    _check_device(torch, device)
    name, profile, _info = identify(torch, device, probe)
    return name, profile


def supported_precisions(torch: Any, capability: tuple[int, int]) -> list[str]:
    """bf16 needs Ampere (8.0); fp8 needs Ada/Hopper (8.9) and a torch with ``_scaled_mm``."""
    out = ["fp16", "tf32"] if capability >= (8, 0) else ["fp16"]
    if capability >= (8, 0):
        out.insert(0, "bf16")
    if (capability >= (8, 9) and hasattr(torch, "float8_e4m3fn")
            and hasattr(torch, "_scaled_mm")):
        out.insert(out.index("fp16") + 1, "fp8")
    return out


@contextlib.contextmanager
def _tf32(torch: Any, enabled: bool) -> Iterator[None]:
    """fp32 matmuls on the tensor cores (TF32) inside the block; the setting is restored.
    (torch >= 2.9 prefers ``fp32_precision`` and warns about ``allow_tf32``; both work.)"""
    flags = torch.backends.cuda.matmul
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prev = flags.allow_tf32
        flags.allow_tf32 = enabled
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flags.allow_tf32 = prev


class _Timer:
    """CUDA-event timing of ``step`` with an L2 flush before each iteration."""

    def __init__(self, torch: Any, device: Any, flush_bytes: int):
        self.torch = torch
        self.device = device
        self.flush_buf = torch.empty(flush_bytes, dtype=torch.int8, device=device)

    def flush(self) -> None:
        self.flush_buf.zero_()

    def _event(self) -> Any:
        return self.torch.cuda.Event(enable_timing=True)

    def time(self, step: Any, budget_s: float, min_iters: int, max_iters: int) -> list[float]:
        torch = self.torch
        # warm-up: cuBLAS heuristics, clocks ramping up; at least 3 calls or ~10% of the budget
        t0 = time.perf_counter()
        calls = 0
        while calls < 3 or (time.perf_counter() - t0 < min(0.5, 0.1 * budget_s) and calls < 100):
            step()
            calls += 1
            torch.cuda.synchronize(self.device)
        # one timed iteration and one flush: how many iterations fit
        s, e, f = self._event(), self._event(), self._event()
        s.record()
        step()
        e.record()
        self.flush()
        f.record()
        f.synchronize()
        per_iter = (s.elapsed_time(e) + e.elapsed_time(f)) / 1e3 + 20e-6  # + launch gaps
        spent = time.perf_counter() - t0
        n = iterations_for(max(0.0, budget_s - spent), per_iter, min_iters, max_iters)
        starts = [self._event() for _ in range(n)]
        ends = [self._event() for _ in range(n)]
        for i in range(n):
            self.flush()
            starts[i].record()
            step()
            ends[i].record()
        torch.cuda.synchronize(self.device)
        return [a.elapsed_time(b) / 1e3 for a, b in zip(starts, ends, strict=True)]


def _matmul_step(torch: Any, precision: str, m: int, n: int, k: int, device: Any):
    """Allocate the operands; return ``(step, notes)`` for one precision and shape."""
    if precision == "fp8":
        e4m3 = torch.float8_e4m3fn
        a = torch.randn(m, k, device=device).to(e4m3)  # row-major A
        b = torch.randn(n, k, device=device).to(e4m3).t()  # column-major B, as cuBLASLt needs
        one = torch.ones((), device=device, dtype=torch.float32)
        c = torch.empty(m, n, device=device, dtype=torch.bfloat16)
        kw = dict(scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=True)
        try:  # the out= overload writes C in place (torch >= 2.4)
            torch._scaled_mm(a, b, out=c, **kw)

            def step() -> None:
                torch._scaled_mm(a, b, out=c, **kw)
        except (TypeError, RuntimeError):
            torch._scaled_mm(a, b, **kw)  # raises if fp8 is unusable here: the case is skipped

            def step() -> None:
                torch._scaled_mm(a, b, **kw)
        return step
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32}[precision]
    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    c = torch.empty(m, n, device=device, dtype=dtype)

    def step() -> None:
        torch.matmul(a, b, out=c)

    return step


def run(seconds: float = 45.0, *, device: int = 0, precisions: Optional[Sequence[str]] = None,
        shapes: Sequence[tuple[int, int, int]] = DEFAULT_SHAPES, array_bytes: int = GIB,
        min_iters: int = 5, max_iters: int = 2000, sample_interval_s: float = 0.1,
        flush_bytes: Optional[int] = None, progress: Optional[Progress] = None,
        probe: Optional[nvml_mod.NVMLProbe] = None, idle_s: float = 3.0,
        settle_s: float = SETTLE_S) -> BenchResult:
    """Measure CUDA device ``device`` (a torch ordinal, after ``CUDA_VISIBLE_DEVICES``) in
    about ``seconds`` (the first ``idle_s`` of them idle, for the idle power: at most half
    the budget).  ``flush_bytes`` defaults to twice the L2 cache (at least 64 MiB)."""
    ok, why = availability()
    if not ok:
        raise NoGPUError(f"no usable CUDA GPU: {why}")
    import torch  # noqa: PLC0415

    _check_device(torch, device)
    dev = torch.device("cuda", device)
    props = torch.cuda.get_device_properties(dev)
    capability = (int(props.major), int(props.minor))
    uuid = device_uuid(torch, device)
    probe = probe if probe is not None else nvml_mod.probe()
    name, profile, info = identify(torch, device, probe)

    wanted = list(precisions) if precisions else supported_precisions(torch, capability)
    can = supported_precisions(torch, capability)
    skipped: dict[str, str] = {p: f"not supported on compute capability "
                                  f"{capability[0]}.{capability[1]} with torch "
                                  f"{torch.__version__}" for p in wanted if p not in can}
    wanted = [p for p in wanted if p in can]
    deadline = Deadline(seconds)
    l2 = int(getattr(props, "L2_cache_size", 0) or 64 * 2**20)
    cases_total = len(wanted) * len(shapes) + 2
    done = 0
    matmul: list[MatmulCase] = []
    bandwidth: list[BandwidthCase] = []

    def report(desc: str, finished: bool) -> None:
        nonlocal done
        done += int(finished)
        if progress:
            progress(desc, done, cases_total)

    oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    with torch.cuda.device(dev), nvml_mod.device_reader(uuid) as reader, \
            Sampler(reader, sample_interval_s, settle_s) as sampler:
        timer = _Timer(torch, dev, int(flush_bytes or max(2 * l2, 64 * 2**20)))
        torch.cuda.synchronize(dev)  # the context exists and holds memory, as a loaded model's
        with sampler.phase("idle"):
            time.sleep(max(0.0, min(idle_s, 0.5 * seconds)))
        with sampler.phase("compute"):
            for precision in wanted:
                with _tf32(torch, precision == "tf32"):
                    for m, n, k in shapes:
                        desc = f"{precision} matmul {m}x{n}x{k}"
                        report(desc, False)
                        try:
                            step = _matmul_step(torch, precision, m, n, k, dev)
                            times = timer.time(step, deadline.share(cases_total - done),
                                               min_iters, max_iters)
                            med, hi, lo = rates(2.0 * m * n * k, times, 1e12)
                            matmul.append(MatmulCase(precision, m, n, k, len(times), med, hi, lo))
                        except oom:
                            skipped[desc] = "out of GPU memory"
                        except (RuntimeError, TypeError) as exc:
                            skipped[desc] = " ".join(str(exc).split())[:200]
                        finally:
                            step = None
                            torch.cuda.empty_cache()
                        report(desc, True)

        with sampler.phase("decode"):
            # bandwidth: three arrays of array_bytes each, fewer bytes if memory is short
            free, _total = torch.cuda.mem_get_info(dev)
            nbytes = min(int(array_bytes), int(0.8 * free) // 3) // 4 * 4
            n_el = nbytes // 4
            if n_el < 2**20:
                raise NoGPUError(f"{name}: too little free GPU memory for the bandwidth test "
                                 f"({free / GIB:.2f} GiB free)")
            if nbytes < array_bytes:
                skipped["bandwidth size"] = (f"arrays of {nbytes / GIB:.2f} GiB instead of "
                                             f"{array_bytes / GIB:.2f} (free memory)")
            src = torch.full((n_el,), 1.0, device=dev)
            other = torch.full((n_el,), 0.5, device=dev)
            dst = torch.empty(n_el, device=dev)
            kernels = (("copy", lambda: dst.copy_(src), 2),
                       ("triad", lambda: torch.add(src, other, alpha=_TRIAD_SCALAR, out=dst), 3))
            for kname, step, factor in kernels:
                desc = f"{kname} {nbytes / GIB:.2f} GiB"
                report(desc, False)
                times = timer.time(step, deadline.share(cases_total - done), min_iters, max_iters)
                med, hi, lo = rates(float(factor * nbytes), times, 1e9)
                bandwidth.append(BandwidthCase(kname, nbytes, factor * nbytes, len(times),
                                               med, hi, lo))
                report(desc, True)
        expect = 1.0 + _TRIAD_SCALAR * 0.5
        if not math.isclose(float(dst[:: max(1, n_el // 1024)].float().mean()), expect,
                            rel_tol=1e-6):
            raise RuntimeError("the triad wrote wrong values; the measurement is void")
        src = other = dst = timer = None  # free the arrays before empty_cache
        torch.cuda.empty_cache()

    env = {
        "torch_version": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "driver": probe.driver_version,
        "cuda_driver": probe.cuda_driver_version,
        "compute_capability": f"{capability[0]}.{capability[1]}",
        "sm_count": int(getattr(props, "multi_processor_count", 0)),
        "l2_bytes": l2,
        "memory_total_bytes": int(props.total_memory),
        "power_limit_watts": info.power_limit_watts if info else None,
        "max_sm_clock_mhz": info.max_sm_clock_mhz if info else None,
        "torch_device": device,
        "nvml_index": info.index if info else None,
    }
    return BenchResult(
        backend="cuda",
        device_name=name,
        uuid=uuid if uuid.lower().startswith(("gpu-", "mig-")) or not uuid else f"GPU-{uuid}",
        profile=profile,
        matmul=tuple(matmul),
        bandwidth=tuple(bandwidth),
        method=("torch/cuBLAS: torch.matmul(A, B, out=C) (tf32 via allow_tf32; fp8 e4m3 via "
                "torch._scaled_mm, unit scales, bf16 out, fast accumulation); warm-up; CUDA "
                "events per iteration; L2 flushed between iterations; median and max over "
                "iterations, best shape; bandwidth dst.copy_(src) and STREAM triad "
                "torch.add(b, c, alpha=s, out=a); NVML clocks/power sampled every "
                f"{sample_interval_s:g} s; power per phase: median NVML power.draw while idle "
                f"({min(idle_s, 0.5 * seconds):g} s, CUDA context open, before any work), "
                "during the matmuls (compute) and during the copy/triad (decode), each less "
                f"its first {settle_s:g} s"),
        date=utc_now(),
        seconds=deadline.elapsed(),
        environment=env,
        samples=sampler.summary(),
        skipped=skipped,
    )
