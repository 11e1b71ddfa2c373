"""Side-by-side scenarios: ``planner compare A.yaml B.yaml`` or one file with ``scenarios:``.

Scenario files are read by ``planner.budget.scenarios``.

Fixed-model mode (``--at params=13B,tokens=260B``) costs one given model in every scenario
(``planner.optimize.evaluate``) instead of optimising it, beside each scenario's optimum; give
only ``params`` (or only ``tokens``) to take the other from the scenario's iso-loss curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from planner.budget import Budget
from planner.errors import InfeasibleError, InputError, PlannerError
from planner.units import format_count, parse_quantity

# ---- fixed-model mode -----------------------------------------------------------------------
LOSS_TOLERANCE = 1e-4  # nats/token: a rounded model (13B, 260B) within this reaches the target
def parse_at(spec: str) -> dict[str, float]:
    """``params=13B,tokens=260B`` → ``{'params': 1.3e10, 'tokens': 2.6e11}``."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InputError(f"--at {spec!r}: expected params=13B,tokens=260B")
        key, value = (s.strip() for s in part.split("=", 1))
        key = {"n": "params", "N": "params", "d": "tokens", "D": "tokens",
               "train_tokens": "tokens"}.get(key, key)
        if key not in ("params", "tokens"):
            raise InputError(f"--at {key}: unknown key; use params= and/or tokens=")
        try:
            out[key] = parse_quantity(value, what=f"--at {key}")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if out[key] <= 0:
            raise InputError(f"--at {key}: must be positive")
    if not out:
        raise InputError("--at: give params= and/or tokens=")
    return out


def cost_fixed(problem, params: Optional[float] = None, tokens: Optional[float] = None):
    """Cost a given model: ``(PlanPoint, candidate index, warnings)``.  Among the candidate
    configurations, those whose constraints hold come first, then those that reach the target
    (served) loss within ``LOSS_TOLERANCE``, then the cheapest; a missing ``params`` or
    ``tokens`` comes from the iso-loss curve at the target loss."""
    from planner.optimize import evaluate
    from planner.plan import extrapolation_warnings

    if params is None and tokens is None:
        raise InputError("--at: give params= and/or tokens=")
    best: Optional[tuple] = None
    for k, cand in enumerate(problem.candidates):
        sc = cand.scenario
        n, d = params, tokens
        if d is None:
            d = float(sc.loss_constraint.tokens(n))
        elif n is None:
            n = float(sc.loss_constraint.params_for_tokens(d))
        if not (math.isfinite(n) and math.isfinite(d)):
            continue
        obj = float(sc.objective_value(n, d))
        ok = all(float(c.slack(n, d)) >= -1e-9 for c in sc.constraints)
        served = float(problem.law.loss(n, d)) + sum(float(t.value(n, d))
                                                     for t in sc.loss_extra)
        misses = served > problem.target_loss + LOSS_TOLERANCE
        key = (not ok, misses, obj)  # meet the constraints, then the target, then cheapest
        if best is None or key < best[0]:
            best = (key, k, n, d)
    if best is None:
        given = (f"a {format_count(params)}-parameter model" if tokens is None
                 else f"{format_count(tokens)} training tokens")
        raise InfeasibleError(f"{given} cannot reach the target loss "
                              f"{problem.target_loss:.4g} under {problem.law.name}")
    _, k, n, d = best
    point = evaluate(problem, n, d, k)
    warnings = extrapolation_warnings(problem.law, n, d, label="model")
    served = point.extra.get("served_loss", point.loss)
    if served > problem.target_loss + LOSS_TOLERANCE:
        warnings.append(f"model: loss {served:.4f} misses the target {problem.target_loss:.4f} "
                        f"by {served - problem.target_loss:.4f} nats/token")
    bad = [name for name, c in point.constraints.items() if c["slack"] < -1e-9]
    if bad:
        warnings.append("model: violates " + ", ".join(bad))
    return point, k, warnings


