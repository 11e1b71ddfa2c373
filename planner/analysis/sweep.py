"""Sweeps: vary numeric budget fields over grids and plan every point.

``planner sweep BUDGET.yaml --vary inference.tokens=1e10:1e15:21 --vary target.loss=lin:2:2.2:5``

Grid rule (one rule, no guessing):

* ``start:stop:n`` and ``log:start:stop:n``: ``n`` points spaced evenly in log10 between the
  ends (both ends must be positive);
* ``lin:start:stop:n``: ``n`` points spaced evenly between the ends;
* ``a,b,c``: exactly these values (numbers, quantities like ``2T``, or names such as
  ``h100-sxm,a100-80gb-sxm`` for a categorical field).

Several ``--vary`` make a Cartesian product.  Each point is the budget's YAML with the field
set (a dotted path), re-validated by the budget schema, then prepared into its Scenarios.  Points
whose scenarios share one structure (the usual case: a numeric field changes coefficients, not
exponents) are stacked into one batch Scenario and solved by one vectorised ``solve_iso_loss``
call; the rest (GP solver, non-posynomial laws, structure changes) go through ``optimize()`` one
by one.  Every point ends as the same ``PlanResult`` that ``optimize()`` returns for its budget.

Field conveniences: ``planner.budget.edit`` (documented in docs/review.md).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from planner.budget import Budget, budget_from_data
from planner.budget.edit import vary_budget
from planner.errors import InputError
from planner.optimize.batch import Progress, optimize_many
from planner.units import parse_quantity


# ---- grids ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """One varied field: a dotted path into the budget YAML and its values."""

    field: str
    values: tuple
    scale: str  # 'log', 'lin' or 'list'

    def __len__(self) -> int:
        return len(self.values)


def _number(text: str, fld: str, what: str) -> float:
    try:
        return parse_quantity(text.strip(), what=f"{fld} {what}")
    except ValueError as exc:
        raise InputError(f"--vary {fld}: {exc}") from None


def _tidy(v: float) -> Any:
    """12 significant digits; whole numbers become ints (integer fields such as batch_size)."""
    v = float(f"{v:.12g}")
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def parse_vary(spec: str) -> Axis:
    """Parse ``FIELD=GRID`` (see the module docstring); ``InputError`` naming the field."""
    if "=" not in spec:
        raise InputError(f"--vary {spec!r}: expected FIELD=GRID, e.g. "
                         "inference.tokens=1e10:1e15:21")
    fld, grid = (s.strip() for s in spec.split("=", 1))
    if not fld or not all(p.isidentifier() for p in fld.split(".")):
        raise InputError(f"--vary {fld or spec!r}: the field is a dotted path into the budget, "
                         "e.g. inference.tokens or train.mfu")
    if not grid:
        raise InputError(f"--vary {fld}: no values after '='")
    scale = "log"
    if grid.startswith(("log:", "lin:")):
        scale, grid = grid[:3], grid[4:]
    if ":" in grid:
        parts = grid.split(":")
        if len(parts) != 3:
            raise InputError(f"--vary {fld}: a grid is [log:|lin:]start:stop:n, got {grid!r}")
        start, stop = _number(parts[0], fld, "start"), _number(parts[1], fld, "stop")
        try:
            n = int(parts[2])
        except ValueError:
            raise InputError(f"--vary {fld}: the number of points must be an integer, "
                             f"got {parts[2]!r}") from None
        if n < 1 or (n == 1 and start != stop):
            raise InputError(f"--vary {fld}: need at least 2 points between different ends, "
                             f"got {n}")
        from planner.budget.limits import MAX_SWEEP_AXIS

        if n > MAX_SWEEP_AXIS:
            raise InputError(f"--vary {fld}: {n:,} points; at most {MAX_SWEEP_AXIS:,} on one "
                             "axis (docs/robustness.md)")
        if scale == "log":
            if start <= 0 or stop <= 0:
                raise InputError(f"--vary {fld}: a log grid needs positive ends (got {start:g} "
                                 f"and {stop:g}); write lin:{parts[0]}:{parts[1]}:{n}")
            raw = np.logspace(math.log10(start), math.log10(stop), n)
        else:
            raw = np.linspace(start, stop, n)
        values = [_tidy(v) for v in raw]
        values[0], values[-1] = _tidy(start), _tidy(stop)
        return Axis(fld, tuple(values), scale)
    if scale != "log" or grid.startswith(("log:", "lin:")):
        raise InputError(f"--vary {fld}: '{scale}:' goes with a start:stop:n grid")
    from planner.budget.limits import MAX_SWEEP_AXIS

    if grid.count(",") >= MAX_SWEEP_AXIS:
        raise InputError(f"--vary {fld}: more than {MAX_SWEEP_AXIS:,} values in one list")
    values = []
    for item in grid.split(","):
        item = item.strip()
        if not item:
            raise InputError(f"--vary {fld}: empty value in list {grid!r}")
        try:
            values.append(_tidy(parse_quantity(item)))
        except ValueError:
            values.append(item)  # a name (hardware profile, law preset, 'auto')
    return Axis(fld, tuple(values), "list")


def grid_points(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Cartesian product of the axes, first axis slowest, as ``{field: value}`` dicts."""
    fields = [a.field for a in axes]
    if len(set(fields)) != len(fields):
        dup = next(f for f in fields if fields.count(f) > 1)
        raise InputError(f"--vary {dup}: given twice")
    from planner.budget.limits import MAX_SWEEP_POINTS

    total = math.prod(len(a.values) for a in axes)
    if total > MAX_SWEEP_POINTS:
        raise InputError(f"--vary: the grid has {total:,} points "
                         f"({' × '.join(str(len(a.values)) for a in axes)}); at most "
                         f"{MAX_SWEEP_POINTS:,} (docs/robustness.md)")
    return [dict(zip(fields, combo)) for combo in itertools.product(*[a.values for a in axes])]


