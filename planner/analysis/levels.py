"""One budget at several demand levels, set up from one stacked build.

The report's figures plan the budget at six other lifetime demands (×0.01 … ×100).  The
budgets differ only in numbers, so instead of building every serving configuration's cost
model once per level (216 for examples/chat-assistant.yaml), the configurations are built once
from ``planner.optimize.stacked.stacked_view`` (a number that differs between the levels reads
as an array of their values), stacked into one batch scenario of (configurations × levels)
entries and solved by one vectorised 1-D solve; a level's scenarios are sliced out of the
batch for its figure (``StackedBuild.level``).  The build is the sweeps' own
(``planner.optimize.stacked_plans.stacked_build``).

Where the stacked build cannot express the levels (``Unstackable``, a formula that branches on
a number, a law that is not a posynomial, a target at one level that cannot be reached) or a
level's configurations are not those of the build, ``stack_levels`` gives None and the levels
are prepared one at a time (``prepare``), as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from planner.errors import PlannerError
from planner.optimize.stacked_plans import StackedBuild, stacked_build


@dataclass(frozen=True)
class Level:
    """Level ``j`` of a stacked build, standing where its prepared ``Problem`` would."""

    levels: StackedBuild
    j: int

    @property
    def budget(self):
        return self.levels.budgets[self.j]


def stack_levels(budgets: Sequence) -> Optional[StackedBuild]:
    """The levels as one stacked build (``planner.optimize.stacked_plans.stacked_build``), or
    None where it does not apply (no hardware: one cheap scenario each; a law that is not a
    posynomial; numbers the build cannot express; levels whose configurations differ):
    prepare those one at a time."""
    from planner.optimize.stacked import Unstackable

    try:
        return stacked_build(budgets)
    except (Unstackable, PlannerError, TypeError, ValueError, ArithmeticError):
        return None


__all__ = ["Level", "stack_levels"]
