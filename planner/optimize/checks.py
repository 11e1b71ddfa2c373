"""A plan is checked before it is printed: every reported quantity finite, a positive model
and token count, and the loss constraint met.  Otherwise ``SolverError`` (exit 4) with the
reason, never a silently wrong plan.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional

from planner.errors import SolverError

LOSS_RTOL = 1e-6
"""Relative tolerance on ``served loss ≤ target loss`` (the solvers converge to ~1e-9)."""


def _first_non_finite(doc: Any) -> Optional[tuple[str, float]]:
    """The path (``costs.train_usd``, ``alternatives[2].objective``) and value of the first
    number in ``doc`` (dicts, lists, tuples and dataclasses, depth first in order) that is not
    finite, or None.  One pass without recursion; the path's text is only made for the one it
    finds (a sweep checks every point's plan)."""
    stack: list = [((), doc)]
    pop, push = stack.pop, stack.append
    while stack:
        path, x = pop()
        t = type(x)
        if t is float:
            if not math.isfinite(x):
                return _path_text(path), x
            continue
        if t is str or t is int or t is bool or x is None:
            continue
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            x = {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}
        if isinstance(x, dict):
            for k, v in reversed(x.items()):
                push((path + (("key", k),), v))
        elif isinstance(x, (list, tuple)):
            for i in range(len(x) - 1, -1, -1):
                push((path + (("index", i),), x[i]))
        elif isinstance(x, float) or (hasattr(x, "dtype") and getattr(x, "ndim", 1) == 0):
            if not math.isfinite(float(x)):
                return _path_text(path), float(x)
    return None


def _path_text(path: tuple) -> str:
    out = ""
    for kind, k in path:
        out = f"{out}[{k}]" if kind == "index" else f"{out}.{k}" if out else str(k)
    return out


def _reported(point) -> dict:
    """What ``point.to_dict()`` reports, keyed the same way (``extra`` flattened), without
    copying it: the check only reads."""
    d = {f.name: getattr(point, f.name) for f in dataclasses.fields(point)}
    d.update(d.pop("extra"))
    return d


def check_plan(result) -> None:
    """Raise ``SolverError`` unless ``result`` (a ``PlanResult``) is a sane plan.

    Checks: ``plan`` present; parameters and training tokens finite and ≥ 1; every number the
    plan and its baseline report finite; the served loss (loss + quantisation penalty) at most
    the target loss (relative tolerance ``LOSS_RTOL``)."""
    plan = result.plan
    if plan is None:
        raise SolverError(f"the solver returned no plan (status {result.status})")
    for name, v in (("params", plan.params), ("train_tokens", plan.train_tokens)):
        if not (math.isfinite(v) and v >= 1):  # fewer than one parameter or token: nonsense
            raise SolverError(f"the solver returned {name} = {v!r}; no plan is printed "
                              "(a degenerate law or profile?)")
    for label, point in (("plan", plan), ("baseline", result.baseline)):
        if point is None:
            continue
        bad = _first_non_finite(_reported(point))
        if bad is not None:
            path, v = bad
            raise SolverError(f"{label}.{path} is {v!r}; no plan is printed (the law or "
                              "a hardware profile gives numbers beyond floating point)")
    target = float(result.target_loss)
    served = plan.extra.get("served_loss")
    served = float(plan.loss if served is None else served)
    if not (math.isfinite(target) and served <= target * (1 + LOSS_RTOL)):
        raise SolverError(f"the plan's served loss {served:.6g} exceeds the target loss "
                          f"{target:.6g} nats/token; no plan is printed")


__all__ = ["LOSS_RTOL", "check_plan"]
