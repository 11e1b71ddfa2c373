"""The CUDA backend on a real GPU (skipped without torch or a CUDA device).

Structure and finiteness only, never speed: every supported precision measured, bandwidth from
the requested array size, NVML matched to the torch device by UUID, a calibrated profile that
loads and extends the shipped one."""

import importlib.util
import math

import pytest
import yaml

pytestmark = pytest.mark.gpu


def _cuda_ready() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


requires_gpu = pytest.mark.skipif(not _cuda_ready(), reason="needs torch with a CUDA GPU")


@pytest.fixture(scope="module")
def gpu_result():
    from planner.bench import cuda

    seen = []
    r = cuda.run(6.0, shapes=((1024, 1024, 1024), (2048, 1024, 512)), array_bytes=2**30,
                 max_iters=50, progress=lambda d, i, n: seen.append((d, i, n)))
    return r, seen


@requires_gpu
def test_cuda_backend_measures_every_supported_precision(gpu_result):
    import torch

    from planner.bench.cuda import supported_precisions

    r, seen = gpu_result
    cap = torch.cuda.get_device_capability(0)
    want = supported_precisions(torch, cap)
    assert r.backend == "cuda" and r.uuid.startswith("GPU-")
    assert set(r.tflops()) == set(want), r.skipped
    if cap >= (8, 9):
        assert "fp8" in r.tflops()
    for c in r.matmul:
        assert c.iterations >= 5
        assert 0 < c.min_tflops <= c.median_tflops <= c.max_tflops < math.inf
    copy, triad = r.kernel("copy"), r.kernel("triad")
    assert copy.array_bytes == 2**30 or "bandwidth size" in r.skipped
    assert copy.bytes_per_iteration == 2 * copy.array_bytes
    assert triad.bytes_per_iteration == 3 * triad.array_bytes
    for b in r.bandwidth:
        assert 0 < b.min_gb_per_s <= b.median_gb_per_s <= b.max_gb_per_s < math.inf
    assert r.environment["torch_version"] == torch.__version__
    assert r.environment["compute_capability"] == f"{cap[0]}.{cap[1]}"
    assert seen[-1][1] == seen[-1][2] == len(want) * 2 + 2


@requires_gpu
def test_nvml_sees_the_torch_device_and_samples_it(gpu_result):
    from planner.bench.nvml import probe

    r, _ = gpu_result
    p = probe()
    if not p.available:
        pytest.skip(f"NVML unavailable: {p.reason}")
    info = p.by_uuid(r.uuid)
    assert info is not None and info.name == r.device_name
    assert r.samples["samples"] >= 2
    assert r.samples["sm_clock_mhz"]["max"] > 0
    assert r.environment["driver"] == p.driver_version


@requires_gpu
def test_calibrated_gpu_profile_loads(gpu_result, tmp_path):
    from planner.bench.calibrate import calibrated_profile_data, write_profile
    from planner.hardware import load_profile

    r, _ = gpu_result
    base = r.profile or "h100-sxm"
    path = tmp_path / "my-gpu.yaml"
    write_profile(calibrated_profile_data(r, base, "my-gpu"), path)
    assert yaml.safe_load(path.read_text())["extends"] == base
    p = load_profile(str(path))
    assert p.efficiency_basis == "measured" and p.measured.backend == "cuda"
    for prec, v in r.tflops().items():
        assert p.achievable_flops(prec) == pytest.approx(v * 1e12, rel=1e-4)
    assert p.measured.uuid == r.uuid and p.measured.torch_version


@requires_gpu
def test_tf32_setting_is_restored(gpu_result):
    import torch

    from planner.bench import cuda

    before = torch.backends.cuda.matmul.allow_tf32
    cuda.run(2.0, shapes=((512, 512, 512),), precisions=["tf32"], array_bytes=64 * 2**20,
             max_iters=5)
    assert torch.backends.cuda.matmul.allow_tf32 == before


@requires_gpu
def test_cli_bench_cuda_end_to_end(tmp_path):
    from typer.testing import CliRunner

    from planner.cli import app
    from planner.hardware import load_profile

    path = tmp_path / "cal.yaml"
    args = ["bench", "--backend", "cuda", "--seconds", "20", "--write", str(path), "--json"]
    res = CliRunner().invoke(app, args)
    if res.exit_code == 2 and "--profile" in res.stderr:  # an unlisted GPU: name one
        res = CliRunner().invoke(app, args + ["--profile", "h100-sxm"])
    assert res.exit_code == 0, res.stderr
    p = load_profile(str(path))
    assert p.measured is not None and p.measured.backend == "cuda"


@requires_gpu
def test_power_per_phase_on_a_real_gpu(gpu_result):
    """Idle, compute and decode power come out separately, each within the board's limit;
    an idle card draws less than one running matmuls."""
    from planner.bench.calibrate import measured_block

    r, _ = gpu_result
    phases = r.samples.get("phases", {})
    if not phases:
        pytest.skip("NVML reports no power for this device")
    assert set(phases) == {"idle", "compute", "decode"}
    limit = r.environment.get("power_limit_watts") or math.inf
    for p in phases.values():
        assert 0 < p["power_watts"] <= 1.1 * limit and p["samples"] >= 1
    assert phases["idle"]["power_watts"] < phases["compute"]["power_watts"]
    block = measured_block(r)
    assert {"idle_watts", "decode_watts", "compute_watts", "power_samples"} <= set(block)
