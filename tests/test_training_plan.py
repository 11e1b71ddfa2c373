"""The training plan (issue 14): hyperparameter laws against the papers' own runs, the batch
limit against a hand computation, ZeRO and Megatron memory against the papers' accounting, and
the batch/memory limits as solver constraints (exit 3 when they cannot hold)."""

import json
import math

import pytest
from typer.testing import CliRunner

from planner.budget import load_budget
from planner.cli import app
from planner.errors import InfeasibleError, InputError
from planner.optimize import optimize
from planner.terms import posy_value
from planner.training.constraints import memory_item, training_setup
from planner.training.hyperparams import PRESETS, flops_per_token, hyperparameters
from planner.training.memory import (
    activation_bytes_per_layer,
    activation_terms,
    model_state_bytes,
)
from planner.training.parallelism import max_useful_gpus
from planner.training.shape import shape_rule

H100_BF16 = 989e12  # hardware_profiles/h100-sxm.yaml, NVIDIA product brief PB-11133-001


def budget_text(train: str, extra: str = "") -> str:
    return (f"schema_version: 1\nlaw: epoch2024\ntarget: {{match: {{params: 13B}}}}\n"
            f"inference: {{tokens: 1T}}\ntrain: {train}\n{extra}objective: usd\n")


# ---- 1. hyperparameters -----------------------------------------------------------------------
@pytest.mark.parametrize("n_layer, d_model, lr_paper, batch_seqs_paper, lr_tol, batch_tol", [
    # DeepSeek LLM (arXiv 2401.02954) Table 2: 7B: 30 layers, d_model 4096, peak LR 4.2e-4,
    # batch 2304 sequences of 4096; 67B: 95 layers, d_model 8192, LR 3.2e-4, 4608 sequences.
    # Both trained on 2T tokens; the paper set them from its own hyperparameter laws.
    (30, 4096, 4.2e-4, 2304, 0.03, 0.05),
    (95, 8192, 3.2e-4, 4608, 0.03, 0.11),
])
def test_deepseek_law_reproduces_the_papers_7b_and_67b_settings(n_layer, d_model, lr_paper,
                                                                 batch_seqs_paper, lr_tol,
                                                                 batch_tol):
    hp = hyperparameters(PRESETS["deepseek2024"], 12 * n_layer * d_model**2, 2e12, 4096,
                         n_layer, d_model)
    assert hp.peak_learning_rate == pytest.approx(lr_paper, rel=lr_tol)
    assert hp.batch_sequences == pytest.approx(batch_seqs_paper, rel=batch_tol)
    assert hp.warnings  # fitted up to ~3e20 FLOPs: these runs extrapolate, and it says so


def test_deepseek_compute_is_non_embedding_flops_per_token_times_tokens():
    # arXiv 2401.02954 eq. 2 for the 7B shape, by hand: 72·30·4096² + 6·30·4096·4096
    assert flops_per_token(30, 4096, 4096) == 72 * 30 * 4096**2 + 6 * 30 * 4096 * 4096
    assert flops_per_token(30, 4096, 4096) == pytest.approx(3.9259e10, rel=1e-4)


def test_step_law_at_one_billion_parameters_and_100b_tokens():
    # Li et al. 2025 (arXiv 2503.04715): eta = 1.79 N^-0.713 D^0.307, B = 0.58 D^0.571 tokens.
    # By hand in logs: log10 eta = 0.25285 - 6.417 + 3.377 = -2.78715; log10 B = -0.23657
    # + 6.281 = 6.04443
    hp = hyperparameters(PRESETS["step-law"], 1e9, 1e11, 4096, 20, 2048)
    assert hp.peak_learning_rate == pytest.approx(10**-2.78715, rel=1e-4)
    assert hp.batch_tokens_exact == pytest.approx(10**6.04443, rel=1e-4)
    assert hp.batch_sequences == 270  # 1.1077e6 / 4096 = 270.4: the nearest whole sequences
    assert hp.batch_tokens == 270 * 4096
    assert hp.optimizer_steps == math.ceil(1e11 / (270 * 4096)) == 90423
    assert hp.warnings == ()  # inside the fitted grid


def test_hyperparameter_law_is_chosen_per_budget_and_unknown_names_are_input_errors():
    b = load_budget(budget_text("{gpus: 64, hyperparameters: deepseek2024}"))
    assert b.train.hyperparameters == "deepseek2024"
    assert load_budget(budget_text("{gpus: 64}")).train.hyperparameters == "step-law"
    with pytest.raises(InputError, match=r"train\.hyperparameters"):
        load_budget(budget_text("{gpus: 64, hyperparameters: adam2019}"))


