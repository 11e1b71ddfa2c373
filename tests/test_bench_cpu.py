"""The numpy CPU backend, the timing arithmetic, and calibrated profiles (compare + write).

Tests assert structure, finiteness and arithmetic, never speed."""

import math

import pytest
import yaml

from planner.bench import (
    BandwidthCase,
    BenchResult,
    Deadline,
    MatmulCase,
    cpu,
    iterations_for,
    rates,
)
from planner.bench.calibrate import (
    calibrated_profile_data,
    compare,
    cpu_profile_name,
    measured_block,
    warnings_for,
    write_profile,
)
from planner.budget import load_budget
from planner.errors import InputError
from planner.hardware import HardwareProfile, load_profile
from planner.optimize import optimize

SMALL = dict(shapes=((64, 64, 64), (96, 128, 80)), array_bytes=2 * 2**20,
             flush_bytes=2**20, max_iters=5, sample_interval_s=0.01)


@pytest.fixture(scope="module")
def cpu_result():
    seen = []
    r = cpu.run(0.3, progress=lambda desc, done, total: seen.append((desc, done, total)),
                **SMALL)
    return r, seen


# ---- timing arithmetic -------------------------------------------------------------------------

def test_rates_are_median_max_min_of_work_over_time():
    assert rates(2e12, [1.0, 2.0, 4.0], 1e12) == (1.0, 2.0, 0.5)
    assert rates(8.0, [2.0, 0.0, float("inf"), 4.0], 1.0) == (3.0, 4.0, 2.0)  # bad timings out
    with pytest.raises(RuntimeError):
        rates(1.0, [0.0], 1.0)


def test_iterations_fit_the_budget_within_bounds():
    assert iterations_for(1.0, 0.01, 3, 1000) == 100
    assert iterations_for(1.0, 0.5, 3, 1000) == 3  # floor: at least min_iters
    assert iterations_for(100.0, 1e-6, 3, 1000) == 1000
    assert iterations_for(1.0, 0.0, 3, 50) == 50


def test_deadline_shares_what_is_left():
    t = [0.0]
    d = Deadline(10.0, clock=lambda: t[0])
    assert d.share(5) == 2.0
    t[0] = 4.0
    assert d.share(3) == 2.0 and d.elapsed() == 4.0
    t[0] = 12.0
    assert d.share(1) == 0.0
    with pytest.raises(ValueError):
        Deadline(0)


# ---- the CPU backend -------------------------------------------------------------------------

def test_cpu_backend_measures_every_case(cpu_result):
    r, _ = cpu_result
    assert r.backend == "cpu" and r.device_name and r.skipped == {}
    assert [(c.precision, c.m, c.n, c.k) for c in r.matmul] == [
        ("fp32", 64, 64, 64), ("fp32", 96, 128, 80)]
    for c in r.matmul:
        assert 3 <= c.iterations <= 5
        assert 0 < c.min_tflops <= c.median_tflops <= c.max_tflops < math.inf
        assert c.flop == 2 * c.m * c.n * c.k
    assert [b.kernel for b in r.bandwidth] == ["copy", "triad"]
    copy, triad = r.kernel("copy"), r.kernel("triad")
    assert copy.array_bytes == triad.array_bytes == 2 * 2**20
    assert copy.bytes_per_iteration == 2 * copy.array_bytes
    assert triad.bytes_per_iteration == 3 * triad.array_bytes
    for b in r.bandwidth:
        assert 0 < b.min_gb_per_s <= b.median_gb_per_s <= b.max_gb_per_s < math.inf
    assert r.tflops() == {"fp32": max(c.median_tflops for c in r.matmul)}
    assert r.tflops_max() == {"fp32": max(c.max_tflops for c in r.matmul)}
    assert r.environment["numpy_version"] and r.environment["cpu_count"] >= 1
    assert r.samples["samples"] >= 2 and r.seconds > 0
    assert r.date.endswith("Z") and len(r.date) == 20


def test_cpu_backend_reports_progress_to_completion(cpu_result):
    _, seen = cpu_result
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and done[-1] == 4
    assert {t for _, _, t in seen} == {4}
    assert any("triad" in desc for desc, _, _ in seen)


def test_as_dict_round_trips_the_cases(cpu_result):
    r, _ = cpu_result
    d = r.as_dict()
    assert [c["kind"] for c in d["matmul"]] == ["matmul", "matmul"]
    assert d["bandwidth"][1]["kernel"] == "triad" and d["tflops"] == r.tflops()


