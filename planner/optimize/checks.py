"""A plan is checked before it is printed: every reported quantity finite, a positive model
and token count, and the loss constraint met.  Otherwise ``SolverError`` (exit 4) with the
reason, never a silently wrong plan.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterator

from planner.errors import SolverError

LOSS_RTOL = 1e-6
"""Relative tolerance on ``served loss ≤ target loss`` (the solvers converge to ~1e-9)."""


def _all_finite(doc: Any) -> bool:
    """Whether every number ``_numbers`` would yield is finite (one pass, no paths: a sweep
    checks every point's plan)."""
    stack = [doc]
    pop, more = stack.pop, stack.extend
    while stack:
        x = pop()
        t = type(x)
        if t is float:
            if not math.isfinite(x):
                return False
        elif t is dict:
            more(x.values())
        elif t is list or t is tuple:
            more(x)
        elif t is str or t is int or t is bool or x is None:
            continue
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            more([getattr(x, f.name) for f in dataclasses.fields(x)])
        elif isinstance(x, dict):
            more(x.values())
        elif isinstance(x, (list, tuple)):
            more(x)
        elif isinstance(x, float) or (hasattr(x, "dtype") and getattr(x, "ndim", 1) == 0):
            if not math.isfinite(float(x)):
                return False  # anything else holds no number the plan reports
    return True


def _numbers(doc: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if dataclasses.is_dataclass(doc) and not isinstance(doc, type):
        doc = {f.name: getattr(doc, f.name) for f in dataclasses.fields(doc)}
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(doc, (list, tuple)):
        for i, v in enumerate(doc):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(doc, float) or (hasattr(doc, "dtype") and getattr(doc, "ndim", 1) == 0):
        yield path, float(doc)


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
        reported = _reported(point)
        if _all_finite(reported):
            continue
        for path, v in _numbers(reported):  # find the first one, by its path
            if not math.isfinite(v):
                raise SolverError(f"{label}.{path} is {v!r}; no plan is printed (the law or "
                                  "a hardware profile gives numbers beyond floating point)")
    target = float(result.target_loss)
    served = plan.extra.get("served_loss")
    served = float(plan.loss if served is None else served)
    if not (math.isfinite(target) and served <= target * (1 + LOSS_RTOL)):
        raise SolverError(f"the plan's served loss {served:.6g} exceeds the target loss "
                          f"{target:.6g} nats/token; no plan is printed")


__all__ = ["LOSS_RTOL", "check_plan"]
