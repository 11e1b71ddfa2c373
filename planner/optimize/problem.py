"""A budget resolved into the whole planning problem: its law, the target loss and one
Scenario per discrete configuration (weight bits × draft length × GPUs per replica)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from planner.budget import Budget
from planner.laws import Law
from planner.optimize.build import (
    Candidate,
    build_candidates,
    loss_fields,
    resolve_law,
    target_loss,
)
from planner.optimize.scenario import Scenario, stack_scenarios


@dataclass(frozen=True)
class Problem:
    """A budget resolved into its law, target loss and candidate configurations."""

    budget: Budget
    law: Law
    target_loss: float
    candidates: tuple[Candidate, ...]

    @property
    def posynomial(self) -> bool:
        """Whether every candidate is a geometric program (the GP solver can read it)."""
        return all(c.scenario.posynomial for c in self.candidates)

    @property
    def scenario(self) -> Scenario:
        """The scenario of a budget with one configuration (ValueError when there are several:
        use ``optimize``, or ``candidates``)."""
        if len(self.candidates) != 1:
            raise ValueError(f"budget has {len(self.candidates)} discrete configurations; "
                             "use optimize() or Problem.candidates")
        return self.candidates[0].scenario

    @cached_property
    def stackable(self) -> Scenario:
        """All candidates stacked into one batch Scenario (same structure; ``ValueError``
        otherwise), built once per problem (the solve and the baselines both read it)."""
        return stack_scenarios(c.scenario for c in self.candidates)

    def with_law(self, law: Law) -> "Problem":
        """The same candidates under another law of the same kind (e.g. perturbed constants):
        the target re-derived for ``match:`` targets (``InfeasibleError`` at or below the new
        law's E), each scenario's loss constraint rebuilt, costs and constraints kept."""
        from dataclasses import replace

        loss = target_loss(self.budget, law)
        cands = tuple(replace(c, scenario=replace(
            c.scenario, **loss_fields(law, loss, c.scenario.loss_extra))) for c in self.candidates)
        return Problem(self.budget, law, loss, cands)

    def restricted(self, index: int) -> "Problem":
        """The problem with only candidate ``index`` (a configuration held fixed)."""
        return Problem(self.budget, self.law, self.target_loss, (self.candidates[index],))


def prepare(budget: Budget) -> Problem:
    """Resolve a budget: its law (with the unique-token cap for a law that repeats data), the
    target loss (``InfeasibleError`` at or below the law's irreducible loss) and the
    candidate scenarios."""
    law = resolve_law(budget)
    if getattr(law, "repeats_data", False) and budget.data is not None:
        law = law.with_unique_tokens(budget.data.unique_tokens)
    loss = target_loss(budget, law)
    return Problem(budget, law, loss, tuple(build_candidates(budget, law, loss)))
