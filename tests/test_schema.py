"""``planner schema``: a standard Draft 2020-12 schema that accepts the budgets people write
(every example, every budget in the README and docs) and rejects wrong ones, as the loader does."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.budget import budget_json_schema, load_budget
from planner.budget.json_schema import QUANTITY_PATTERN
from planner.cli import app
from planner.errors import InputError
from planner.units import parse_quantity
from planner.yaml_io import read_yaml, read_yaml_file

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = budget_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
NON_STANDARD = {"gt", "ge", "lt", "le", "discriminator"}


def _walk(node, path=""):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}/{i}")


def _example_budgets():
    out = []
    for p in sorted((ROOT / "examples").rglob("*.yaml")):
        data, _ = read_yaml_file(p)
        if isinstance(data, dict) and "schema_version" in data:
            out.append(p)
    return out


def _doc_budgets():
    out = []
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, m in enumerate(re.finditer(r"```ya?ml\n(.*?)```", p.read_text(), re.S)):
            if "schema_version" in m.group(1):
                out.append(pytest.param(m.group(1), id=f"{p.name}-{i}"))
    return out


def test_schema_is_standard_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].startswith("urn:planner:budget")
    keys = {k for _, node in _walk(SCHEMA) if isinstance(node, dict) for k in node
            if not _.endswith("/properties")}
    assert not keys & NON_STANDARD


def test_every_field_has_a_description():
    missing = []
    for path, node in _walk(SCHEMA):
        if isinstance(node, dict) and path.endswith("/properties"):
            missing += [f"{path}/{k}" for k, v in node.items() if not v.get("description")]
    assert missing == []
    alpha = SCHEMA["$defs"]["InlineChinchillaLaw"]["properties"]["alpha"]
    assert alpha["minimum"] == 0.05 and alpha["maximum"] == 2.0  # bounds stated in the schema
    assert "nats/token" in SCHEMA["$defs"]["Target"]["properties"]["loss"]["description"]


def test_shipped_copy_is_current():
    shipped = json.loads((ROOT / "docs" / "budget.schema.json").read_text())
    assert shipped == json.loads(json.dumps(SCHEMA)), \
        "regenerate: planner schema > docs/budget.schema.json"


def test_cli_prints_the_schema():
    res = CliRunner().invoke(app, ["schema"])
    assert res.exit_code == 0 and json.loads(res.stdout) == json.loads(json.dumps(SCHEMA))


@pytest.mark.parametrize("path", _example_budgets(), ids=lambda p: p.name)
def test_every_example_validates_and_carries_the_modeline(path):
    data, _ = read_yaml_file(path)
    assert [e.message for e in VALIDATOR.iter_errors(data)] == []
    if "scenarios" in data:  # a scenario file (planner compare): its base is a budget
        load_budget({k: v for k, v in data.items() if k != "scenarios"})
    else:
        load_budget(path)  # and the loader agrees
    first = path.read_text().splitlines()[0]
    target = first.split("$schema=", 1)[1]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (path.parent / target).resolve() == (ROOT / "docs" / "budget.schema.json")


def test_examples_and_docs_are_found():
    assert len(_example_budgets()) >= 5 and len(_doc_budgets()) >= 2


@pytest.mark.parametrize("text", _doc_budgets())
def test_every_budget_in_the_docs_validates(text):
    data, _ = read_yaml(text)
    assert [e.message for e in VALIDATOR.iter_errors(data)] == []
    load_budget({k: v for k, v in data.items() if k != "scenarios"})


BASE = "schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\ninference: {tokens: 2T}\n"
WRONG = {
    "unknown preset": BASE.replace("epoch2024", "epoch2042"),
    "loss as text": BASE.replace("loss: 2.1", "loss: fast"),
    "bad suffix": BASE.replace("2T", "2X"),
    "unknown key": BASE + "inferance: {tokens: 1T}\n",
    "odd weight bits": BASE + "serve: {weight_bits: 7}\n",
    "tiny exponent": BASE.replace("epoch2024", "{E: 1.7, A: 400, B: 400, alpha: 1e-300, "
                                               "beta: 0.3}"),
    "wrong schema_version": BASE.replace("schema_version: 1", "schema_version: 2"),
    "mfu above 1": BASE + "train: {mfu: 1.5}\n",
    "negative seed": BASE + "uncertainty: {seed: -1}\n",
}


@pytest.mark.parametrize("text", list(WRONG.values()), ids=list(WRONG))
def test_wrong_budgets_are_rejected_by_schema_and_loader(text):
    data, _ = read_yaml(text)
    assert list(VALIDATOR.iter_errors(data)) != []
    with pytest.raises(InputError, match=r"<string>:\d+:\d+: "):
        load_budget(text)


def test_right_budget_passes_both():
    data, _ = read_yaml(BASE)
    assert list(VALIDATOR.iter_errors(data)) == []
    assert load_budget(BASE).inference.tokens == 2e12


def _parses(text: str) -> bool:
    try:
        parse_quantity(text)
        return True
    except ValueError:
        return False


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.one_of(
    st.from_regex(r"\A[+-]?[0-9_]{1,6}(\.[0-9]{0,3})?([eE][+-]?[0-9]{1,2})?[kKMBGTP]?\Z"),
    st.text(alphabet="0123456789.eE+-_kKMBGTPX ", max_size=10)))
def test_quantity_pattern_agrees_with_the_parser(text):
    """The schema's pattern accepts a string exactly when the loader parses it (finite
    values; the loader also refuses overflow, which a pattern cannot see)."""
    matches = re.search(QUANTITY_PATTERN, text) is not None
    if matches and not _parses(text):
        assert "finite" in _error(text)
    else:
        assert matches == _parses(text)


def _error(text):
    try:
        parse_quantity(text)
    except ValueError as exc:
        return str(exc)
    return ""
