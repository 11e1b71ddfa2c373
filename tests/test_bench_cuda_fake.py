"""The CUDA backend's orchestration, run against a numpy-backed stand-in for torch.

This is not a measurement (the numbers are numpy's): it runs ``planner.bench.cuda.run`` line by
line without a GPU, so shapes, precisions, the tf32 switch, the fp8 fallback, out-of-memory
skips, the bandwidth sizing and the triad check are exercised on every machine.  The real
thing is in test_bench_gpu.py (marked ``gpu``)."""

import contextlib
import importlib.machinery
import sys
import time
import types
import uuid as uuidlib

import numpy as np
import pytest

from planner.bench import cuda
from planner.bench.nvml import GPUInfo, NVMLProbe
from planner.errors import InputError, NoGPUError

UUID = "5a3e0c1d-7f2b-4c11-9e8a-0123456789ab"


class OOM(RuntimeError):
    pass


class DType:
    def __init__(self, name, np_dtype):
        self.name, self.np = name, np_dtype


class T:
    """A tensor: an ndarray plus the torch methods cuda.py calls."""

    def __init__(self, a, dtype):
        self.a, self.dtype = a, dtype

    def zero_(self):
        self.a[...] = 0
        return self

    def to(self, dtype):
        return T(self.a.astype(dtype.np), dtype)

    def t(self):
        return T(self.a.T, self.dtype)

    def copy_(self, src):
        np.copyto(self.a, src.a)
        return self

    def __getitem__(self, idx):
        return T(self.a[idx], self.dtype)

    def float(self):
        return T(self.a.astype(np.float32), FakeTorch.float32)

    def mean(self):
        return T(np.asarray(self.a.mean()), self.dtype)

    def __float__(self):
        return float(self.a)


class Event:
    def __init__(self, enable_timing=False):
        assert enable_timing
        self.t = None

    def record(self):
        self.t = time.perf_counter()

    def synchronize(self):
        pass

    def elapsed_time(self, other):  # milliseconds, like torch
        return (other.t - self.t) * 1e3


class FakeTorch(types.ModuleType):
    bfloat16 = DType("bfloat16", np.float32)
    float16 = DType("float16", np.float32)
    float32 = DType("float32", np.float32)
    int8 = DType("int8", np.int8)
    float8_e4m3fn = DType("float8_e4m3fn", np.float32)

    def __init__(self, capability=(9, 0), max_elements=10**7, scaled_mm_out=True,
                 free_bytes=80 * 2**30, uuid=UUID):
        super().__init__("torch")
        self.__spec__ = importlib.machinery.ModuleSpec("torch", None)
        self.__version__ = "2.13.0+fake"
        self.version = types.SimpleNamespace(cuda="12.8")
        self.max_elements = max_elements
        self.scaled_mm_out = scaled_mm_out
        self.calls = []
        props = types.SimpleNamespace(name="NVIDIA H100 80GB HBM3", uuid=uuidlib.UUID(uuid),
                                      total_memory=85520809984, major=capability[0],
                                      minor=capability[1], multi_processor_count=132,
                                      L2_cache_size=2**20)
        matmul_flags = types.SimpleNamespace(allow_tf32=False)
        self.backends = types.SimpleNamespace(cuda=types.SimpleNamespace(matmul=matmul_flags))
        self.cuda = types.SimpleNamespace(
            is_available=lambda: True, device_count=lambda: 1,
            get_device_properties=lambda i: props, get_device_capability=lambda i=0: capability,
            device=lambda d: contextlib.nullcontext(), Event=Event,
            synchronize=lambda d=None: None, empty_cache=lambda: None,
            mem_get_info=lambda d=None: (free_bytes, 85520809984), OutOfMemoryError=OOM)

    def device(self, kind, index):
        return types.SimpleNamespace(type=kind, index=index)

    def _alloc(self, shape):
        if int(np.prod(shape)) > self.max_elements:
            raise OOM("CUDA out of memory. Tried to allocate 9.00 GiB")

    def empty(self, *shape, dtype=None, device=None):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        self._alloc(shape)
        dtype = dtype or self.float32
        return T(np.zeros(shape, dtype=dtype.np), dtype)

    def randn(self, *shape, device=None, dtype=None):
        self._alloc(shape)
        dtype = dtype or self.float32
        return T(np.random.default_rng(0).standard_normal(shape).astype(dtype.np), dtype)

    def full(self, shape, value, device=None):
        self._alloc(shape)
        return T(np.full(shape, value, dtype=np.float32), self.float32)

    def ones(self, shape, device=None, dtype=None):
        return T(np.ones(shape, dtype=np.float32), dtype or self.float32)

    def matmul(self, a, b, out):
        self.calls.append(("matmul", a.dtype.name, self.backends.cuda.matmul.allow_tf32))
        np.matmul(a.a, b.a, out=out.a)
        return out

    def add(self, a, b, alpha, out):
        np.add(a.a, alpha * b.a, out=out.a)
        return out

    def _scaled_mm(self, a, b, scale_a, scale_b, out_dtype, use_fast_accum=False, out=None):
        assert a.dtype is self.float8_e4m3fn and b.dtype is self.float8_e4m3fn
        assert b.a.flags["F_CONTIGUOUS"]  # column-major B, as cuBLASLt needs
        if out is not None and not self.scaled_mm_out:
            raise TypeError("_scaled_mm() got an unexpected keyword argument 'out'")
        self.calls.append(("scaled_mm", out is not None, use_fast_accum))
        r = np.matmul(a.a, b.a)
        if out is not None:
            out.a[...] = r
            return out
        return T(r, out_dtype)


