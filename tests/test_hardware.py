"""Hardware profiles: shipped numbers, extends:, inline and file profiles, bad input."""

import json

import pytest
from typer.testing import CliRunner

from planner.budget import load_budget
from planner.cli import app
from planner.errors import InputError
from planner.hardware import list_profiles, load_profile, profile_from_data
from planner.optimize import optimize

REQUIRED = {"a100-40gb-sxm", "a100-80gb-sxm", "h100-sxm", "h100-pcie", "h200-sxm"}


def test_shipped_profiles_match_reference_section_5():
    assert REQUIRED <= set(list_profiles())
    h100 = load_profile("h100-sxm")
    assert h100.peak_flops("bf16") == 989e12 and h100.peak_flops("fp8") == 1979e12
    assert h100.hbm_bandwidth == 3350e9 and h100.hbm_gb == 80 and h100.tdp_watts == 700
    a100 = load_profile("a100-80gb-sxm")
    assert a100.peak_flops("int8") == 624e12 and a100.hbm_bandwidth_gb_per_s == 2039
    assert "fp8" not in a100.peak_tflops  # A100 has no fp8 tensor cores
    assert load_profile("h200-sxm").hbm_gb == 141
    for name in list_profiles():
        p = load_profile(name)
        assert p.price_usd_per_hour > 0 and p.price_date and p.price_source and p.source
        assert p.achievable_flops("bf16") < p.peak_flops("bf16")
        assert p.efficiency_basis.startswith("spec")


def test_extends_overrides_and_inherits():
    pcie = load_profile("h100-pcie")
    assert pcie.peak_flops("bf16") == 756e12 and pcie.hbm_bandwidth_gb_per_s == 2000
    assert pcie.hbm_gb == 80  # inherited from h100-sxm
    p = profile_from_data({"extends": "a100-80gb-sxm", "price_usd_per_hour": 1.40})
    assert p.price_usd_per_hour == 1.40 and p.hbm_bandwidth_gb_per_s == 2039


def test_measured_block_calibrates():
    p = profile_from_data({"extends": "h100-sxm", "name": "my-h100",
                           "measured": {"tflops": {"bf16": 700}, "hbm_bandwidth_gb_per_s": 2900}})
    assert p.achievable_flops("bf16") == 700e12
    assert p.efficiency_basis == "measured"
    c, b = p.calibration("bf16")
    assert c == pytest.approx(700 / (989 * 0.80))
    assert b == pytest.approx(2900 / (3350 * 0.88))


def test_budget_takes_inline_and_file_profiles(tmp_path):
    f = tmp_path / "cheap.yaml"
    f.write_text("extends: a100-80gb-sxm\nname: cheap-a100\nprice_usd_per_hour: 0.9\n")
    base = ("schema_version: 1\ntarget: {loss: 2.1}\ninference: {requests: 1B, "
            "tokens_per_request: {input: 500, output: 100}}\nobjective: usd\nserve:\n")
    by_file = optimize(load_budget(_write(tmp_path, base + "  hardware: cheap.yaml\n")))
    inline = optimize(load_budget(_write(tmp_path, base + "  hardware: {extends: a100-80gb-sxm, "
                                                          "price_usd_per_hour: 0.9}\n")))
    named = optimize(load_budget(_write(tmp_path, base + "  hardware: a100-80gb-sxm\n")))
    assert by_file.plan.objective == pytest.approx(inline.plan.objective, rel=1e-12)
    c = by_file.plan.costs
    assert c["inference_usd"] == pytest.approx(c["inference_gpu_hours"] * 0.9, rel=1e-12)
    assert named.plan.costs["inference_usd"] == pytest.approx(
        named.plan.costs["inference_gpu_hours"] * 1.8, rel=1e-12)
    # cheaper serving shifts the optimum toward a larger model served more cheaply
    assert by_file.plan.params > named.plan.params
    assert by_file.plan.serving["hardware"] == "cheap-a100"


def _write(tmp_path, text, name="b.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("hardware,needle", [
    ("h100-sxn", "did you mean 'h100-sxm'"),
    ("{extends: h100-sxm, hbm_gb: -1}", "hbm_gb"),
    ("{extends: h100-sxm, flux: 1}", "flux"),
    ("{extends: nothing}", "unknown hardware profile"),
])
def test_bad_profiles_are_one_line_errors(tmp_path, hardware, needle):
    text = ("schema_version: 1\ntarget: {loss: 2.1}\ninference: {tokens: 1T}\nobjective: usd\n"
            f"serve: {{hardware: {hardware}}}\n")
    res = CliRunner().invoke(app, ["optimize", str(_write(tmp_path, text))])
    assert res.exit_code == 2, res.stderr
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_fp8_compute_on_a100_is_an_input_error(tmp_path):
    text = ("schema_version: 1\ntarget: {loss: 2.1}\ninference: {tokens: 1T}\nobjective: usd\n"
            "serve: {hardware: a100-80gb-sxm, weight_bits: 8, compute_precision: fp8}\n")
    with pytest.raises(InputError, match="no fp8 peak"):
        optimize(load_budget(_write(tmp_path, text)))


def test_profiles_cli():
    r = CliRunner().invoke(app, ["profiles", "list"])
    assert r.exit_code == 0 and "h100-sxm" in r.stdout
    r = CliRunner().invoke(app, ["profiles", "show", "h200-sxm"])
    doc = json.loads(r.stdout)
    assert doc["hbm_bandwidth_gb_per_s"] == 4800 and doc["ridge_batch_bf16"] == pytest.approx(
        989e12 * 16 / (16 * 4800e9))
    r = CliRunner().invoke(app, ["profiles", "show", "nope"])
    assert r.exit_code == 2


def test_gpus_above_max_gpus_is_an_error(tmp_path):
    text = ("schema_version: 1\ntarget: {loss: 2.1}\ninference: {tokens: 1T}\nobjective: usd\n"
            "train: {gpus: 2048, max_gpus: 1024}\n")
    with pytest.raises(InputError, match="exceeds"):
        optimize(load_budget(_write(tmp_path, text)))
