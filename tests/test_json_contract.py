"""The JSON contract (docs/json.md): every --json output has schema_version; a plan document
validates against planner/schemas/plan.schema.json for every kind of budget, failures
included; the plan's keys are the same for every kind of budget."""

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from planner.cli import app

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "planner" / "schemas" / "plan.schema.json").read_text())
# which-draft (600 configurations) is planned in tests/test_choices.py
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if p.stem != "which-draft")
runner = CliRunner()


def run_json(*args):
    r = runner.invoke(app, list(args))
    return r.exit_code, json.loads(r.stdout)


@pytest.fixture(scope="module")
def documents():
    return {p.stem: run_json("optimize", str(p), "--json") for p in EXAMPLES}


def test_every_example_plan_validates_and_has_the_same_keys(documents):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    keys = set()
    for name, (code, doc) in documents.items():
        assert code == 0, name
        jsonschema.validate(doc, SCHEMA)
        keys.add((tuple(doc), tuple(doc["plan"]), tuple(doc["baseline"])))
    assert len(keys) == 1  # FLOPs-only and hardware budgets alike


def test_failures_are_documents_with_status_and_the_exit_code(tmp_path):
    below_e = tmp_path / "below.yaml"
    below_e.write_text("schema_version: 1\nlaw: epoch2024\ntarget: {loss: 1.5}\n"
                       "inference: {tokens: 1T}\n")
    code, doc = run_json("optimize", str(below_e), "--json")
    assert code == 3 and doc["status"] == "infeasible" and doc["plan"] is None
    assert "irreducible" in doc["message"]
    jsonschema.validate(doc, SCHEMA)
    repeated = tmp_path / "dc.yaml"
    repeated.write_text("schema_version: 1\nlaw: muennighoff2023\ntarget: {loss: 2.6}\n"
                        "inference: {tokens: 1T}\ndata: {unique_tokens: 20B}\n")
    code, doc = run_json("optimize", str(repeated), "--json", "--solver", "gp")
    assert code == 2 and doc["status"] == "unsupported"
    jsonschema.validate(doc, SCHEMA)
    assert set(doc["savings"]) >= {"flops", "fraction", "from_model_size"}
    assert all(v is None for v in doc["savings"].values())


@pytest.mark.parametrize("args", [("laws", "--json"), ("profiles", "list", "--json"),
                                  ("profiles", "show", "h100-sxm"),
                                  ("downstream-presets", "--json")])
def test_every_json_output_carries_schema_version(args):
    code, doc = run_json(*args)
    assert code == 0 and doc["schema_version"] == 1


def test_sweep_and_compare_documents_carry_schema_version(tmp_path):
    flops = ROOT / "examples" / "chinchilla-flops.yaml"
    code, doc = run_json("sweep", str(flops), "--vary", "inference.tokens=1e11,1e13", "--json")
    assert code == 0 and doc["schema_version"] == 1
    csv_path = tmp_path / "c.csv"
    code, doc = run_json("compare", str(flops), str(ROOT / "examples" / "code-model.yaml"),
                         "--json", "--csv", str(csv_path))
    assert code == 0 and doc["schema_version"] == 1
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("scenario,source,status,params,")
    assert len(lines) == 3