# ---- comparison -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    name: str
    source: Optional[str]
    result: Any = None  # PlanResult of the scenario's optimum (None: failed)
    fixed: Any = None  # PlanPoint of the --at model
    fixed_warnings: tuple[str, ...] = ()
    error: Optional[str] = None

    @property
    def point(self):
        """What the comparison shows: the fixed model, else the plan."""
        if self.error:
            return None
        if self.fixed is not None:
            return self.fixed
        return self.result.plan if self.result is not None else None


@dataclass(frozen=True)
class Metric:
    label: str
    values: tuple  # floats or strings per entry (None: not available)
    kind: str  # 'count', 'ratio', 'loss', 'sci', 'objective', 'usd', 'number', 'pct', 'text'
    units: tuple = ()  # per entry, for 'objective'

    @property
    def differs(self) -> bool:
        vals = [v for v in self.values if v is not None]
        if len(vals) < 2:
            return False
        if self.kind == "text":
            return len(set(vals)) > 1
        if self.kind == "objective" and len(set(self.units)) > 1:
            return True
        ref = vals[0]
        return any(_rel(v, ref) > 1e-6 for v in vals[1:])

    def relative(self) -> list[Optional[float]]:
        """Each value relative to the first column (numbers of one unit only)."""
        if self.kind in ("text", "pct") or not self.values or self.values[0] in (None, 0):
            return [None] * len(self.values)
        if self.kind == "objective" and len(set(self.units)) > 1:
            return [None] * len(self.values)
        ref = self.values[0]
        return [None if v is None else v / ref - 1.0 for v in self.values]


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    den = max(abs(a), abs(b))
    return abs(a - b) / den if den else 0.0