@pytest.fixture
def fake_torch(monkeypatch):
    def install(**kw):
        t = FakeTorch(**kw)
        monkeypatch.setitem(sys.modules, "torch", t)
        return t
    return install


PROBE = NVMLProbe(True, driver_version="550.54.15", cuda_driver_version="12.8",
                  devices=(GPUInfo(index=3, name="NVIDIA H100 80GB HBM3", uuid="GPU-" + UUID,
                                   power_limit_watts=700.0, max_sm_clock_mhz=1980,
                                   profile="h100-sxm"),))
KW = dict(shapes=((64, 64, 64), (32, 96, 48)), array_bytes=8 * 2**20, max_iters=6,
          flush_bytes=2**20, sample_interval_s=0.01, probe=PROBE)


def test_run_measures_all_precisions_in_order(fake_torch):
    torch = fake_torch()
    seen = []
    r = cuda.run(0.5, progress=lambda d, i, n: seen.append((d, i, n)), **KW)
    assert r.backend == "cuda" and r.device_name == "NVIDIA H100 80GB HBM3"
    assert r.uuid == "GPU-" + UUID and r.profile == "h100-sxm"
    assert [c.precision for c in r.matmul] == ["bf16"] * 2 + ["fp16"] * 2 + ["fp8"] * 2 + \
        ["tf32"] * 2
    assert all(5 <= c.iterations <= 6 for c in r.matmul)
    assert [(b.kernel, b.array_bytes, b.bytes_per_iteration) for b in r.bandwidth] == [
        ("copy", 8 * 2**20, 16 * 2**20), ("triad", 8 * 2**20, 24 * 2**20)]
    assert r.skipped == {}
    assert r.environment["driver"] == "550.54.15" and r.environment["nvml_index"] == 3
    assert r.environment["compute_capability"] == "9.0"
    assert r.environment["power_limit_watts"] == 700.0
    assert seen[-1] == ("triad 0.01 GiB", 10, 10)
    # tf32 only while measuring tf32, and switched back off afterwards
    flags = {(name, tf32) for op, name, tf32 in
             (c for c in torch.calls if c[0] == "matmul")}
    assert flags == {("bfloat16", False), ("float16", False), ("float32", True)}
    assert torch.backends.cuda.matmul.allow_tf32 is False
    # fp8 writes its output in place and uses fast accumulation
    assert {c[1:] for c in torch.calls if c[0] == "scaled_mm"} == {(True, True)}


def test_fp8_falls_back_without_the_out_overload(fake_torch):
    torch = fake_torch(scaled_mm_out=False)
    r = cuda.run(0.3, precisions=["fp8"], **KW)
    assert [c.precision for c in r.matmul] == ["fp8", "fp8"]
    assert {c[1] for c in torch.calls if c[0] == "scaled_mm"} == {False}


def test_older_gpus_skip_what_they_cannot_do(fake_torch):
    fake_torch(capability=(8, 0))
    r = cuda.run(0.3, precisions=["bf16", "fp8"], **KW)
    assert set(r.tflops()) == {"bf16"}
    assert r.skipped["fp8"].startswith("not supported on compute capability 8.0")


def test_out_of_memory_skips_the_shape_not_the_run(fake_torch):
    fake_torch(max_elements=3 * 2**20)
    kw = {**KW, "shapes": ((64, 64, 64), (4096, 4096, 4096))}
    r = cuda.run(0.3, precisions=["bf16"], **kw)
    assert [(c.m, c.precision) for c in r.matmul] == [(64, "bf16")]
    assert r.skipped == {"bf16 matmul 4096x4096x4096": "out of GPU memory"}
    assert [b.kernel for b in r.bandwidth] == ["copy", "triad"]


