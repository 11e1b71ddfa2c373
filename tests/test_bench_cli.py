"""``planner bench``: exit 5 in one line without a GPU, the CPU path end to end, bad options
exit 2 before anything is measured, and the CLI never imports torch or pynvml at start-up."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from planner.bench import cpu, cuda
from planner.bench import nvml as nvml_mod
from planner.cli import app
from planner.hardware import load_profile

runner = CliRunner()
real_cpu_run = cpu.run
SMALL = dict(shapes=((64, 64, 64), (128, 128, 128)), array_bytes=2 * 2**20,
             flush_bytes=2**20, max_iters=4, sample_interval_s=0.01)


def run(*args):
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine with neither an NVIDIA driver nor torch (whatever this one has)."""
    monkeypatch.setattr(nvml_mod, "probe",
                        lambda nvml=None: nvml_mod.NVMLProbe(False, "NVIDIA driver not loaded"))
    monkeypatch.setattr(cuda, "torch_installed", lambda: False)


@pytest.fixture
def small_cpu(monkeypatch):
    calls = []

    def small(seconds, **kw):
        calls.append(seconds)
        return real_cpu_run(min(seconds, 0.3), **{**kw, **SMALL})

    monkeypatch.setattr(cpu, "run", small)
    return calls


def test_bench_cuda_without_gpu_exits_5_in_one_line(no_gpu, small_cpu):
    code, out, err = run("bench", "--backend", "cuda")
    assert code == 5 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: no NVIDIA GPU")
    assert "NVIDIA driver not loaded" in err and "--backend cpu" in err
    assert small_cpu == []  # nothing measured


def test_bench_cuda_with_driver_but_no_torch(monkeypatch, small_cpu):
    gpu = nvml_mod.GPUInfo(index=0, name="NVIDIA H100 80GB HBM3", profile="h100-sxm")
    monkeypatch.setattr(nvml_mod, "probe", lambda nvml=None: nvml_mod.NVMLProbe(True,
                                                                               devices=(gpu,)))
    monkeypatch.setattr(cuda, "torch_installed", lambda: False)
    code, _, err = run("bench", "--backend", "cuda")
    assert code == 5 and err.count("\n") == 1
    assert "NVIDIA H100 80GB HBM3 found, but torch is not installed" in err
    assert "pip install torch, or pip install '.[gpu]'" in err


def test_bench_cpu_writes_a_profile_that_loads(tmp_path, small_cpu):
    path = tmp_path / "cpu.yaml"
    code, out, err = run("bench", "--backend", "cpu", "--seconds", "5", "--write", str(path))
    assert code == 0, err
    assert small_cpu == [5.0]
    assert "fp32 matmul" in out and "copy" in out and "triad" in out
    assert f"wrote {path}" in out.replace("\n", "") and "serve: {hardware: cpu.yaml}" in out
    p = load_profile(str(path))
    assert p.name.startswith("cpu-") and p.efficiency_basis == "measured"
    assert p.measured.tflops["fp32"] > 0 and p.measured.hbm_bandwidth_gb_per_s > 0


def test_bench_auto_falls_back_to_the_cpu_with_a_note(no_gpu, small_cpu):
    code, out, err = run("bench", "--json")
    assert code == 0
    assert "note: no NVIDIA GPU (NVIDIA driver not loaded); measuring the CPU" in err
    assert small_cpu == [10.0]  # the CPU default budget
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["result"]["backend"] == "cpu"
    assert doc["profile"] is None and doc["written"] is None
    assert {r["quantity"] for r in doc["comparison"]} == {"fp32 matmul", "copy", "triad"}
    assert all(r["median"] > 0 and r["spec"] is None for r in doc["comparison"])


def test_bench_cpu_against_a_named_profile(tmp_path, small_cpu):
    """--profile compares with (and extends) that profile: fractions of its spec appear."""
    path = tmp_path / "x.yaml"
    code, out, err = run("bench", "--backend", "cpu", "--profile", "h100-sxm", "--json",
                         "--write", str(path))
    assert code == 0, err
    doc = json.loads(out)
    copy = next(r for r in doc["comparison"] if r["quantity"] == "copy")
    assert copy["spec"] == 3350 and copy["fraction_of_spec"] == pytest.approx(
        copy["median"] / 3350)
    assert doc["profile"] == "h100-sxm" and doc["written_profile"] == "x"
    assert load_profile(str(path)).hbm_gb == 80  # inherited through extends


@pytest.mark.parametrize("args, message", [
    (["--backend", "tpu"], "'--backend': 'tpu' is not one of 'auto', 'cuda', 'cpu'"),
    (["--seconds", "0"], "--seconds 0"),
    (["--seconds", "nan"], "--seconds nan"),
    (["--device", "-1"], "--device -1"),
    (["--write", "out.txt"], "must end in .yaml"),
    (["--profile", "h100-sx"], "did you mean 'h100-sxm'"),
])
def test_bad_options_exit_2_before_measuring(args, message, small_cpu):
    code, _, err = run("bench", "--backend", "cpu", *args) if "--backend" not in args else \
        run("bench", *args)
    assert code == 2 and err.count("\n") == 1 and message in err
    assert small_cpu == []


