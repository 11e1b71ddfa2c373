"""Read a CSV of training runs for ``planner fit``: one row per run, errors naming row and column.

Default columns ``params``, ``tokens``, ``loss`` (parameters, training tokens, final loss in
nats/token); optional ``weight``, ``name`` and ``unique_tokens``.  ``--columns
params=N,tokens=D,loss=L`` maps other names.  Values accept ``13B``-style quantities.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from planner.errors import InputError
from planner.units import parse_quantity

ROLES = ("params", "tokens", "loss", "weight", "name", "unique_tokens")
REQUIRED = ("params", "tokens", "loss")


@dataclass(frozen=True)
class Runs:
    """Training runs: arrays of parameters, tokens, loss (nats/token) and weights."""

    params: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    weights: np.ndarray
    names: tuple[str, ...]
    unique_tokens: Optional[np.ndarray] = None
    source: str = "<arrays>"

    def __len__(self) -> int:
        return len(self.loss)

    def subset(self, index) -> "Runs":
        idx = np.asarray(index)
        return Runs(self.params[idx], self.tokens[idx], self.loss[idx], self.weights[idx],
                    tuple(np.asarray(self.names, dtype=object)[idx]),
                    None if self.unique_tokens is None else self.unique_tokens[idx],
                    self.source)


def from_arrays(params, tokens, loss, weights=None, names=None, unique_tokens=None) -> Runs:
    n = np.asarray(params, dtype=float)
    return Runs(n, np.asarray(tokens, dtype=float), np.asarray(loss, dtype=float),
                np.ones_like(n) if weights is None else np.asarray(weights, dtype=float),
                tuple(names) if names is not None else tuple(f"run{i}" for i in range(len(n))),
                None if unique_tokens is None else np.asarray(unique_tokens, dtype=float))


def parse_columns(spec: Optional[str]) -> dict[str, str]:
    """``'params=N,tokens=D,loss=L'`` → ``{'params': 'N', ...}`` (roles default to themselves)."""
    mapping = {r: r for r in ROLES}
    if not spec:
        return mapping
    for part in spec.split(","):
        if "=" not in part:
            raise InputError(f"--columns: expected ROLE=COLUMN pairs, got {part!r}")
        role, col = (x.strip() for x in part.split("=", 1))
        if role not in ROLES:
            raise InputError(f"--columns: unknown role {role!r}; roles: {', '.join(ROLES)}")
        mapping[role] = col
    return mapping


def read_csv_rows(path: str | Path) -> tuple[list[str], list[dict]]:
    """(header, rows) of a CSV file, read through the checked text reader
    (``planner.yaml_io.read_text_file``: size limit, UTF-8 with the byte offset of a bad byte,
    control characters refused with line:col); one-line ``InputError`` naming the path."""
    import io

    from planner.yaml_io import check_text, read_text_file

    p = Path(path)
    text = read_text_file(p)
    check_text(text, str(p))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(f"{p}: cannot read CSV: {exc}") from None
    return list(header), rows


def read_runs(path: str | Path, columns: Optional[str] = None,
              exclude: Optional[str] = None) -> Runs:
    """Read runs from ``path``.  ``exclude`` names a column: rows where it is 1/true are
    skipped (e.g. ``epoch_excluded`` in Epoch's Chinchilla data)."""
    p = Path(path)
    mapping = parse_columns(columns)
    header, rows = read_csv_rows(p)
    for role in REQUIRED:
        if mapping[role] not in header:
            raise InputError(f"{p}:1: missing column {mapping[role]!r} for {role} (columns: "
                             f"{', '.join(header) or 'none'}; map with --columns "
                             f"{role}=NAME)")
    if exclude is not None and exclude not in header:
        raise InputError(f"{p}:1: --exclude column {exclude!r} not found")
    values: dict[str, list] = {r: [] for r in ROLES}
    for i, row in enumerate(rows):
        line = i + 2  # the header is line 1
        if exclude is not None and str(row.get(exclude, "")).strip().lower() in ("1", "true",
                                                                                 "yes"):
            continue
        for role in ("params", "tokens", "loss", "weight", "unique_tokens"):
            col = mapping[role]
            if col not in header:
                continue
            raw = (row.get(col) or "").strip()
            if raw == "":
                raise InputError(f"{p}:{line}: column {col!r}: empty value")
            try:
                v = parse_quantity(raw, what=col)
            except ValueError:
                raise InputError(f"{p}:{line}: column {col!r}: not a number: {raw!r}") from None
            if v <= 0:
                raise InputError(f"{p}:{line}: column {col!r}: must be > 0, got {raw}")
            values[role].append(v)
        name_col = mapping["name"]
        values["name"].append(row.get(name_col) or f"row{line}")
    if not values["loss"]:
        raise InputError(f"{p}: no runs")
    n = np.array(values["params"])
    return Runs(
        params=n, tokens=np.array(values["tokens"]), loss=np.array(values["loss"]),
        weights=np.array(values["weight"]) if values["weight"] else np.ones_like(n),
        names=tuple(values["name"]),
        unique_tokens=np.array(values["unique_tokens"]) if values["unique_tokens"] else None,
        source=str(p),
    )