# ---- the sweep ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPoint:
    """One grid point: its inputs and, when it has a plan, the ``PlanResult``; otherwise the
    failed result's ``status`` and ``error`` message."""

    inputs: dict[str, Any]
    result: Any = None  # PlanResult with a plan, or None when the point has none
    error: Optional[str] = None
    failed_status: str = "infeasible"

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result.status
        return self.failed_status

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"inputs": dict(self.inputs), "status": self.status}
        if self.result is None:
            d["message"] = self.error
            d["plan"] = None
            return d
        r = self.result
        d.update({"plan": r.plan.to_dict(), "objective": r.objective_unit,
                  "savings": r.savings, "active_constraints": list(r.active_constraints),
                  "warnings": list(r.warnings)})
        return d


@dataclass(frozen=True)
class SweepResult:
    budget: str
    axes: tuple[Axis, ...]
    points: tuple[SweepPoint, ...]
    notes: tuple[str, ...] = ()
    diagnostics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        from planner.plan import JSON_SCHEMA_VERSION

        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "budget": self.budget,
            "vary": [{"field": a.field, "scale": a.scale, "values": list(a.values)}
                     for a in self.axes],
            "notes": list(self.notes),
            "diagnostics": self.diagnostics,
            "points": [p.to_dict() for p in self.points],
        }

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per point (the CSV): inputs, then the plan's scalar fields."""
        return [flat_row(p) for p in self.points]

    def column(self, key: str) -> np.ndarray:
        """A plan field (``params``, ``train_tokens``, ``objective``, a ``costs`` key...) over
        the points, NaN where a point has none."""
        out = []
        for p in self.points:
            r = p.result
            if r is None:
                out.append(np.nan)
                continue
            pt = r.plan
            v = getattr(pt, key, None)
            if v is None:
                v = pt.costs.get(key, pt.items.get(key, np.nan))
            out.append(float(v))
        return np.array(out)


def flat_row(point: SweepPoint) -> dict[str, Any]:
    """A sweep point as one CSV row: its inputs, status, then the plan's scalar fields."""
    row: dict[str, Any] = dict(point.inputs)
    row["status"] = point.status
    if point.result is None:
        row["message"] = point.error
        return row
    row.update(plan_row(point.result))
    return row