def test_cli_import_leaves_torch_and_nvml_out():
    code = ("import sys, planner.cli; "
            "print(sorted(m for m in ('torch', 'pynvml', 'numpy', 'planner.bench.cuda', "
            "'planner.bench.nvml') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "[]"


def test_help_lists_both_commands():
    code, out, _ = run("--help")
    assert code == 0 and "bench" in out and "gpu-info" in out
    code, out, _ = run("bench", "--help")
    for opt in ("--backend", "--device", "--seconds", "--write", "--profile", "--json"):
        assert opt in out


def test_small_cpu_fixture_really_is_small(small_cpu):
    """Guard for the fixture: the patched run is the real backend, at the small sizes."""
    r = cpu.run(1.0)
    assert [(c.m, c.n, c.k) for c in r.matmul] == [(64, 64, 64), (128, 128, 128)]
    assert r.kernel("copy").array_bytes == 2 * 2**20
    assert small_cpu == [1.0]


# ---- the GPU branch of the CLI, with a canned measurement -----------------------------------

def _canned_h100(**kw):
    from planner.bench import BandwidthCase, BenchResult, MatmulCase

    base = dict(backend="cuda", device_name="NVIDIA H100 80GB HBM3",
                matmul=(MatmulCase("bf16", 8192, 8192, 8192, 100, 790.0, 805.0, 770.0),),
                bandwidth=(BandwidthCase("copy", 2**30, 2**31, 300, 2950.0, 3000.0, 2900.0),),
                method="canned", date="2026-05-01T12:00:00Z", seconds=44.0,
                uuid="GPU-5a3e0c1d-7f2b-4c11-9e8a-0123456789ab", profile="h100-sxm",
                samples={"samples": 3, "sm_clock_mhz": {"min": 1755.0, "median": 1980.0,
                                                         "max": 1980.0},
                         "throttle": ["software power cap"]})
    base.update(kw)
    return BenchResult(**base)


@pytest.fixture
def canned_gpu(monkeypatch):
    from planner.cli import bench as cli_bench

    state = {"result": _canned_h100(), "runs": []}
    monkeypatch.setattr(cli_bench, "_cuda_or_reason", lambda: (True, ""))
    monkeypatch.setattr(nvml_mod, "probe", lambda nvml=None: nvml_mod.NVMLProbe(False, "x"))
    monkeypatch.setattr(cuda, "matched_profile",
                        lambda device, probe: (state["result"].device_name,
                                               state["result"].profile))

    def fake_run(seconds, **kw):
        state["runs"].append((seconds, kw["device"]))
        return state["result"]

    monkeypatch.setattr(cuda, "run", fake_run)
    return state


def test_gpu_table_shows_fraction_of_spec_and_writes_extends(canned_gpu, tmp_path):
    path = tmp_path / "my-h100.yaml"
    code, out, err = run("bench", "--backend", "cuda", "--write", str(path))
    assert code == 0, err
    assert canned_gpu["runs"] == [(45.0, 0)]  # the GPU default budget
    line = next(ln for ln in out.splitlines() if "bf16 matmul" in ln)
    cells = [c.strip() for c in line.strip("│ ").split("│")]
    assert cells == ["bf16 matmul", "TFLOP/s", "790", "805", "989", "80%", "791",
                     "8192x8192x8192"]
    assert "vs h100-sxm spec" in out and "slowdown: software power cap" in out
    assert "extends h100-sxm" in " ".join(out.split())  # however the console wraps
    p = load_profile(str(path))
    assert p.name == "my-h100" and p.achievable_flops("bf16") == 790e12


def test_unlisted_gpu_needs_profile_before_measuring(canned_gpu, tmp_path):
    canned_gpu["result"] = _canned_h100(device_name="NVIDIA H100 NVL", profile=None)
    code, _, err = run("bench", "--backend", "cuda", "--write", str(tmp_path / "x.yaml"))
    assert code == 2 and "'NVIDIA H100 NVL' matches no shipped profile" in err
    assert canned_gpu["runs"] == []
    code, out, err = run("bench", "--backend", "cuda", "--profile", "h100-pcie", "--device", "1",
                         "--write", str(tmp_path / "x.yaml"))
    assert code == 0, err
    assert canned_gpu["runs"] == [(45.0, 1)] and "vs h100-pcie spec" in out
    assert load_profile(str(tmp_path / "x.yaml")).peak_tflops["bf16"] == 756


def test_write_without_a_gpu_refuses_unless_the_cpu_is_asked_for(no_gpu, small_cpu, tmp_path):
    """`planner bench --write my-h100.yaml` on a machine without a GPU: exit 5 and no file,
    instead of a CPU profile under a GPU's name; --backend cpu writes it."""
    path = tmp_path / "my-h100.yaml"
    code, out, err = run("bench", "--write", str(path))
    assert code == 5 and "--backend cpu" in err and len(err.strip().splitlines()) == 1
    assert not path.exists()
    code, out, err = run("bench", "--backend", "cpu", "--seconds", "5", "--write", str(path))
    assert code == 0 and path.exists()
