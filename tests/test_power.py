"""Energy charged per phase: the profiles' power figures, their precedence, their validation,
the plan's energy by phase, and what ``planner bench`` measures for power.

Expected values are typed in from the sources the profiles cite (Splitwise's per-GPU power:
H100 idle 75 W, prompt 700 W, token 380 W; A100 63/400/250 W) or computed by hand, never read
back from the code under test."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from planner.bench import BandwidthCase, BenchResult, MatmulCase
from planner.bench.calibrate import (
    calibrated_profile_data,
    measured_block,
    write_profile,
)
from planner.bench.sampler import Sampler
from planner.budget.schema import load_budget
from planner.costs.energy import energy_by_phase
from planner.errors import InputError
from planner.hardware import list_profiles, load_profile, profile_from_data
from planner.optimize import optimize

# ---- the shipped figures -----------------------------------------------------------------------


@pytest.mark.parametrize("name, compute, decode, idle", [
    ("h100-sxm", 700, 380, 75),  # Splitwise (arXiv 2311.18677) simulator: per-GPU watts
    ("a100-80gb-sxm", 400, 250, 63),  # the same artifact, A100-80GB
    ("a100-40gb-sxm", 400, 250, 63),  # same die and limit as the 80 GB card
    ("h100-pcie", 350, 190, 38),  # H100 SXM fractions of TDP × 350 W: 380/2, 75/2 rounded
    ("a100-80gb-pcie", 300, 188, 47),  # A100 fractions × 300 W: 187.5 and 47.25 rounded
    ("h200-sxm", 700, 300, 75),  # Ma et al. 2026 (arXiv 2605.11999): decode 137-300 W
    ("l40s", 350, 190, 38),  # H100 fractions × 350 W
    ("b200", 1000, 543, 107),  # H100 fractions × 1000 W: 542.9 and 107.1 rounded
    ("mi300x", 750, 750, 750),  # no published figure: every phase at TDP
])
def test_phase_watts_of_the_shipped_profiles(name, compute, decode, idle):
    p = load_profile(name)
    assert p.tdp_watts == compute
    assert (p.phase_watts("train"), p.phase_watts("prefill")) == (compute, compute)
    assert (p.phase_watts("decode"), p.phase_watts("idle")) == (decode, idle)


def test_every_profile_says_where_its_power_comes_from():
    for name in list_profiles():
        p = load_profile(name)
        assert len(p.power_source) > 40, name
        if p.decode_watts is not None:
            # a number from a paper names it; a derived one says it is a derivation
            assert "arXiv" in p.power_source, name
            assert p.idle_watts is not None and p.idle_watts <= p.decode_watts <= p.tdp_watts


H100 = {"name": "x", "extends": "h100-sxm"}


def test_missing_figures_fall_back_to_the_next_busier_phase():
    no_decode = profile_from_data({**H100, "decode_watts": None, "idle_watts": 70})
    assert no_decode.phase_watts("decode") == 700  # TDP
    assert no_decode.phase_watts("idle") == 70
    assert no_decode.phase_power_basis("decode") == "tdp_watts (no decode figure)"
    no_idle = profile_from_data({**H100, "idle_watts": None})
    assert no_idle.phase_watts("idle") == 380  # the decode figure, never above it
    bare = profile_from_data({**H100, "decode_watts": None, "idle_watts": None})
    assert [bare.phase_watts(p) for p in ("train", "decode", "idle")] == [700, 700, 700]


def test_measured_power_overrides_the_profile():
    p = profile_from_data({**H100, "measured": {
        "idle_watts": 92.0, "decode_watts": 415.0, "compute_watts": 655.0,
        "power_samples": {"idle": 20, "decode": 50, "compute": 300},
        "device_name": "NVIDIA H100 80GB HBM3", "date": "2026-11-30T10:00:00Z"}})
    assert [p.phase_watts(x) for x in ("train", "prefill", "decode", "idle")] == [
        655.0, 655.0, 415.0, 92.0]
    assert p.phase_power_basis("idle") == ("measured by planner bench on NVIDIA H100 80GB "
                                           "HBM3 2026-11-30, median of 20 NVML readings")
    # a partial measurement: measured compute, the profile's decode and idle
    q = profile_from_data({**H100, "measured": {"compute_watts": 640.0}})
    assert [q.phase_watts(x) for x in ("prefill", "decode", "idle")] == [640.0, 380, 75]
    # a measured decode above the measured compute is capped there (power above idle >= 0)
    r = profile_from_data({**H100, "measured": {"compute_watts": 350.0}})
    assert (r.phase_watts("decode"), r.phase_watts("idle")) == (350.0, 75)
    assert "capped" in r.phase_power_basis("decode")


@pytest.mark.parametrize("fields, field, words", [
    ("decode_watts: 720\n", "decode_watts", "above tdp_watts (700 W)"),
    ("decode_watts: 300\nidle_watts: 310\n", "idle_watts", "above decode_watts (300 W)"),
    ("decode_watts: null\nidle_watts: 800\n", "idle_watts", "above tdp_watts (700 W)"),
])
def test_validation_names_the_file_and_the_field(tmp_path, fields, field, words):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nextends: h100-sxm\n" + fields)
    with pytest.raises(InputError) as e:
        load_profile(str(path))
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and f"{field}:" in msg and words in msg


def test_cli_refuses_a_bad_profile_in_one_line(tmp_path):
    (tmp_path / "hot.yaml").write_text("name: hot\nextends: h100-sxm\ndecode_watts: 900\n")
    budget = tmp_path / "b.yaml"
    budget.write_text(BUDGET.replace("hardware: h100-sxm", "hardware: hot.yaml", 1))
    res = subprocess.run([sys.executable, "-m", "planner", "optimize", str(budget)],
                         capture_output=True, text=True)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "hot.yaml" in lines[0] and "decode_watts" in lines[0]
    assert "Traceback" not in res.stderr


# ---- the plan's energy by phase ---------------------------------------------------------------

BUDGET = """schema_version: 1
law: epoch2024
target: {loss: 2.1}
train: {hardware: h100-sxm, mfu: 0.4}
serve:
  hardware: h100-sxm
  batch_size: 32
  billing: provisioned
  peak_to_mean: 2.0
