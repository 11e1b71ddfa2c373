"""Budget → law, target loss and Scenario (the monomial cost terms the solvers read)."""

from __future__ import annotations

from planner.budget import Budget, InlineChinchillaLaw, InlineKaplanLaw, LawFile, PresetLaw
from planner.errors import InfeasibleError, InputError
from planner.laws import ChinchillaLaw, KaplanLaw, Law, LawInfo, get_preset
from planner.optimize.scenario import Scenario
from planner.optimize.terms import Constraint, CostItem


def resolve_law(budget: Budget) -> Law:
    """The loss law a budget names: a preset, inline constants, or a fitted law file."""
    spec = budget.law
    if isinstance(spec, PresetLaw):
        return get_preset(spec.preset)
    if isinstance(spec, InlineChinchillaLaw):
        return ChinchillaLaw(E=spec.E, A=spec.A, B=spec.B, alpha=spec.alpha, beta=spec.beta,
                             name=spec.name, info=LawInfo(source=spec.source))
    if isinstance(spec, InlineKaplanLaw):
        return KaplanLaw(alpha_N=spec.alpha_N, alpha_D=spec.alpha_D, N_c=spec.N_c, D_c=spec.D_c,
                         name=spec.name, info=LawInfo(source="inline Kaplan-form constants"))
    if isinstance(spec, LawFile):
        from planner.laws.io import load_law_file

        path = budget.base_dir / spec.file
        try:
            return load_law_file(path)
        except InputError as exc:
            raise InputError(f"{budget.where('law', 'file')}: law.file: {exc}") from None
    raise InputError(f"{budget.where('law')}: law: unsupported law specification")


def target_loss(budget: Budget, law: Law) -> float:
    """The loss to reach (nats/token): given, or that of a reference model under ``law``."""
    t = budget.target
    if t.loss is not None:
        loss, where = t.loss, budget.where("target", "loss")
    elif t.match.tokens is not None:
        loss = float(law.loss(t.match.params, t.match.tokens))
        where = budget.where("target", "match")
    else:
        tokens = float(law.compute_optimal_tokens(t.match.params))
        loss = float(law.loss(t.match.params, tokens))
        where = budget.where("target", "match")
    if loss <= law.irreducible_loss:
        raise InfeasibleError(
            f"{where}: target loss {loss:.4g} is at or below the irreducible loss "
            f"E = {law.irreducible_loss:.4g} of law {law.name}: no model size reaches it"
        )
    return loss


def flops_items(inference_tokens: float) -> tuple[CostItem, CostItem]:
    """Training ``6·N·D`` and inference ``2·N·T`` FLOPs (Kaplan et al. 2020; REFERENCE §4)."""
    return (
        CostItem.monomial("train", 6.0, 1, 1, unit="flops"),
        CostItem.monomial("inference", 2.0 * inference_tokens, 1, 0, unit="flops"),
    )


def bound_constraints(budget: Budget, inference_tokens: float,
                      law_form: str = "chinchilla") -> tuple[Constraint, ...]:
    """The ``constraints:`` block (and a data cap) as monomial/posynomial constraints.

    ``data.unique_tokens`` caps D for every law form except ``data-constrained``, whose solver
    plans repeated epochs instead (REFERENCE §1.3)."""
    b = budget.constraints
    out = []
    if b.max_params is not None:
        out.append(Constraint("max_params", CostItem.monomial("params", 1.0, 1, 0, "params"),
                              b.max_params, "parameters ≤ max_params"))
    if b.min_params is not None:
        out.append(Constraint("min_params", CostItem.monomial("params⁻¹", b.min_params, -1, 0,
                                                              "ratio"),
                              1.0, "parameters ≥ min_params"))
    if b.max_train_tokens is not None:
        out.append(Constraint("max_train_tokens",
                              CostItem.monomial("tokens", 1.0, 0, 1, "tokens"),
                              b.max_train_tokens, "training tokens ≤ max_train_tokens"))
    if b.max_train_flops is not None:
        out.append(Constraint("max_train_flops", flops_items(0.0)[0], b.max_train_flops,
                              "training FLOPs ≤ max_train_flops"))
    data = budget.data
    if data is not None and law_form != "data-constrained":
        out.append(Constraint("unique_tokens", CostItem.monomial("tokens", 1.0, 0, 1, "tokens"),
                              data.unique_tokens,
                              "training tokens ≤ data.unique_tokens (this law cannot repeat data)"))
    if b.max_total_flops is not None:
        train, inf = flops_items(inference_tokens)
        total = CostItem("total_flops", (train.alternatives[0] + inf.alternatives[0],), "flops")
        out.append(Constraint("max_total_flops", total, b.max_total_flops,
                              "training + inference FLOPs ≤ max_total_flops"))
    return tuple(out)


def build_scenario(budget: Budget, law: Law, loss: float) -> Scenario:
    """The FLOPs scenario of REFERENCE §4: min 6ND + 2N·T s.t. L(N, D) ≤ L*, plus bounds."""
    tokens = budget.inference.total_tokens
    return Scenario(
        loss=law.posynomial(loss),
        objective=flops_items(tokens),
        constraints=bound_constraints(budget, tokens, law.form),
        objective_unit="flops",
    )