# ---- 2. the batch limit -------------------------------------------------------------------------
def test_a_2m_token_batch_cannot_keep_8192_gpus_busy():
    sequences = 2 * 2**20 // 4096
    assert sequences == 512
    assert max_useful_gpus(sequences, tp=8, pp=1) == 4096 < 8192
    assert max_useful_gpus(sequences, tp=8, pp=2) == 8192
    assert max_useful_gpus(sequences, tp=1, pp=1, micro_batch=2) == 256


def test_plan_uses_only_the_gpus_its_batch_keeps_busy():
    r = optimize(budget_text("{hardware: h100-sxm, gpus: 100000, deadline_days: 0.2}"))
    p = r.plan
    tp = p.extra["training_plan"]
    hp = tp["hyperparameters"]
    # Step Law batch at the plan's D, by hand; a whole number of 4096-token sequences
    assert hp["batch_sequences"] == round(0.58 * p.train_tokens**0.571 / 4096)
    split = tp["split"]
    assert split["tensor_parallel"] == 8 and split["pipeline_parallel"] == 1
    assert tp["max_useful_gpus"] == hp["batch_sequences"] * 8 < 100000
    assert tp["gpus_used"] == tp["max_useful_gpus"]
    # training FLOPs: 6·N·D plus attention 6·n_layer·seq·d_model·D (Kaplan et al. 2020), the
    # shape rule N = 196,608·n_layer³, d_model = 128·n_layer, seq 4096
    n_layer = (p.params / 196608) ** (1 / 3)
    flops = (6 * p.params + 6 * n_layer * 4096 * 128 * n_layer) * p.train_tokens
    gpu_s = flops / (H100_BF16 * 0.40)
    assert tp["gpu_seconds"] == pytest.approx(gpu_s, rel=1e-9)
    assert tp["wall_clock_days"] == pytest.approx(gpu_s / tp["gpus_used"] / 86400, rel=1e-9)
    assert any(b.startswith("batch:") for b in tp["binding"])
    json.dumps(p.to_dict())  # the plan stays one JSON document


def test_batch_limited_deadline_binds_and_both_solvers_agree():
    r = optimize(budget_text("{hardware: h100-sxm, gpus: 100000, deadline_days: 0.13}"),
                 check=True)
    assert "deadline_batch_limit" in r.active_constraints
    assert r.diagnostics["cross_check"]["params_rel_diff"] < 1e-5
    # the reported wall-clock (whole sequences) meets the deadline up to that rounding
    assert r.plan.extra["training_plan"]["wall_clock_days"] == pytest.approx(0.13, rel=2e-3)
    # the plain GPU-count deadline alone would allow it 20x faster
    assert r.plan.constraints["deadline_days"]["slack"] > 0.9


def test_unreachable_deadline_exits_3_naming_the_batch_limit(tmp_path):
    text = budget_text("{hardware: h100-sxm, gpus: 100000, deadline_days: 0.05}")
    with pytest.raises(InfeasibleError, match=r"deadline_batch_limit"):
        optimize(text).raise_for_status()
    # without a batch law the GPU count alone meets it
    ok = optimize(text.replace("deadline_days: 0.05", "deadline_days: 0.05, "
                                                       "hyperparameters: none"))
    assert ok.plan.constraints["deadline_days"]["slack"] >= -1e-9
    path = tmp_path / "late.yaml"
    path.write_text(text)
    res = CliRunner().invoke(app, ["optimize", str(path)])
    assert res.exit_code == 3
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "deadline_batch_limit" in lines[0]