# ---- compare and write -------------------------------------------------------------------------

def _h100_result(**kw) -> BenchResult:
    base = dict(
        backend="cuda", device_name="NVIDIA H100 80GB HBM3",
        matmul=(MatmulCase("bf16", 4096, 4096, 4096, 200, 700.0, 760.0, 650.0),
                MatmulCase("bf16", 8192, 8192, 8192, 100, 790.0, 805.0, 770.0),
                MatmulCase("fp8", 8192, 8192, 8192, 100, 1400.0, 1450.0, 1300.0)),
        bandwidth=(BandwidthCase("copy", 2**30, 2**31, 300, 2950.0, 3000.0, 2900.0),
                   BandwidthCase("triad", 2**30, 3 * 2**30, 300, 3050.0, 3100.0, 3000.0)),
        method="test", date="2026-05-01T12:00:00Z", seconds=44.0,
        uuid="GPU-5a3e0c1d-7f2b-4c11-9e8a-0123456789ab", profile="h100-sxm",
        environment={"driver": "550.54.15", "torch_version": "2.13.0", "cuda_runtime": "12.8"},
        samples={"samples": 440, "interval_s": 0.1,
                 "sm_clock_mhz": {"min": 1755.0, "median": 1980.0, "max": 1980.0},
                 "power_watts": {"min": 120.0, "median": 690.0, "max": 700.0},
                 "throttle": ["software power cap"]})
    base.update(kw)
    return BenchResult(**base)


def test_compare_with_the_spec():
    rows = {r.quantity: r for r in compare(_h100_result(), load_profile("h100-sxm"))}
    bf16 = rows["bf16 matmul"]
    assert (bf16.median, bf16.max, bf16.spec, bf16.detail) == (790.0, 805.0, 989, "8192x8192x8192")
    assert bf16.fraction == pytest.approx(790 / 989)
    assert bf16.default_achievable == pytest.approx(989 * 0.80)
    assert rows["fp8 matmul"].default_achievable == pytest.approx(1979 * 0.71)
    assert rows["copy"].fraction == pytest.approx(2950 / 3350)
    assert rows["copy"].default_achievable == pytest.approx(3350 * 0.88)
    assert rows["triad"].unit == "GB/s"
    assert warnings_for(list(rows.values()), "h100-sxm") == []
    # no profile: no spec, no fraction
    assert all(r.spec is None and r.fraction is None for r in compare(_h100_result(), None))


def test_above_spec_warns_about_the_profile():
    rows = compare(_h100_result(), load_profile("a100-80gb-sxm"))
    w = warnings_for(rows, "a100-80gb-sxm")
    assert any(s.startswith("bf16 matmul measured 790") and "a100-80gb-sxm" in s for s in w)


def test_calibrated_gpu_profile_extends_the_shipped_one(tmp_path):
    path = tmp_path / "my-h100.yaml"
    data = calibrated_profile_data(_h100_result(), "h100-sxm", "my-h100")
    p = write_profile(data, path)
    raw = yaml.safe_load(path.read_text())
    assert raw["extends"] == "h100-sxm" and raw["name"] == "my-h100"
    m = raw["measured"]
    assert m["tflops"] == {"bf16": 790.0, "fp8": 1400.0}
    assert m["tflops_max"] == {"bf16": 805.0, "fp8": 1450.0}
    assert (m["hbm_bandwidth_gb_per_s"], m["triad_gb_per_s"]) == (2950.0, 3050.0)
    assert m["clocks_mhz"] == {"sm_min": 1755.0, "sm_median": 1980.0, "sm_max": 1980.0}
    assert m["power_watts"] == {"min": 120.0, "median": 690.0, "max": 700.0}
    assert m["throttle_reasons"] == ["software power cap"]
    assert (m["driver"], m["torch_version"], m["uuid"]) == (
        "550.54.15", "2.13.0", "GPU-5a3e0c1d-7f2b-4c11-9e8a-0123456789ab")
    assert m["date"] == "2026-05-01T12:00:00Z" and m["method"] == "test"
    assert len(m["shapes"]) == 5 and m["shapes"][1]["m"] == 8192
    assert "hardware: my-h100.yaml" in path.read_text().splitlines()[1]
    for prof in (p, load_profile(str(path))):
        assert prof.name == "my-h100" and prof.measured is not None
        assert prof.efficiency_basis == "measured"
        assert prof.achievable_flops("bf16") == 790e12
        assert prof.achievable_bandwidth() == 2950e9
        assert prof.hbm_gb == 80 and prof.peak_tflops["bf16"] == 989  # inherited
        assert prof.measured.driver == "550.54.15" and prof.measured.triad_gb_per_s == 3050.0
    assert p.extends == "h100-sxm"
    # a precision not measured falls back to spec x default fraction
    assert p.achievable_flops("fp16") == pytest.approx(989e12 * 0.80)


