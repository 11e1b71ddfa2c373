"""Known models by name or by a Hugging Face config.json: parameter counts and budget wiring."""

import json

import pytest
from typer.testing import CliRunner

from planner.budget import load_budget
from planner.cli import app
from planner.errors import InputError
from planner.models import KNOWN_MODELS, ConfigError, known_shape, read_config
from planner.optimize import optimize

runner = CliRunner()

# Totals the model cards report (Hugging Face safetensors parameter counts).
PUBLISHED = {"llama-2-7b": 6.74e9, "llama-2-13b": 13.02e9, "llama-2-70b": 68.98e9,
             "llama-3-8b": 8.03e9, "llama-3-70b": 70.55e9, "mistral-7b": 7.24e9}

BUDGET = """schema_version: 1
law: epoch2024
target: {{match: {{params: 13B}}}}
inference: {{requests: 10B, tokens_per_request: {{input: 500, output: 300}}}}
serve: {{hardware: h100-sxm, batch_size: 32}}
objective: usd
model: {model}
"""

MISTRAL_CONFIG = {  # mistralai/Mistral-7B-v0.1 config.json (architecture keys)
    "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_act": "silu",
    "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000,
    "tie_word_embeddings": False, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
    "sliding_window": 4096, "torch_dtype": "bfloat16"}


def run(*args):
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def write_budget(tmp_path, model, name="b.yaml"):
    p = tmp_path / name
    p.write_text(BUDGET.format(model=model))
    return p


@pytest.mark.parametrize("name", ["llama-2-7b", "llama-3-8b", "mistral-7b", "llama-2-70b",
                                  "llama-2-13b", "llama-3-70b"])
def test_counts_match_published_totals(name):
    assert known_shape(name).params == pytest.approx(PUBLISHED[name], rel=5e-3)
    assert KNOWN_MODELS[name].published_params == PUBLISHED[name]


def test_llama2_7b_count_by_hand():
    # 32 layers of (Q,K,V,O 4·4096², SwiGLU 3·4096·11008, two RMSNorms 2·4096), untied
    # embedding and head 2·32000·4096, final norm 4096: the well-known 6,738,415,616.
    by_hand = 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32000 * 4096 + 4096
    assert by_hand == 6_738_415_616
    parts = known_shape("llama-2-7b").parameter_counts()
    assert parts["total"] == by_hand
    assert parts["embedding"] == parts["head"] == 32000 * 4096


def test_gqa_and_tied_embeddings_change_the_count_by_closed_forms(tmp_path):
    cfg = dict(MISTRAL_CONFIG)
    mha = dict(cfg, num_key_value_heads=32)
    tied = dict(cfg, tie_word_embeddings=True)
    plain = dict(cfg, model_type="gpt2-like", hidden_act="gelu")  # 2-matrix MLP
    shapes = {}
    for label, c in {"gqa": cfg, "mha": mha, "tied": tied, "plain": plain}.items():
        (tmp_path / f"{label}.json").write_text(json.dumps(c))
        shapes[label] = read_config(tmp_path / f"{label}.json").params
    # K and V shrink from 32 to 8 heads of 128: 2·4096·(4096 − 1024) per layer
    assert shapes["mha"] - shapes["gqa"] == 32 * 2 * 4096 * (4096 - 1024)
    assert shapes["gqa"] - shapes["tied"] == 32000 * 4096
    assert shapes["gqa"] - shapes["plain"] == 32 * 4096 * 14336


def test_preset_name_and_mapping_forms_feed_the_model_fields():
    by_name = load_budget(BUDGET.format(model="llama-3-8b"))
    by_map = load_budget(BUDGET.format(model="{preset: llama-3-8b}"))
    explicit = load_budget(BUDGET.format(
        model="{params: 8030261248, n_layer: 32, d_model: 4096, n_heads: 32, n_kv_heads: 8, "
              "vocab: 128256}"))
    for b in (by_name, by_map):
        m = b.model
        assert (m.params, m.n_layer, m.d_model, m.n_heads, m.n_kv_heads, m.vocab) == \
            (8030261248.0, 32, 4096, 32, 8, 128256)
        assert m.preset == "llama-3-8b"
    plan_name = optimize(by_name).plan
    plan_explicit = optimize(explicit).plan
    assert plan_name.params == pytest.approx(8.03e9, rel=1e-3)
    assert plan_name.costs["total_usd"] == pytest.approx(plan_explicit.costs["total_usd"],
                                                         rel=1e-12)