# ---- 3. memory ----------------------------------------------------------------------------------
@pytest.mark.parametrize("stage, paper_gb", [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_memory_matches_the_papers_7_5b_example(stage, paper_gb):
    # Rajbhandari et al. 2020 (arXiv 1910.02054) Figure 1: 7.5B parameters, Adam (K = 12),
    # 64 data-parallel GPUs: 120 GB baseline, 31.4 GB P_os, 16.6 GB P_os+g, 1.9 GB P_os+g+p
    total = sum(model_state_bytes(7.5e9, 64, stage, "adamw"))
    assert round(total / 1e9, 1) == paper_gb


def test_megatron_activation_memory_for_the_gpt3_175b_shape():
    # Korthikanti et al. 2022 (arXiv 2205.05198): GPT-3 175B, a = 96, h = 12288, s = 2048,
    # L = 96, t = 8; "5as/h" = 80 here, against 34 for the rest of the layer
    s, h, a, t = 2048, 12288, 96, 8
    assert 5 * a * s / h == 80
    per = s * h * (34 + 80)  # bytes per layer, micro-batch 1, no parallelism (Table 2)
    assert activation_bytes_per_layer(s, 1, h, a, 1, "none") == per == 2_868_903_936
    assert activation_bytes_per_layer(s, 1, h, a, t, "none") == per / 8  # tensor + sequence
    assert activation_bytes_per_layer(s, 1, h, a, t, "selective") == 34 * s * h / 8
    assert activation_bytes_per_layer(s, 1, h, a, t, "full") == 2 * s * h
    # the planner's shape rule gives exactly this shape at N = 12·96·12288², and its monomial
    # activation terms equal 96 layers of the paper's formula there
    n = 12 * 96 * 12288**2
    rule = shape_rule()
    shape = rule.at(n)
    assert (shape.n_layer, shape.d_model, shape.n_heads) == (96, 12288, 96)
    for mode in ("none", "selective", "full"):
        terms = activation_terms(rule, s, 1, t, mode)
        assert posy_value(terms, n, 1.0) == pytest.approx(
            96 * activation_bytes_per_layer(s, 1, h, a, t, mode), rel=1e-9)


def test_memory_constraint_is_the_report_at_the_permissive_split():
    b = load_budget(budget_text("{hardware: h100-sxm, gpus: 64, zero_stage: 2}"))
    from planner.hardware import load_profile

    setup = training_setup(b, b.train, load_profile("h100-sxm"))
    n = 12 * 32 * 4096**2  # the rule's 32-layer, d_model 4096 model
    item = memory_item(setup, 8, 1)
    # ZeRO-2 by hand: 2 bytes of weights on each of 8 TP ranks, 14 bytes over 8 DP ranks;
    # selective recomputation 34·s·h per layer over 8 TP ranks
    by_hand = 2 * n / 8 + 14 * n / 64 + 32 * 34 * 4096 * 4096 / 8
    assert float(item.value(n, 1e12)) == pytest.approx(by_hand, rel=1e-9)


def test_nothing_fits_exits_3_naming_training_memory():
    text = budget_text("{hardware: h100-sxm, gpus: 64, zero_stage: 0, max_tensor_parallel: 1}",
                       "constraints: {min_params: 70B}\n")
    with pytest.raises(InfeasibleError, match=r"train_memory"):
        optimize(text).raise_for_status()


# ---- 4. shape -----------------------------------------------------------------------------------
def test_partial_shape_pin_keeps_n_free_and_shapes_the_plan():
    r = optimize(budget_text("{hardware: h100-sxm, gpus: 256}", "model: {n_layer: 48}\n"))
    shape = r.plan.extra["training_plan"]["shape"]
    assert shape["n_layer"] == 48
    d = math.sqrt(r.plan.params / (12 * 48))  # N = 12·n_layer·d_model²
    assert abs(shape["d_model"] - d) <= 8 * 128 / 2 + 1  # a whole number of 8-head groups
    assert shape["n_heads"] == shape["d_model"] // 128
    assert shape["n_kv_heads"] == shape["n_heads"] // 8
    # the pin changes the shape, not the optimum here (memory does not bind)
    free = optimize(budget_text("{hardware: h100-sxm, gpus: 256}"))
    assert r.plan.params == pytest.approx(free.plan.params, rel=1e-6)


def test_two_size_pins_without_params_are_an_input_error():
    with pytest.raises(InputError, match=r"model.*at most one of"):
        load_budget(budget_text("{gpus: 8}", "model: {n_layer: 48, d_model: 4096}\n"))


def test_bad_shape_pin_names_file_line_and_field(tmp_path):
    path = tmp_path / "pin.yaml"
    path.write_text("schema_version: 1\ntarget: {loss: 2.1}\ntrain: {gpus: 8}\nmodel:\n"
                    "  n_layer: -3\n")
    with pytest.raises(InputError, match=r"pin\.yaml:5:\d+: model\.n_layer: .*greater than 0"):
        load_budget(path)


def test_training_memory_binds_and_the_report_fits_on_its_edge():
    # ZeRO-0 without tensor parallelism: 16 bytes/parameter + activations on one 80 GB H100
    # caps N near 72e9/16 = 4.5B minus activations; the 13B-quality target moves to more tokens
    r = optimize(budget_text("{hardware: h100-sxm, gpus: 64, zero_stage: 0, "
                             "max_tensor_parallel: 1}").replace("tokens: 1T", "tokens: 100B"),
                 check=True)
    assert r.active_constraints == ("train_memory",)
    assert r.diagnostics["cross_check"]["params_rel_diff"] < 1e-6
    split = r.plan.extra["training_plan"]["split"]
    assert (split["tensor_parallel"], split["pipeline_parallel"]) == (1, 1)
    mem = split["memory"]
    assert mem["weights_bytes"] + mem["gradients_bytes"] + mem["optimizer_bytes"] == \
        pytest.approx(16 * r.plan.params, rel=1e-12)
    assert mem["total_bytes"] == pytest.approx(mem["limit_bytes"], rel=1e-6)
    assert 16 * r.plan.params < 72e9