def test_unknown_gpu_needs_a_profile_and_bad_paths_are_refused(tmp_path):
    with pytest.raises(InputError, match="--profile"):
        calibrated_profile_data(_h100_result(device_name="NVIDIA H100 NVL", profile=None),
                                None, "x")
    data = calibrated_profile_data(_h100_result(), "h100-sxm", "my-h100")
    with pytest.raises(InputError, match=".yaml"):
        write_profile(data, tmp_path / "my-h100.txt")
    with pytest.raises(InputError):
        write_profile({**data, "extends": "h100-sx"}, tmp_path / "bad.yaml")
    assert not (tmp_path / "bad.yaml").exists()  # nothing written when it does not validate
    with pytest.raises(InputError, match="measured nothing"):
        measured_block(_h100_result(matmul=(), bandwidth=(), skipped={"bf16": "oom"}))


def test_cpu_run_writes_a_valid_stand_alone_profile(cpu_result, tmp_path):
    r, _ = cpu_result
    name = cpu_profile_name(r)
    assert name.startswith("cpu-") and name.endswith(f"-{r.environment['cpu_count']}c")
    path = tmp_path / "cpu.yaml"
    p = write_profile(calibrated_profile_data(r, None, name), path)
    assert isinstance(p, HardwareProfile) and p.extends is None
    loaded = load_profile(str(path))
    assert loaded.name == name and loaded.measured.backend == "cpu"
    fp32 = r.tflops()["fp32"]
    assert loaded.measured.tflops["fp32"] == pytest.approx(fp32, rel=1e-4)
    assert loaded.peak_tflops["fp32"] == pytest.approx(r.tflops_max()["fp32"], rel=1e-4)
    assert loaded.measured.tflops["bf16"] == loaded.measured.tflops["fp32"]  # stand-in
    assert loaded.hbm_bandwidth_gb_per_s == pytest.approx(r.kernel("copy").max_gb_per_s,
                                                           rel=1e-4)
    assert loaded.achievable_bandwidth() == pytest.approx(
        r.kernel("copy").median_gb_per_s * 1e9, rel=1e-4)
    c, b = loaded.calibration("bf16")  # peak = measured max: calibration factor 1
    assert c == pytest.approx(1.0, rel=1e-3) and b == pytest.approx(1.0, rel=1e-3)
    assert all(math.isfinite(v) and v > 0 for v in loaded.measured.tflops.values())
    assert [s["kind"] for s in loaded.measured.shapes] == ["matmul"] * 2 + ["bandwidth"] * 2


def test_a_budget_uses_the_measured_profile(tmp_path):
    """serve: {hardware: my-h100.yaml}: slower measured figures cost more than spec x default."""
    slow = _h100_result(
        matmul=(MatmulCase("bf16", 8192, 8192, 8192, 100, 600.0, 620.0, 580.0),),
        bandwidth=(BandwidthCase("copy", 2**30, 2**31, 300, 2500.0, 2550.0, 2400.0),))
    write_profile(calibrated_profile_data(slow, "h100-sxm", "slow-h100"),
                  tmp_path / "slow-h100.yaml")
    base = ("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\ninference: {requests: 1B, "
            "tokens_per_request: {input: 500, output: 100}}\nobjective: usd\nserve:\n")
    plans = {}
    for hw in ("slow-h100.yaml", "h100-sxm"):
        f = tmp_path / f"b-{hw}.yaml"
        f.write_text(base + f"  hardware: {hw}\n")
        plans[hw] = optimize(load_budget(f)).plan
    measured, spec = plans["slow-h100.yaml"], plans["h100-sxm"]
    assert measured.serving["hardware"] == "slow-h100"
    assert measured.serving["efficiency"].endswith("measured")
    assert spec.serving["efficiency"].endswith("spec x default fraction")
    assert measured.objective > spec.objective
