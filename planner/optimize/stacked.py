"""Many budgets read as one: the view a sweep builds its cost models from, once.

A sweep's points are one budget with a few numbers changed.  ``stacked_view(budgets)`` reads
like the first budget, except that a numeric field whose value differs between the points
reads as a numpy array of their values (one per point, in order).  The cost formulas are
written in numpy arithmetic, so the cost model built from the view holds, in every term, the
coefficients of all the points at once: the configuration structure is built once and only
the numbers vary per point (issue 12).

Fields that differ in anything but their number (a hardware name, a law preset, a value that
is None at one point and a number at another) cannot be read as one: ``Unstackable`` is
raised, and callers plan such points one by one.  So does any Python branch on an array
(``if``, ``min``, ``float``, string formatting): numpy refuses to guess, so the build fails
loudly instead of taking one point's branch for all; the sweep then plans those points one
at a time, and tests hold every stacked point to its own single plan.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np


class Unstackable(ValueError):
    """The points differ in a way one stacked build cannot express."""


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def stack_values(values: Sequence[Any], what: str = "") -> Any:
    """One value standing for ``values`` (one per point): the common value when all are
    equal, an array of the numbers when they are numbers, a ``StackedView`` of objects of
    one type, a tuple of stacked elements, or a function stacking the results of bound
    methods.  ``Unstackable`` otherwise."""
    first = values[0]
    if all(_equal(first, v) for v in values[1:]):
        return first
    if all(_is_number(v) for v in values):
        return np.array(values, dtype=float)
    if all(callable(v) and not isinstance(v, type) for v in values):
        def call(*args, **kwargs):
            return stack_values([f(*args, **kwargs) for f in values], f"{what}()")
        return call
    kinds = {type(v) for v in values}
    if len(kinds) != 1:
        raise Unstackable(f"{what}: differs in kind between points "
                          f"({', '.join(sorted(k.__name__ for k in kinds))})")
    if isinstance(first, tuple) and not hasattr(first, "_fields"):
        if len({len(v) for v in values}) != 1:
            raise Unstackable(f"{what}: tuples of different lengths")
        return tuple(stack_values([v[i] for v in values], f"{what}[{i}]")
                     for i in range(len(first)))
    if hasattr(first, "__dataclass_fields__") or hasattr(type(first), "model_fields"):
        return StackedView(values, what)  # a budget block, a profile, a set-up dataclass
    raise Unstackable(f"{what}: differs between points ({first!r} vs another value)")


class StackedView:
    """Attribute access over objects of one type, stacked by ``stack_values``.

    ``isinstance`` sees the objects' type (``__class__``), so code that dispatches on a
    budget block's type reads the view as it reads one block.  Read-only."""

    __slots__ = ("_items", "_what", "_read")

    def __init__(self, items: Sequence[Any], what: str = ""):
        object.__setattr__(self, "_items", tuple(items))
        object.__setattr__(self, "_what", what)
        object.__setattr__(self, "_read", {})  # attributes stacked so far (read-only objects)

    @property  # type: ignore[misc]
    def __class__(self):  # noqa: D105 - isinstance(view, Budget) is True
        return type(self._items[0])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # class-level markers (isinstance for pydantic models)
            if name.startswith(("__pydantic", "__dataclass")):
                return getattr(type(self._items[0]), name)
            raise AttributeError(name)
        if name not in self._read:
            self._read[name] = stack_values([getattr(o, name) for o in self._items],
                                            f"{self._what}.{name}" if self._what else name)
        return self._read[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a stacked view is read-only")

    def __len__(self):  # a view of sequences
        return len(self._items[0])

    def __iter__(self):
        raise Unstackable(f"{self._what}: iterating a stacked view")

    def __bool__(self) -> bool:
        return True

    @property
    def points(self) -> int:
        """How many points the view stands for."""
        return len(self._items)


def stacked_view(objects: Sequence[Any]) -> Any:
    """The view of ``objects`` (budgets of one sweep): see the module docstring."""
    if not objects:
        raise ValueError("no objects to stack")
    if len(objects) == 1:
        return objects[0]
    return StackedView(objects)