inference:
  requests_per_month: 50M
  months: 12
  tokens_per_request: {input: 500, output: 200}
objective: usd
"""


@pytest.fixture(scope="module")
def provisioned_plan():
    return optimize(load_budget(BUDGET)).plan


def test_energy_is_gpu_hours_times_phase_watts_times_pue(provisioned_plan):
    c, e = provisioned_plan.costs, provisioned_plan.extra["energy"]
    memory_bound_h = sum(c[f"{n}_gpu_hours"] for n in ("decode", "draft", "overhead",
                                                       "communication"))
    idle_h = c["provisioned_gpu_hours"] - c["busy_gpu_hours"]
    assert idle_h > 0.1 * c["provisioned_gpu_hours"]  # peak 2× mean: real idle hours
    by_hand = {"train": c["train_gpu_hours"] * 700 * 1.2 / 1000,
               "prefill": c["prefill_gpu_hours"] * 700 * 1.2 / 1000,
               "decode": memory_bound_h * 380 * 1.2 / 1000,
               "idle": idle_h * 75 * 1.2 / 1000}
    assert list(e["phases"]) == ["train", "prefill", "decode", "idle"]
    for phase, kwh in by_hand.items():
        assert e["phases"][phase]["energy_kwh"] == pytest.approx(kwh, rel=1e-9)
    assert [e["phases"][p]["power_watts"] for p in by_hand] == [700, 700, 380, 75]
    assert e["phases"]["decode"]["basis"] == "decode_watts"
    assert "2311.18677" in e["phases"]["idle"]["power_source"]
    # the phases add up to the plan's energy, which the optimiser's items give as
    # provisioned × idle + busy × (phase − idle)
    assert e["energy_kwh"] == pytest.approx(sum(by_hand.values()), rel=1e-9)
    assert c["energy_kwh"] == pytest.approx(sum(by_hand.values()), rel=1e-9)
    assert c["idle_energy_kwh"] == pytest.approx(by_hand["idle"], rel=1e-9)


def test_energy_objective_prices_decode_below_prefill():
    """With energy the objective, a GPU-hour of decode costs 380/700 of a prefill one: the
    busy-billed objective is the hand sum of the two phases."""
    b = load_budget(BUDGET.replace("objective: usd", "objective: energy_kwh")
                    .replace("  billing: provisioned\n", "  billing: busy\n"))
    r = optimize(b)
    c = r.plan.costs
    memory_bound_h = sum(c[f"{n}_gpu_hours"] for n in ("decode", "draft", "overhead",
                                                       "communication"))
    assert r.plan.objective == pytest.approx(1.2 / 1000 * (
        700 * (c["train_gpu_hours"] + c["prefill_gpu_hours"]) + 380 * memory_bound_h),
        rel=1e-9)
    assert "idle" not in r.plan.extra["energy"]["phases"]  # busy billing: no idle hours


def test_energy_of_a_hand_built_cost_model(provisioned_plan):
    """energy_by_phase straight from a cost model at a chosen (N, D), against the items'
    GPU-seconds converted by hand."""
    from planner.optimize.problem import prepare

    problem = prepare(load_budget(BUDGET))
    cm = problem.candidates[0].cost_model
    n, d = 2e9, 1e12
    s = {k: float(v.value(n, d)) for k, v in cm.gpu_seconds.items()}
    busy = sum(s[k] for k in ("prefill", "decode", "draft", "overhead", "communication"))
    want = 1.2 / 3.6e6 * (700 * (s["train"] + s["draft_train"] + s["prefill"])
                          + 380 * (busy - s["prefill"]) + 75 * (s["provisioned"] - busy))
    assert energy_by_phase(cm, n, d)["energy_kwh"] == pytest.approx(want, rel=1e-12)


def test_the_table_shows_each_phase_with_watts_and_kwh():
    res = subprocess.run([sys.executable, "-m", "planner", "optimize",
                          "examples/chat-assistant.yaml"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert "Energy by phase" in text and "energy kWh" in text and "power W" in text
    row = next(line for line in text.splitlines()
               if line.startswith("│ decode ") and "decode_watts" in line)
    assert "│     380 │" in row
    assert "Power figures of h100-sxm: Patel et al. 2024" in text


def test_json_energy_sums_to_the_costs():
    res = subprocess.run([sys.executable, "-m", "planner", "optimize",
                          "examples/on-device.yaml", "--json"], capture_output=True, text=True)
    doc = json.loads(res.stdout)
    e = doc["plan"]["energy"]
    assert e["energy_kwh"] == pytest.approx(doc["plan"]["costs"]["energy_kwh"], rel=1e-9)
    assert e["phases"]["decode"]["hardware"] == "l40s"
    assert e["phases"]["decode"]["power_watts"] == 190
    assert doc["plan"]["objective"] == pytest.approx(e["energy_kwh"], rel=1e-9)


# ---- planner bench: power per phase ------------------------------------------------------------

def test_sampler_splits_power_by_phase_and_drops_the_settling_readings():
    clock = [0.0]
    watts = [0.0]
    s = Sampler(lambda: {"power_watts": watts[0]}, settle_s=1.25, clock=lambda: clock[0])
    # readings every 0.5 s; the first two of each phase (0.5 and 1.0 s in) still average the
    # phase before (NVML's one-second window) and are left out
    for phase, readings in (("idle", [300, 300, 80, 82, 84]),
                            ("decode", [84, 84, 400, 410, 420]),
                            ("compute", [650, 650, 700])):
        with s.phase(phase):
            for w in readings:
                clock[0] += 0.5
                watts[0] = w
                s._poll_once()
        clock[0] += 0.25
    s._poll_once()  # outside any phase: in the overall figures, in no phase
    assert s.phase_power() == {"idle": {"power_watts": 82.0, "samples": 3},
                               "decode": {"power_watts": 410.0, "samples": 3},
                               "compute": {"power_watts": 700.0, "samples": 1}}
    summary = s.summary()
    assert summary["phases"]["decode"]["power_watts"] == 410.0
    assert summary["samples"] == 14 and summary["power_watts"]["max"] == 700.0


def test_a_phase_shorter_than_the_settling_time_keeps_its_readings():
    s = Sampler(lambda: {"power_watts": 95.0}, settle_s=60.0)
    with s.phase("idle"):
        s._poll_once()
        s._poll_once()
    assert s.phase_power() == {"idle": {"power_watts": 95.0, "samples": 2}}
    assert Sampler(lambda: {"sm_clock_mhz": 1.0}).phase_power() == {}


def _result(phases) -> BenchResult:
    return BenchResult(
        backend="cuda", device_name="NVIDIA H100 80GB HBM3",
        matmul=(MatmulCase("bf16", 8192, 8192, 8192, 100, 790.0, 805.0, 770.0),),
        bandwidth=(BandwidthCase("copy", 2**30, 2**31, 300, 2950.0, 3000.0, 2900.0),),
        method="test", date="2026-11-30T10:00:00Z", seconds=44.0, profile="h100-sxm",
        environment={"driver": "560.35.03"},
        samples={"samples": 440, "interval_s": 0.1, "phases": phases})


def test_bench_writes_the_three_powers_and_the_profile_prefers_them(tmp_path):
    phases = {"idle": {"power_watts": 91.234, "samples": 20},
              "compute": {"power_watts": 662.71, "samples": 380},
              "decode": {"power_watts": 402.06, "samples": 40}}
    block = measured_block(_result(phases))
    assert (block["idle_watts"], block["decode_watts"], block["compute_watts"]) == (
        91.23, 402.1, 662.7)
    assert block["power_samples"] == {"idle": 20, "decode": 40, "compute": 380}
    assert block["device_name"] == "NVIDIA H100 80GB HBM3" and block["driver"] == "560.35.03"
    path = tmp_path / "my-h100.yaml"
    write_profile(calibrated_profile_data(_result(phases), "h100-sxm", "my-h100"), path)
    raw = yaml.safe_load(path.read_text())["measured"]
    assert raw["decode_watts"] == 402.1
    p = load_profile(str(path))
    assert [p.phase_watts(x) for x in ("train", "decode", "idle")] == [662.7, 402.1, 91.23]
    assert "median of 40 NVML readings" in p.phase_power_basis("decode")


def test_no_power_readings_write_no_power_fields():
    block = measured_block(_result({}))
    assert not {"idle_watts", "decode_watts", "compute_watts", "power_samples"} & set(block)


def test_profiles_commands_show_the_phase_power():
    show = subprocess.run([sys.executable, "-m", "planner", "profiles", "show", "h200-sxm"],
                          capture_output=True, text=True, check=True)
    doc = json.loads(show.stdout)
    assert doc["phase_power_watts"] == {
        "compute": {"power_watts": 700.0, "basis": "tdp_watts"},
        "decode": {"power_watts": 300.0, "basis": "decode_watts"},
        "idle": {"power_watts": 75.0, "basis": "idle_watts"}}
    assert "2605.11999" in doc["power_source"]
    listing = subprocess.run([sys.executable, "-m", "planner", "profiles", "list"],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "COLUMNS": "200"}).stdout
    row = next(line for line in listing.splitlines() if "h100-sxm" in line)
    assert "700/380/75" in row