def test_config_json_on_disk_relative_to_the_budget(tmp_path):
    sub = tmp_path / "models"
    sub.mkdir()
    (sub / "config.json").write_text(json.dumps(MISTRAL_CONFIG))
    b = load_budget(write_budget(tmp_path, "{config: models/config.json}"))
    assert b.model.params == 7_241_732_096  # Mistral 7B's published 7.24B, exactly
    preset = load_budget(write_budget(tmp_path, "mistral-7b", "p.yaml"))
    assert optimize(b).plan.costs["total_usd"] == pytest.approx(
        optimize(preset).plan.costs["total_usd"], rel=1e-12)


def test_moe_config_refused_with_file_and_key(tmp_path):
    moe = dict(MISTRAL_CONFIG, model_type="mixtral", num_local_experts=8, num_experts_per_tok=2)
    (tmp_path / "config.json").write_text(json.dumps(moe))
    code, _, err = run("optimize", str(write_budget(tmp_path, "{config: config.json}")))
    assert code == 2 and err.count("\n") == 1
    assert "b.yaml:7:" in err and "config.json: num_local_experts: mixture-of-experts" in err


def test_malformed_config_is_one_line_exit_2(tmp_path):
    (tmp_path / "config.json").write_text('{"hidden_size": 4096,\n "num_hidden_layers": 32,\n}')
    code, _, err = run("validate", str(write_budget(tmp_path, "{config: config.json}")))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "config.json:3:1: invalid JSON" in err
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 4096}))
    code, _, err = run("validate", str(write_budget(tmp_path, "{config: config.json}")))
    assert code == 2 and "config.json: num_hidden_layers: required key is missing" in err
    (tmp_path / "config.json").write_text(json.dumps(dict(MISTRAL_CONFIG, hidden_size="4096")))
    with pytest.raises(ConfigError, match=r"hidden_size: expected a positive integer"):
        read_config(tmp_path / "config.json")


def test_unknown_name_and_conflicting_fields(tmp_path):
    with pytest.raises(InputError, match=r"unknown model 'lama-3-8b' \(did you mean 'llama-3-8b'"):
        load_budget(str(write_budget(tmp_path, "lama-3-8b")))
    with pytest.raises(InputError, match=r"model: params: .* disagrees with llama-2-7b"):
        load_budget(str(write_budget(tmp_path, "{preset: llama-2-7b, params: 7B}")))
    with pytest.raises(InputError, match=r"give 'preset' or 'config', not both"):
        load_budget(str(write_budget(tmp_path, "{preset: llama-2-7b, config: c.json}")))


def test_known_model_in_sweep_and_compare(tmp_path):
    b = write_budget(tmp_path, "llama-3-8b")
    code, out, err = run("sweep", str(b), "--vary", "inference.requests=1B,10B", "--json")
    assert code == 0, err
    points = json.loads(out)["points"]
    assert [p["plan"]["params"] for p in points] == pytest.approx([8030261248.0] * 2, rel=1e-6)
    (tmp_path / "config.json").write_text(json.dumps(MISTRAL_CONFIG))
    m = write_budget(tmp_path, "{config: config.json}", "m.yaml")
    code, out, err = run("compare", str(b), str(m), "--json")
    assert code == 0, err
    params = [s["result"]["plan"]["params"] for s in json.loads(out)["scenarios"]]
    assert params == pytest.approx([8030261248.0, 7241732096.0], rel=1e-6)


def test_report_sentence_names_the_source(tmp_path):
    from planner.models import describe

    (tmp_path / "config.json").write_text(json.dumps(MISTRAL_CONFIG))
    named = load_budget(str(write_budget(tmp_path, "llama-3-8b")))
    assert describe(named.model).startswith("`llama-3-8b`, 8.03B parameters")
    assert "arXiv 2407.21783" in describe(named.model)
    from_cfg = load_budget(str(write_budget(tmp_path, "{config: config.json}", "c.yaml")))
    assert describe(from_cfg.model) == ("7.24B parameters counted from `config.json` "
                                        "(a Hugging Face config.json)")


def test_schema_description_lists_every_shipped_model():
    from planner.budget.specs import ModelSpec

    text = ModelSpec.model_fields["preset"].description
    assert sorted(n for n in KNOWN_MODELS if n in text) == sorted(PUBLISHED)
