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

Field conveniences (documented in docs/review.md):

* ``inference.tokens`` on a budget whose demand is requests × tokens per request scales the
  requests (or ``requests_per_month``), keeping the request shape;
  ``inference.requests`` on a budget with ``requests_per_month`` × ``months`` scales the rate;
* ``target.loss`` replaces a ``target.match`` and ``target.match.*`` replaces a ``target.loss``;
* ``law.<constant>`` on a preset law expands the preset into inline constants first;
* ``train.hardware.<field>`` / ``serve.hardware.<field>`` on a named profile become an inline
  profile that ``extends:`` it (e.g. ``serve.hardware.price_usd_per_hour``).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from planner.budget import Budget, budget_from_data
from planner.errors import InputError, PlannerError
from planner.units import parse_quantity

Progress = Callable[[str, int, int], None]  # (stage, done, total)
CHUNK_SCENARIOS = 65536  # scenarios per vectorised solve call (bounds memory, feeds progress)


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


# ---- varying the budget's YAML dict ---------------------------------------------------------
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
            raise InputError(f"--vary {path}: {exc}") from None
    if head == "inference" and len(keys) == 2:
        inf = data.get("inference") or {}
        if keys[1] == "tokens" and "tokens" not in inf and inf:
            tpr = budget.inference.tokens_per_request if budget is not None else None
            per = (tpr.input + tpr.output) if tpr is not None else 0.0
            if per <= 0:
                raise InputError(f"--vary {path}: the budget's requests have no tokens")
            return set_field(data, "inference.requests", float(value) / per, budget)
        if keys[1] == "requests" and "requests_per_month" in inf:
            months = parse_quantity(inf["months"])
            return set_field(data, "inference.requests_per_month", float(value) / months,
                             budget)
        if keys[1] in ("requests", "requests_per_month") and "tokens" in inf:
            raise InputError(f"--vary {path}: the budget gives demand as inference.tokens; "
                             "vary inference.tokens instead")
    if head == "target" and len(keys) >= 2:
        tgt = dict(data.get("target") or {})
        if keys[1] == "loss":
            tgt.pop("match", None)
        elif keys[1] == "match":
            tgt.pop("loss", None)
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
        raise InputError(f"--vary {path}: the budget has no '{head}:' block (a FLOPs-only "
                         f"budget), so {path} has no effect; add {head}: to the budget")

    def put(node: Any, i: int) -> Any:
        if i == len(keys):
            if isinstance(node, dict):
                raise InputError(f"--vary {path}: is a section of the budget, not a number")
            return value
        if node is None:
            node = {}
        if not isinstance(node, dict):
            raise InputError(f"--vary {path}: {'.'.join(keys[:i])} is a value "
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


_MARKS_CACHE: dict = {}


def _marks_without(marks: dict, fields: tuple) -> dict:
    """``marks`` less the varied fields' own (a varied value has no line in the file, so an
    error about it must not point at the value it replaced).  Cached per (marks, fields)."""
    if not marks or not fields:
        return marks
    key = (id(marks), fields)
    hit = _MARKS_CACHE.get(key)
    if hit is not None and hit[0] is marks:
        return hit[1]
    varied = [tuple(p.split(".")) for p in fields]
    out = {k: v for k, v in marks.items()
           if not any(k[:len(p)] == p and k[len(p):] != ("__key__",) for p in varied)}
    if len(_MARKS_CACHE) > 64:
        _MARKS_CACHE.clear()
    _MARKS_CACHE[key] = (marks, out)
    return out


# ---- batch solving --------------------------------------------------------------------------
def _signature(problem) -> tuple:
    """What must match for scenarios to stack (exponents, layout, names)."""
    out = [len(problem.candidates)]
    for c in problem.candidates:
        sc = c.scenario
        out.append((sc.objective_unit, sc.params_range,
                    tuple((it.name, it.structure()) for it in sc.objective),
                    tuple((k.name, k.item.structure()) for k in sc.constraints),
                    tuple((float(t.n_exp), float(t.d_exp)) for t in sc.loss_extra)))
    return tuple(out)


def _stackable(problem) -> bool:
    return getattr(problem.law, "form", "") in ("chinchilla", "kaplan")


@dataclass
class BatchOutcome:
    """Per problem: ``(Solution, best candidate index)`` or None where the batch could not
    decide (infeasible, at the search cap, unstackable): solve those one at a time."""

    solutions: list
    candidate_objectives: list  # per problem: array of each candidate's optimum (inf: none)
    candidate_params: list  # per problem: array of each candidate's optimal N
    candidate_tokens: list  # per problem: array of each candidate's optimal D
    batched: int = 0
    groups: int = 0


def solve_problems(problems: Sequence, progress: Optional[Progress] = None) -> BatchOutcome:
    """Solve many prepared problems with stacked ``solve_iso_loss`` calls (one per structure
    group and chunk), choosing the cheapest feasible candidate of each as ``solve_candidates``
    does."""
    from planner.optimize.iso_loss import solve_iso_loss
    from planner.optimize.scenario import Solution, stack_scenarios

    sols: list = [None] * len(problems)
    cand_obj: list = [None] * len(problems)
    cand_n: list = [None] * len(problems)
    cand_d: list = [None] * len(problems)
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(problems):
        if p is not None and _stackable(p):
            groups.setdefault(_signature(p), []).append(i)
    total = sum(len(problems[i].candidates) for idx in groups.values() for i in idx)
    done = batched = 0
    for idx in groups.values():
        k = len(problems[idx[0]].candidates)
        per_chunk = max(1, CHUNK_SCENARIOS // k)
        for start in range(0, len(idx), per_chunk):
            chunk = idx[start:start + per_chunk]
            try:
                stacked = stack_scenarios(c.scenario for i in chunk
                                          for c in problems[i].candidates)
            except ValueError:
                continue  # structures differ after all: one at a time
            batch = solve_iso_loss(stacked)
            status = np.asarray(batch.status).reshape(len(chunk), k)
            obj = np.where(status == "optimal",
                           np.asarray(batch.objective, float).reshape(len(chunk), k), np.inf)
            params = np.asarray(batch.params, float).reshape(len(chunk), k)
            tokens = np.asarray(batch.tokens, float).reshape(len(chunk), k)
            diag = {"method": batch.diagnostics.get("method", "bisection"),
                    "batch": len(chunk) * k, "batched": True}
            if k > 1:
                diag["candidates"] = k
            for j, i in enumerate(chunk):
                cand_obj[i], cand_n[i], cand_d[i] = obj[j], params[j], tokens[j]
                b = int(np.argmin(obj[j]))
                sc = problems[i].candidates[b].scenario
                n, d = float(params[j, b]), float(tokens[j, b])
                if not np.isfinite(obj[j, b]) or n >= sc.params_range[1] * (1 - 1e-5):
                    continue  # let optimize() word the infeasibility / search-cap message
                active = tuple(c.name for c in sc.constraints
                               if abs(float(c.slack(n, d))) < 1e-6)
                sols[i] = (Solution(n, d, float(obj[j, b]), "optimal", "iso_loss",
                                    active=active, diagnostics=dict(diag)), b)
                batched += 1
            done += len(chunk) * k
            if progress:
                progress("solve", done, total)
    return BatchOutcome(sols, cand_obj, cand_n, cand_d, batched, len(groups))


def optimize_many(budgets: Sequence[Optional[Budget]], solver: Optional[str] = None,
                  problems: Optional[Sequence] = None,
                  progress: Optional[Progress] = None, details: Optional[dict] = None) -> list:
    """``optimize()`` over many budgets, batched where the structure allows.

    Returns, per budget, a ``PlanResult`` or the ``PlannerError`` that ``optimize()`` raised.
    ``problems`` may carry already-prepared problems (same order; None to prepare here);
    ``details`` (a dict) receives the ``BatchOutcome`` under ``'outcome'`` (each candidate's
    optimum).
    """
    from planner.optimize import optimize, plan_result, prepare

    n = len(budgets)
    if problems is None:
        problems = []
        for i, b in enumerate(budgets):
            try:
                problems.append(prepare(b) if b is not None else None)
            except PlannerError as exc:
                problems.append(exc)
            if progress and (i % 256 == 0 or i == n - 1):
                progress("prepare", i + 1, n)
    problems = list(problems)
    usable = [p if not isinstance(p, Exception) and p is not None
              and _solver_name(p.budget, solver) == "iso_loss" else None for p in problems]
    outcome = solve_problems(usable, progress)
    if details is not None:
        details["outcome"] = outcome
    out: list = []
    for i, p in enumerate(problems):
        if isinstance(p, Exception):
            out.append(p)
        elif outcome.solutions[i] is not None:
            out.append(plan_result(p, *outcome.solutions[i]))
        else:
            try:
                out.append(optimize(p.budget, solver=solver, uncertainty=False))
            except PlannerError as exc:
                out.append(exc)
        if progress and (i % 256 == 0 or i == n - 1):
            progress("plans", i + 1, n)
    return out


def _solver_name(budget: Budget, solver: Optional[str]) -> str:
    name = solver or budget.solver
    return "iso_loss" if name == "auto" else name


# ---- the sweep ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPoint:
    inputs: dict[str, Any]
    result: Any = None  # PlanResult, or None when the point failed
    error: Optional[str] = None

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result.status
        return "infeasible"

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

    def to_csv(self, path: Optional[str | Path] = None) -> str:
        rows = self.rows()
        columns: list[str] = []
        seen: set[str] = set()
        for r in rows:
            for k in r:
                if k not in seen:
                    seen.add(k)
                    columns.append(k)
        buf = io.StringIO()
        w = csv.DictWriter(buf, columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_value(v) for k, v in r.items()})
        text = buf.getvalue()
        if path is not None:
            from planner.files import atomic_write

            atomic_write(path, text, option="--csv")
        return text

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


def _csv_value(v: Any) -> Any:
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    return v


def flat_row(point: SweepPoint) -> dict[str, Any]:
    row: dict[str, Any] = dict(point.inputs)
    row["status"] = point.status
    r = point.result
    if r is None:
        row["message"] = point.error
        return row
    p = r.plan
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
          progress: Optional[Progress] = None) -> SweepResult:
    """Plan every point of the Cartesian product of ``axes`` (module docstring)."""
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
    results = optimize_many(budgets, solver, progress=progress)
    out = []
    for inputs, res in zip(points, results):
        if isinstance(res, Exception):
            out.append(SweepPoint(inputs, None, str(res)))
        else:
            out.append(SweepPoint(inputs, res))
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
