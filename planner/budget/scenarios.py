"""Scenario files: a budget plus a ``scenarios:`` mapping of name → overrides (or a list of
``{name: ..., <overrides>}``).  Each scenario is the base budget with its overrides merged in
(``planner.budget.edit.merge``: nested mappings merge key by key, ``null`` deletes a key,
dotted keys such as ``serve.weight_bits: 4`` set one field with the sweep's conveniences)::

    schema_version: 1
    law: epoch2024
    target: {match: {params: 13B}}
    inference: {requests: 10B, tokens_per_request: {input: 500, output: 300}}
    objective: flops
    scenarios:
      base: {}
      more-demand: {inference.tokens: 40T}
      hoffmann-law: {law: hoffmann2022}
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from planner.budget.edit import merge
from planner.budget.schema import Budget, budget_from_data
from planner.errors import InputError


def _remap_marks(marks: dict, prefix: tuple) -> dict:
    """Marks of the base (without ``scenarios``) plus the scenario's own, moved to the paths
    they override, so errors point at the scenario's line."""
    out = {k: v for k, v in marks.items() if not k or k[0] != "scenarios"}
    n = len(prefix)
    for k, v in marks.items():
        if k[:n] == prefix and len(k) > n:
            rest = k[n:]
            head = str(rest[0]).split(".") if rest[0] != "__key__" else [rest[0]]
            out[tuple(head) + rest[1:]] = v
    return out


def expand_file(path: str | Path) -> list[tuple[str, Budget]]:
    """The budgets of one file: itself, or one per entry of its ``scenarios:``."""
    from planner.yaml_io import read_yaml_file

    where = str(path)
    data, marks = read_yaml_file(path)
    if not isinstance(data, dict) or "scenarios" not in data:
        b = budget_from_data(data, marks, where)
        return [(b.name or Path(where).stem, b)]
    scen = data["scenarios"]
    base = {k: v for k, v in data.items() if k != "scenarios"}
    if isinstance(scen, list):
        items = []
        for i, entry in enumerate(scen):
            if not isinstance(entry, dict) or "name" not in entry:
                line = marks.get(("scenarios", i), (0, 0))[0]
                raise InputError(f"{where}:{line}: scenarios[{i}]: each entry needs a 'name'")
            items.append((str(entry["name"]), {k: v for k, v in entry.items() if k != "name"},
                          ("scenarios", i)))
    elif isinstance(scen, dict):
        items = [(str(k), v if v is not None else {}, ("scenarios", k)) for k, v in scen.items()]
    else:
        line = marks.get(("scenarios",), (0, 0))[0]
        raise InputError(f"{where}:{line}: scenarios: a mapping of name → overrides")
    from planner.budget.limits import MAX_SCENARIOS

    if len(items) > MAX_SCENARIOS:
        line = marks.get(("scenarios",), (0, 0))[0]
        raise InputError(f"{where}:{line}: scenarios: {len(items):,} scenarios; at most "
                         f"{MAX_SCENARIOS:,} in one comparison (split the file)")
    if not items:
        raise InputError(f"{where}: scenarios: empty")
    try:
        base_budget = budget_from_data(base, marks, where)
    except InputError:
        base_budget = None  # the base may be incomplete; each scenario completes it
    out = []
    for name, over, prefix in items:
        if not isinstance(over, dict):
            line = marks.get(prefix, (0, 0))[0]
            raise InputError(f"{where}:{line}: scenarios.{name}: overrides must be a mapping")
        try:
            merged = merge(base, over, base_budget)
            b = budget_from_data(merged, _remap_marks(marks, prefix), where)
        except InputError as exc:
            raise InputError(f"scenario {name!r}: {exc}") from None
        out.append((name, b))
    return out


def load_scenarios(paths: Sequence[str | Path]) -> list[tuple[str, Budget]]:
    """Named budgets from budget files and scenario files, names made unique."""
    if not paths:
        raise InputError("compare: give at least one budget or scenario file")
    out: list[tuple[str, Budget]] = []
    many = len(paths) > 1
    for path in paths:
        entries = expand_file(path)
        for name, b in entries:
            if many and len(entries) > 1:
                name = f"{Path(path).stem}/{name}"
            out.append((name, b))
    seen: dict[str, int] = {}
    unique = []
    for name, b in out:
        seen[name] = seen.get(name, 0) + 1
        unique.append((name if seen[name] == 1 else f"{name}#{seen[name]}", b))
    return unique