def test_bandwidth_arrays_shrink_to_free_memory(fake_torch):
    fake_torch(free_bytes=30 * 2**20)
    r = cuda.run(0.3, precisions=["bf16"], **{**KW, "array_bytes": 2**30})
    assert r.kernel("copy").array_bytes == int(0.8 * 30 * 2**20) // 3 // 4 * 4
    assert "bandwidth size" in r.skipped


def test_device_out_of_range_and_no_cuda(fake_torch, monkeypatch):
    fake_torch()
    with pytest.raises(InputError, match="--device 2: torch sees 1 CUDA device"):
        cuda.run(0.3, device=2, **KW)
    torch = fake_torch()
    torch.cuda.is_available = lambda: False
    with pytest.raises(NoGPUError, match="torch sees no CUDA device"):
        cuda.run(0.3, **KW)
    torch.version.cuda = None
    assert cuda.availability() == (False, "torch 2.13.0+fake is a CPU-only build")


def test_matched_profile_for_the_write_precheck(fake_torch):
    fake_torch()
    assert cuda.matched_profile(0, PROBE) == ("NVIDIA H100 80GB HBM3", "h100-sxm")
    fake_torch(uuid="00000000-0000-0000-0000-000000000001")  # NVML does not list it
    assert cuda.matched_profile(0, PROBE) == ("NVIDIA H100 80GB HBM3", "h100-sxm")  # by name


def test_power_is_sampled_per_phase_idle_compute_decode(fake_torch, monkeypatch, tmp_path):
    """A fake NVML reader whose power follows what the fake GPU runs: 80 W before any kernel,
    650 W after a matmul, 410 W after a copy or triad.  The sampler reads it synchronously,
    after every fake kernel and five times in the idle wait (no thread timing involved).  The
    run's idle, compute and decode phases must come out as those three numbers, and the
    profile written from them must charge each phase at its own."""
    import threading

    from planner.bench.calibrate import calibrated_profile_data, write_profile
    from planner.hardware import load_profile

    torch = fake_torch()
    state = {"now": "idle"}
    watts = {"idle": 80.0, "compute": 650.0, "memory": 410.0}

    class SyncSampler(cuda.Sampler):
        live = None

        def __enter__(self):
            SyncSampler.live = self
            return self

        def __exit__(self, *exc):
            return None

    def tag(fn, kind):
        def wrapped(*a, **kw):
            state["now"] = kind
            out = fn(*a, **kw)
            SyncSampler.live._poll_once()
            return out
        return wrapped

    real_sleep = time.sleep

    def sleep(seconds):
        if threading.current_thread() is not threading.main_thread():
            return real_sleep(seconds)  # some other thread of the test process
        for _ in range(5):
            SyncSampler.live._poll_once()

    monkeypatch.setattr(cuda, "Sampler", SyncSampler)
    monkeypatch.setattr(cuda.time, "sleep", sleep)
    monkeypatch.setattr(torch, "matmul", tag(torch.matmul, "compute"))
    monkeypatch.setattr(torch, "_scaled_mm", tag(torch._scaled_mm, "compute"))
    monkeypatch.setattr(torch, "add", tag(torch.add, "memory"))
    monkeypatch.setattr(T, "copy_", tag(T.copy_, "memory"))

    @contextlib.contextmanager
    def reader(uuid, nvml=None):
        yield lambda: {"power_watts": watts[state["now"]]}

    monkeypatch.setattr(cuda.nvml_mod, "device_reader", reader)
    r = cuda.run(0.5, idle_s=0.2, settle_s=0.0, **KW)
    phases = r.samples["phases"]
    assert {k: v["power_watts"] for k, v in phases.items()} == {
        "idle": 80.0, "compute": 650.0, "decode": 410.0}
    assert phases["idle"]["samples"] == 5
    assert min(v["samples"] for v in phases.values()) >= 5
    path = tmp_path / "fake-h100.yaml"
    write_profile(calibrated_profile_data(r, "h100-sxm", "fake-h100"), path)
    p = load_profile(str(path))
    assert (p.measured.idle_watts, p.measured.decode_watts, p.measured.compute_watts) == (
        80.0, 410.0, 650.0)
    assert [p.phase_watts(x) for x in ("idle", "decode", "prefill")] == [80.0, 410.0, 650.0]
    assert p.measured.power_samples == {k: v["samples"] for k, v in phases.items()}