@dataclass(frozen=True)
class Comparison:
    entries: tuple[Entry, ...]
    at: Optional[dict] = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def mode(self) -> str:
        return "fixed" if self.at else "optimize"

    def metrics(self) -> list[Metric]:
        es = self.entries
        pts = [e.point for e in es]
        res = [e.result for e in es]

        def col(fn: Callable) -> tuple:
            out = []
            for e, p, r in zip(es, pts, res):
                try:
                    out.append(fn(e, p, r) if p is not None else None)
                except (KeyError, AttributeError, TypeError):
                    out.append(None)
            return tuple(out)

        m = [Metric("parameters", col(lambda e, p, r: p.params), "count"),
             Metric("training tokens", col(lambda e, p, r: p.train_tokens), "count"),
             Metric("tokens / parameter", col(lambda e, p, r: p.tokens_per_param), "ratio"),
             Metric("target loss (nats/token)", col(lambda e, p, r: r.target_loss), "loss"),
             Metric("loss (nats/token)", col(lambda e, p, r: p.loss), "loss")]
        if any(p is not None and "served_loss" in p.extra for p in pts):
            m.append(Metric("served loss (nats/token)",
                            col(lambda e, p, r: p.extra.get("served_loss", p.loss)), "loss"))
        units = tuple(r.objective_unit if r is not None else "" for r in res)
        m.append(Metric("lifetime cost (objective)", col(lambda e, p, r: p.objective),
                        "objective", units))
        m += [Metric("training FLOPs", col(lambda e, p, r: p.train_flops), "sci"),
              Metric("inference FLOPs", col(lambda e, p, r: p.inference_flops), "sci"),
              Metric("total FLOPs", col(lambda e, p, r: p.total_flops), "sci")]
        for key, label, kind in (("train_usd", "training (USD)", "usd"),
                                 ("inference_usd", "inference (USD)", "usd"),
                                 ("total_usd", "lifetime (USD)", "usd"),
                                 ("total_gpu_hours", "GPU-hours", "number"),
                                 ("energy_kwh", "energy (kWh)", "number"),
                                 ("train_wall_clock_days", "training wall-clock (days)",
                                  "number")):
            if any(p is not None and key in p.costs for p in pts):
                m.append(Metric(label, col(lambda e, p, r, k=key: p.costs[k]), kind))
        if any(p is not None and p.extra.get("configuration") for p in pts):
            m.append(Metric("serving configuration",
                            col(lambda e, p, r: p.extra.get("configuration", "")), "text"))
        if self.at:
            m.append(Metric("optimal N of the scenario", col(lambda e, p, r: r.plan.params),
                            "count"))
            m.append(Metric("premium over the scenario's optimum",
                            col(lambda e, p, r: p.objective / r.plan.objective - 1.0), "pct"))
        else:
            m.append(Metric("saving vs Chinchilla-optimal",
                            col(lambda e, p, r: r.savings.get("objective_fraction",
                                                              r.savings.get("fraction"))),
                            "pct"))
            m.append(Metric("binding constraints",
                            col(lambda e, p, r: ", ".join(r.active_constraints) or "none"),
                            "text"))
        m.append(Metric("law", col(lambda e, p, r: r.law["name"]), "text"))
        return m

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per scenario (the CSV): its name, status, then the plan's (or the
        fixed model's) scalar fields, as a sweep's rows."""
        from planner.analysis.sweep import plan_row

        out = []
        for e in self.entries:
            row: dict[str, Any] = {"scenario": e.name, "source": e.source or "",
                                   "status": "error" if e.error else "optimal"}
            if e.error:
                row["message"] = e.error
            elif e.result is not None:
                row.update(plan_row(e.result, e.fixed))
            out.append(row)
        return out

    def to_dict(self) -> dict:
        from planner.plan import JSON_SCHEMA_VERSION

        scen = []
        for e in self.entries:
            d: dict[str, Any] = {"name": e.name, "source": e.source,
                                 "status": "error" if e.error else "optimal"}
            if e.error:
                d["message"] = e.error
            if e.result is not None:
                d["result"] = e.result.to_dict()
            if e.fixed is not None:
                d["fixed"] = e.fixed.to_dict()
                d["fixed_warnings"] = list(e.fixed_warnings)
            scen.append(d)
        return {
            "schema_version": JSON_SCHEMA_VERSION, "mode": self.mode, "at": self.at,
            "scenarios": scen,
            "metrics": [{"metric": m.label, "values": list(m.values), "differs": m.differs,
                         "relative_to_first": m.relative()} for m in self.metrics()],
            "notes": list(self.notes),
        }


def compare(sources: Sequence[str | Path] | Sequence[tuple[str, Budget]],
            at: Optional[dict | str] = None, solver: Optional[str] = None) -> Comparison:
    """Optimise (or, with ``at``, cost a fixed model in) every scenario."""
    from planner.budget.scenarios import load_scenarios
    from planner.optimize import prepare
    from planner.optimize.batch import optimize_many

    named = (list(sources) if sources and isinstance(sources[0], tuple)
             else load_scenarios(sources))
    if isinstance(at, str):
        at = parse_at(at)
    budgets = [b for _, b in named]
    problems: list = []
    for b in budgets:
        try:
            problems.append(prepare(b))
        except PlannerError as exc:
            problems.append(exc)
    results = optimize_many(budgets, solver, problems=problems)
    entries = []
    for (name, b), prob, res in zip(named, problems, results):
        if not res.ok:
            entries.append(Entry(name, b.source, error=res.message))
            continue
        if at:
            try:
                point, _, warns = cost_fixed(prob, at.get("params"), at.get("tokens"))
            except PlannerError as exc:
                entries.append(Entry(name, b.source, res, error=str(exc)))
                continue
            entries.append(Entry(name, b.source, res, point, tuple(warns)))
        else:
            entries.append(Entry(name, b.source, res))
    return Comparison(tuple(entries), at)


__all__ = ["Comparison", "Entry", "Metric", "compare", "cost_fixed", "parse_at"]
