"""One structure for candidates whose cost terms differ only in which monomials they hold (a
draft sized in parameters beside one sized as a fraction of N, no draft): each posynomial padded
with zero-coefficient terms to the union of exponents, so that all candidates stack into one
batch of the 1-D solver.  Values are unchanged."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.terms import CostItem, Term

if TYPE_CHECKING:
    from planner.optimize.build import Candidate


def _slots(posys) -> list[tuple[float, float]]:
    """The exponents every posynomial of ``posys`` fits into (each kept as often as the
    posynomial that has it most often), in order of first appearance."""
    slots: list[tuple[float, float]] = []
    for p in posys:
        free = list(slots)
        for t in p:
            e = (float(t.n_exp), float(t.d_exp))
            if e in free:
                free.remove(e)
            else:
                slots.append(e)
    return slots


def _fill(p, slots) -> tuple[Term, ...]:
    """``p`` laid out on ``slots``: its terms where their exponents are, zeros elsewhere."""
    terms = list(p)
    out = []
    for e in slots:
        k = next((i for i, t in enumerate(terms) if (float(t.n_exp), float(t.d_exp)) == e), None)
        out.append(terms.pop(k) if k is not None else Term(0.0, *e))
    return tuple(out)


def _align_items(items: list[CostItem]) -> list[CostItem]:
    if len({it.structure() for it in items}) == 1 or len(
            {len(it.alternatives) for it in items}) != 1:
        return items
    slots = [_slots([it.alternatives[a] for it in items])
             for a in range(len(items[0].alternatives))]
    return [CostItem(it.name, tuple(_fill(p, slots[a]) for a, p in enumerate(it.alternatives)),
                     it.unit) for it in items]


def align_candidates(cands: list[Candidate]) -> list[Candidate]:
    """Candidates whose cost terms differ only in which monomials they hold (a draft sized in
    parameters beside one sized as a fraction of N, a draft trained on given tokens, no draft)
    given one structure: each posynomial padded with zero-coefficient terms to the union of
    exponents, so that all candidates stack into one batch.  Values are unchanged."""
    from dataclasses import replace

    scs = [c.scenario for c in cands]
    if len(scs) < 2 or len({(len(s.objective), len(s.constraints)) for s in scs}) != 1:
        return cands
    objective = [_align_items([s.objective[i] for s in scs]) for i in range(len(scs[0].objective))]
    constraints = [_align_items([s.constraints[i].item for s in scs])
                   for i in range(len(scs[0].constraints))]
    out = []
    for k, c in enumerate(cands):
        sc = c.scenario
        cons = tuple(replace(x, item=constraints[i][k]) for i, x in enumerate(sc.constraints))
        out.append(replace(c, scenario=replace(sc, objective=tuple(o[k] for o in objective),
                                               constraints=cons)))
    return out