def plan_row(r, point=None) -> dict[str, Any]:
    """The scalar fields of a result's plan (or of ``point``, a fixed model costed under the
    same budget) as flat CSV columns with units in their names."""
    p = point if point is not None else r.plan
    row: dict[str, Any] = {}
    row.update({"params": p.params, "train_tokens": p.train_tokens,
                "tokens_per_param": p.tokens_per_param, "loss_nats_per_token": p.loss,
                f"objective_{r.objective_unit}": p.objective,
                "train_flops": p.train_flops, "inference_flops": p.inference_flops,
                "total_flops": p.total_flops})
    unit = r.objective_unit
    for name, v in p.items.items():
        row[f"item_{name}_{unit}"] = v
    for k, v in p.costs.items():
        row[k] = v
    for k, v in p.serving.items():
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            row[f"serving_{k}"] = v
    for k, v in p.extra.items():
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            row[k] = v
    for name, c in p.constraints.items():
        row[f"slack_{name}"] = c["slack"]
    s = r.savings
    row["baseline_params"] = r.baseline.params
    row["baseline_objective_" + unit] = r.baseline.objective
    row["savings_fraction"] = s.get("objective_fraction", s.get("fraction"))
    row["active_constraints"] = " ".join(r.active_constraints)
    row["warnings"] = len(r.warnings)
    return row


def sweep(budget: str | Path | dict, axes: Sequence[Axis], solver: Optional[str] = None,
          progress: Optional[Progress] = None, jobs: Optional[int] = None) -> SweepResult:
    """Plan every point of the Cartesian product of ``axes`` (module docstring); ``jobs``
    processes plan chunks of points (default: one per CPU)."""
    import time

    from planner.yaml_io import read_yaml_file

    t0 = time.perf_counter()
    if isinstance(budget, dict):
        data, marks, where = budget, {}, "<budget>"
    else:
        where = str(budget)
        data, marks = read_yaml_file(budget)
    if not isinstance(data, dict):
        raise InputError(f"{where}: a budget is a mapping of keys (schema_version, law, ...)")
    if "scenarios" in data:
        raise InputError(f"{where}: scenarios: sweep one budget; use 'planner compare' for "
                         "scenario files")
    base = budget_from_data(data, marks, where)
    axes = tuple(axes)
    points = grid_points(axes)
    notes = _notes(base, data, axes)
    budgets: list = []
    for i, inputs in enumerate(points):
        try:
            budgets.append(vary_budget(data, marks, where, inputs, base))
        except InputError as exc:
            raise InputError(_field_error(exc, inputs)) from None
        if progress and (i % 256 == 0 or i == len(points) - 1):
            progress("budgets", i + 1, len(points))
    t1 = time.perf_counter()
    results = optimize_many(budgets, solver, progress=progress, jobs=jobs)
    out = []
    for inputs, res in zip(points, results):
        if res.ok:
            out.append(SweepPoint(inputs, res))
        else:
            out.append(SweepPoint(inputs, None, res.message, res.status))
    t2 = time.perf_counter()
    batched = sum(1 for p in out if p.result is not None and p.result.diagnostics.get("batched"))
    diag = {"points": len(out), "batched_points": batched,
            "one_at_a_time_points": len(out) - batched,
            "budgets_seconds": t1 - t0, "solve_seconds": t2 - t1}
    if base.uncertainty is not None:
        notes.append("the budget's uncertainty: block is ignored in sweeps (point plans only)")
    return SweepResult(where, axes, tuple(out), tuple(notes), diag)


def _field_error(exc: InputError, inputs: dict) -> str:
    msg = str(exc)
    if msg.startswith("--vary"):
        return msg
    if any(msg.startswith(f"{name}:") for name in inputs):
        return f"--vary {msg}"
    names = ", ".join(inputs)
    hint = ""
    if "valid integer" in msg:
        hint = " (an integer field: give a list such as 1,2,4,8)"
    return f"--vary {names}: {msg}{hint}"


def _notes(base: Budget, data: dict, axes: Iterable[Axis]) -> list[str]:
    notes = []
    inf = data.get("inference") or {}
    for a in axes:
        if a.field == "inference.tokens" and "tokens" not in inf and inf:
            what = "requests_per_month" if "requests_per_month" in inf else "requests"
            notes.append(f"inference.tokens sets lifetime tokens by scaling inference.{what} "
                         "(tokens per request kept)")
        if a.field.startswith("law.") and not isinstance(data.get("law"), dict):
            notes.append(f"{a.field}: the preset law is expanded into inline constants "
                         "(its fitted-range metadata is dropped)")
    return notes
