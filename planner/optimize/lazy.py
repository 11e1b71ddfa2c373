"""A budget's configurations as candidates built on first use: a plan reads a few of the
hundreds a budget holds (the plan's, the baselines', each open choice's best), the solver reads
all of them from one batch (``CandidateBuilder.batch``)."""

from __future__ import annotations

import collections.abc
from typing import Optional, Sequence

from planner.budget import Budget
from planner.optimize.build import Candidate, CandidateBuilder
from planner.optimize.scenario import Scenario


class LazyCandidate:
    """A configuration whose choices are known (``CandidateBuilder.meta``) and whose cost model
    and scenario are built on first use (a plan reads a few of a budget's hundreds)."""

    __slots__ = ("_builder", "_index", "_built", "config", "train_hardware", "serve_hardware",
                 "draft", "choice")

    def __init__(self, builder: CandidateBuilder, index: int, meta: Optional[dict] = None):
        """``meta``: ``builder.meta(index)`` when already known (a build's points share it)."""
        self._builder, self._index, self._built = builder, index, None
        m = builder.meta(index) if meta is None else meta
        self.config, self.train_hardware, self.serve_hardware = (
            m["config"], m["train_hardware"], m["serve_hardware"])
        self.draft, self.choice = m["draft"], m["choice"]

    def candidate(self) -> Candidate:
        """The built Candidate (built once)."""
        if self._built is None:
            self._built = self._builder.build(self._index)
        return self._built

    @property
    def scenario(self) -> Scenario:
        return self.candidate().scenario

    @property
    def cost_model(self):
        return self.candidate().cost_model

    @property
    def budget(self) -> Budget:
        return self.candidate().budget

    def configuration(self) -> Optional[dict]:
        return Candidate.configuration(self)  # type: ignore[arg-type]

    def label(self) -> str:
        return Candidate.label(self)  # type: ignore[arg-type]


def built(candidate) -> Candidate:
    """``candidate`` as a Candidate (a ``LazyCandidate`` built)."""
    return candidate.candidate() if isinstance(candidate, LazyCandidate) else candidate


class LazyCandidates(collections.abc.Sequence):
    """A builder's configurations as a read-only sequence of ``LazyCandidate``, each made on
    first access."""

    __slots__ = ("_builder", "_metas", "_made", "_all")

    def __init__(self, builder: CandidateBuilder, metas: Optional[Sequence[dict]] = None):
        """``metas``: ``builder.meta(k)`` of every configuration when already known."""
        self._builder, self._made, self._all = builder, {}, None
        self._metas = metas if metas is not None else [builder.meta(k)
                                                       for k in range(len(builder))]

    def __len__(self) -> int:
        return len(self._metas)

    def __getitem__(self, q):  # type: ignore[override]
        if isinstance(q, slice):
            return tuple(self[k] for k in range(len(self._metas))[q])
        q = range(len(self._metas))[q]  # IndexError and negative indices as a tuple's
        made = self._made.get(q)
        if made is None:
            made = self._made[q] = LazyCandidate(self._builder, q, self._metas[q])
        return made

    def __iter__(self):
        if self._all is None:  # made once: a plan reads the choices of all several times
            self._all = tuple(self[q] for q in range(len(self._metas)))
        return iter(self._all)
