"""A budget resolved into the whole planning problem: its law, the target loss and one
Scenario per discrete configuration (weight bits × draft length × GPUs per replica)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional

from planner.budget import Budget
from planner.laws import Law
from planner.optimize.build import (
    Candidate,
    CandidateBuilder,
    build_candidates,
    loss_fields,
    resolve_law,
    target_loss,
)
from planner.optimize.lazy import LazyCandidates, built
from planner.optimize.scenario import Scenario, stack_scenarios

CHECK_RTOL = 1e-9
"""A plan built from one configuration's own cost model must cost what the batch solve that
chose it says, to this relative tolerance (``Problem.batch``, a sweep's stacked build), or it
is planned again with every configuration built on its own."""


def agrees(own: float, batch: float) -> bool:
    """Whether a cost from a configuration's own cost model equals the batch's (``CHECK_RTOL``)."""
    return abs(own / batch - 1.0) <= CHECK_RTOL


@dataclass(frozen=True)
class Problem:
    """A budget resolved into its law, target loss and candidate configurations."""

    budget: Budget
    law: Law
    target_loss: float
    candidates: tuple[Candidate, ...]
    batch: Optional[Scenario] = field(default=None, compare=False, repr=False)
    """Every candidate stacked, built as one (``CandidateBuilder.batch``); the candidates are
    then ``LazyCandidate``, built on first use.  None: ``stackable`` stacks them."""

    @property
    def posynomial(self) -> bool:
        """Whether every candidate is a geometric program (the GP solver can read it)."""
        if self.batch is not None:
            return self.batch.posynomial
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
        if self.batch is not None:
            return self.batch
        return stack_scenarios(c.scenario for c in self.candidates)

    def eager(self) -> "Problem":
        """The same problem with every candidate built on its own (a ``batch`` problem's
        candidates are built on first use)."""
        if self.batch is None:
            return self
        return Problem(self.budget, self.law, self.target_loss,
                       tuple(build_candidates(self.budget, self.law, self.target_loss)))

    def with_law(self, law: Law) -> "Problem":
        """The same candidates under another law of the same kind (e.g. perturbed constants):
        the target re-derived for ``match:`` targets (``InfeasibleError`` at or below the new
        law's E), each scenario's loss constraint rebuilt, costs and constraints kept."""
        from dataclasses import replace

        loss = target_loss(self.budget, law)
        cands = tuple(replace(c, scenario=replace(
            c.scenario, **loss_fields(law, loss, c.scenario.loss_extra)))
            for c in map(built, self.candidates))
        return Problem(self.budget, law, loss, cands)

    def restricted(self, index: int) -> "Problem":
        """The problem with only candidate ``index`` (a configuration held fixed)."""
        return Problem(self.budget, self.law, self.target_loss,
                       (built(self.candidates[index]),))


def prepare(budget: Budget, lazy: bool = False) -> Problem:
    """Resolve a budget: its law (with the unique-token cap for a law that repeats data), the
    target loss (``InfeasibleError`` at or below the law's irreducible loss) and the
    candidate scenarios.

    ``lazy``: for a budget of several configurations and a posynomial law, build them as one
    batch (``Problem.batch``) and each configuration's own cost model only when read; a plan
    then reads a few (``optimize``).  Otherwise (also where the batch would save less than
    half the cost-model builds: a budget of a few configurations) and where the batch build
    cannot express the budget, every configuration is built on its own."""
    law = resolve_law(budget)
    if getattr(law, "repeats_data", False) and budget.data is not None:
        law = law.with_unique_tokens(budget.data.unique_tokens)
    loss = target_loss(budget, law)
    if lazy and budget.uses_hardware and law.is_posynomial:
        builder = CandidateBuilder(budget, law, loss)
        if len(builder) > 1 and 2 * len(builder.groups()) <= len(builder):
            try:
                batch = builder.batch()
            except (TypeError, ValueError, ArithmeticError):
                pass  # a formula the batch cannot express: every configuration on its own
            else:
                return Problem(budget, law, loss, LazyCandidates(builder), batch)
    return Problem(budget, law, loss, tuple(build_candidates(budget, law, loss)))
