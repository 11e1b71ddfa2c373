"""Editing a budget's YAML data: the one merge (overrides into a base), setting one dotted
field with the conveniences sweeps and comparisons share, and re-validating.

Field conveniences (docs/review.md):

* ``inference.tokens`` on a budget whose demand is requests × tokens per request scales the
  requests (or ``requests_per_month``), keeping the request shape;
  ``inference.requests`` on a budget with ``requests_per_month`` × ``months`` scales the rate;
* ``target.loss``, ``target.match.*`` and ``target.downstream.*`` each replace the other two;
* ``law.<constant>`` on a preset law expands the preset into inline constants first;
* ``train.hardware.<field>`` / ``serve.hardware.<field>`` on a named profile become an inline
  profile that ``extends:`` it (e.g. ``serve.hardware.price_usd_per_hour``).

Inputs are never modified: only the dicts along an edited path are copied.  Errors name the
field (``InputError``); callers prefix their option (``--vary``, a scenario's name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from planner.budget.schema import Budget, budget_from_data
from planner.errors import InputError
from planner.units import parse_quantity


def merge(base: dict, over: dict, budget: Optional[Budget] = None) -> dict:
    """``base`` with ``over`` merged in (``planner.yaml_io.merge_mappings``: nested dicts
    merge, None deletes), then its dotted keys set one field each (``set_field``).  Neither
    input is modified."""
    from planner.yaml_io import merge_mappings

    dotted = [(str(k), v) for k, v in over.items() if "." in str(k)]
    out = merge_mappings(base, {k: v for k, v in over.items() if "." not in str(k)})
    for k, v in dotted:
        out = set_field(out, k, v, budget)
    return out


def _law_inline(spec: Any) -> dict:
    """A preset law spec expanded into inline constants (so ``law.alpha`` can vary)."""
    from planner.laws import DEFAULT_LAW, get_preset

    name = spec if isinstance(spec, str) else (spec or {}).get("preset", DEFAULT_LAW)
    law = get_preset(name)
    if law.form == "kaplan":
        return {"form": "kaplan", **law.constants(), "name": law.name}
    return {**law.constants(), "name": law.name,
            "source": f"{law.info.source} (constants varied)"}


def scale_demand(data: dict, budget: Budget, factor: float) -> dict:
    """The budget dict with lifetime inference demand multiplied by ``factor`` (request shape
    and rate/lifetime kept)."""
    inf = dict(data.get("inference") or {})
    if "tokens" in inf or not inf:
        inf["tokens"] = budget.inference.total_tokens * factor
    elif "requests_per_month" in inf:
        inf["requests_per_month"] = parse_quantity(inf["requests_per_month"]) * factor
    else:
        inf["requests"] = parse_quantity(inf["requests"]) * factor
    return {**data, "inference": inf}


def set_field(data: dict, path: str, value: Any, budget: Optional[Budget] = None) -> dict:
    """A new budget dict with ``path`` (dotted) set to ``value``; the input is not modified
    (only the dicts along the path are copied).  ``budget`` is the validated base, needed for
    the demand conveniences (module docstring)."""
    keys = path.split(".")
    head = keys[0]
    if head == "inference" and len(keys) == 2 and keys[1] in ("tokens", "requests"):
        try:
            value = parse_quantity(value, what=path)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
    if head == "inference" and len(keys) == 2:
        inf = data.get("inference") or {}
        if keys[1] == "tokens" and "tokens" not in inf and inf:
            tpr = budget.inference.tokens_per_request if budget is not None else None
            per = (tpr.input + tpr.output) if tpr is not None else 0.0
            if per <= 0:
                raise InputError(f"{path}: the budget's requests have no tokens")
            return set_field(data, "inference.requests", float(value) / per, budget)
        if keys[1] == "requests" and "requests_per_month" in inf:
            months = parse_quantity(inf["months"])
            return set_field(data, "inference.requests_per_month", float(value) / months,
                             budget)
        if keys[1] in ("requests", "requests_per_month") and "tokens" in inf:
            raise InputError(f"{path}: the budget gives demand as inference.tokens; "
                             "vary inference.tokens instead")
    if head == "target" and len(keys) >= 2:
        tgt = dict(data.get("target") or {})
        for other in {"loss", "match", "downstream"} - {keys[1]}:  # one way to give the target
            tgt.pop(other, None)
        data = {**data, "target": tgt}
    if head == "law" and len(keys) == 2:
        spec = data.get("law")
        if spec is None or isinstance(spec, str) or (isinstance(spec, dict)
                                                     and set(spec) == {"preset"}):
            data = {**data, "law": _law_inline(spec)}
    if len(keys) >= 3 and head in ("train", "serve") and keys[1] == "hardware":
        block = data.get(head) or {}
        hw = block.get("hardware", "h100-sxm")
        if isinstance(hw, str):
            data = {**data, head: {**block, "hardware": {"extends": hw, "name": hw}}}
    if head in ("train", "serve") and head not in data and budget is not None \
            and not budget.uses_hardware:
        raise InputError(f"{path}: the budget has no '{head}:' block (a FLOPs-only "
                         f"budget), so {path} has no effect; add {head}: to the budget")

    def put(node: Any, i: int) -> Any:
        if i == len(keys):
            if isinstance(node, dict):
                raise InputError(f"{path}: is a section of the budget, not a number")
            return value
        if node is None:
            node = {}
        if not isinstance(node, dict):
            raise InputError(f"{path}: {'.'.join(keys[:i])} is a value "
                             f"({node!r}), not a section")
        return {**node, keys[i]: put(node.get(keys[i]), i + 1)}

    return put(data, 0)


def budget_data(budget: Budget) -> tuple[dict, dict, str]:
    """The YAML dict a budget came from, with its marks and file name (re-read from its file;
    rebuilt from the model for budgets made from dicts)."""
    from planner.yaml_io import read_yaml_file

    if budget.source and Path(budget.source).is_file():
        data, marks = read_yaml_file(budget.source)
        return data, marks, budget.source
    data = budget.model_dump(mode="python", exclude_none=True)
    inf = data.get("inference", {})
    if "requests_per_month" in inf:
        inf.pop("requests", None)
    law = data.get("law")
    if isinstance(law, dict) and set(law) == {"preset"}:
        data["law"] = law["preset"]
    return data, {}, "<budget>"


def vary_budget(data: dict, marks: dict, where: str, inputs: dict[str, Any],
                budget: Optional[Budget] = None) -> Budget:
    """Validate the base dict with ``inputs`` (``{dotted field: value}``) applied."""
    for path, value in inputs.items():
        data = set_field(data, path, value, budget)
    return budget_from_data(data, _marks_without(marks, tuple(inputs)), where)


def _marks_without(marks: dict, fields: tuple) -> dict:
    """``marks`` less the varied fields' own (a varied value has no line in the file, so an
    error about it must not point at the value it replaced)."""
    if not marks or not fields:
        return marks
    varied = [tuple(p.split(".")) for p in fields]
    return {k: v for k, v in marks.items()
            if not any(k[:len(p)] == p and k[len(p):] != ("__key__",) for p in varied)}
