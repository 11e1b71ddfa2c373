"""Budget → law, target loss and Scenario (the monomial cost terms the solvers read)."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import asdict, dataclass
from typing import Optional

from planner.budget import (
    Budget,
    InlineChinchillaLaw,
    InlineKaplanLaw,
    LawFile,
    PresetLaw,
)
from planner.errors import InfeasibleError, InputError
from planner.laws import ChinchillaLaw, KaplanLaw, Law, LawInfo, get_preset
from planner.optimize.scenario import Scenario
from planner.terms import Constraint, CostItem, Term
from planner.units import number_text

ALL_WEIGHT_BITS = (16, 8, 6, 5, 4, 3)


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
    """The loss to reach (nats/token): given, that of a reference model under ``law``, or that
    of a downstream error through its mapping (``planner.laws.downstream``)."""
    t = budget.target
    if t.loss is not None:
        loss, where = t.loss, budget.where("target", "loss")
    elif getattr(t, "downstream", None) is not None:  # an error target, through its mapping
        from planner.laws.downstream import budget_target_loss

        loss = budget_target_loss(budget, law)
        where = budget.where("target", "downstream", "error")
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
    """Training ``6·N·D`` and inference ``2·N·T`` FLOPs (Kaplan et al. 2020; Sardana et al. 2024, arXiv 2401.00448)."""
    return (
        CostItem.monomial("train", 6.0, 1, 1, unit="flops"),
        CostItem.monomial("inference", 2.0 * inference_tokens, 1, 0, unit="flops"),
    )


def bound_constraints(budget: Budget, inference_tokens: float,
                      law: Law | None = None) -> tuple[Constraint, ...]:
    """The ``constraints:`` block (and a data cap) as monomial/posynomial constraints.

    ``data.unique_tokens`` caps D for every law except one that repeats data (the
    data-constrained law of Muennighoff et al. 2023 plans repeated epochs instead)."""
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
    if budget.model is not None and budget.model.params is not None:  # pinned size: N = model.params (to solver precision)
        n = budget.model.params
        out.append(Constraint("model_params_max", CostItem.monomial("params", 1.0, 1, 0,
                                                                    "params"),
                              n * (1 + 1e-9), "parameters = model.params"))
        out.append(Constraint("model_params_min", CostItem.monomial("params⁻¹", n, -1, 0,
                                                                    "ratio"),
                              1 + 1e-9, "parameters = model.params"))
    data = budget.data
    if data is not None and not getattr(law, "repeats_data", False):
        out.append(Constraint("unique_tokens", CostItem.monomial("tokens", 1.0, 0, 1, "tokens"),
                              data.unique_tokens,
                              "training tokens ≤ data.unique_tokens (this law cannot repeat data)"))
    if b.max_total_flops is not None:
        train, inf = flops_items(inference_tokens)
        total = CostItem("total_flops", (train.alternatives[0] + inf.alternatives[0],), "flops")
        out.append(Constraint("max_total_flops", total, b.max_total_flops,
                              "training + inference FLOPs ≤ max_total_flops"))
    return tuple(out)


def loss_fields(law: Law, loss: float, extra: tuple[Term, ...] = ()) -> dict:
    """The Scenario fields of the loss constraint: its posynomial form (and extra terms), or,
    for a law that is not a posynomial, its iso-loss curve."""
    if law.is_posynomial:
        return {"loss": law.posynomial(loss), "loss_extra": tuple(extra)}
    return {"loss": None, "curve": law.iso_loss_curve(loss, extra)}


def build_scenario(budget: Budget, law: Law, loss: float) -> Scenario:
    """The FLOPs problem of Sardana et al. 2024 (arXiv 2401.00448): min 6ND + 2N·T s.t.
    L(N, D) ≤ L*, plus bounds."""
    tokens = budget.inference.total_tokens
    return Scenario(
        objective=flops_items(tokens),
        constraints=bound_constraints(budget, tokens, law),
        objective_unit="flops",
        **loss_fields(law, loss),
    )


@dataclass(frozen=True)
class Candidate:
    """One discrete configuration of a budget and its scenario.  ``config``/``cost_model`` are
    None for FLOPs-only budgets without hardware.

    ``train_hardware``/``serve_hardware`` name the profiles and ``draft`` the speculative draft
    (``"none"``: no speculation) this candidate uses; ``budget`` is the budget narrowed to
    these single choices (what its cost model was built from); ``choice`` says which of them
    the budget left open (e.g. ``"serve on h200-sxm, draft own-1pct"``), empty when the budget
    gave one of each.
    """

    scenario: Scenario
    config: Optional[object] = None  # planner.costs.model.ServingConfig
    cost_model: Optional[object] = None  # planner.costs.model.CostModel
    train_hardware: Optional[str] = None
    serve_hardware: Optional[str] = None
    draft: Optional[str] = None
    budget: Optional[Budget] = dataclasses.field(default=None, compare=False, repr=False)
    choice: str = ""

    def configuration(self) -> Optional[dict]:
        """The discrete choices as a dict (``PlanResult.configuration``): weight bits, γ, GPUs
        per replica, and the hardware and draft names; None without hardware."""
        if self.config is None:
            return None
        return {**asdict(self.config), "train_hardware": self.train_hardware,
                "serve_hardware": self.serve_hardware, "draft": self.draft}

    def label(self) -> str:
        """Human-readable configuration (serving choices, then the open hardware/draft)."""
        if self.config is None:
            return ""
        return self.config.label() + (f", {self.choice}" if self.choice else "")


def _options(budget: Budget) -> tuple[list[int], list[int], list[int]]:
    from planner.budget import ServeSpec

    serve = budget.serve or ServeSpec()
    bits = list(ALL_WEIGHT_BITS) if serve.weight_bits == "auto" else [serve.weight_bits]
    sd = serve.speculative
    if sd is None:
        gammas = [0]
    elif sd.gamma == "auto":
        gammas = list(range(sd.max_gamma + 1))
    else:
        gammas = [sd.gamma]
    if serve.gpus_per_replica == "auto":
        gpus, g = [], 1
        while g <= serve.max_gpus_per_replica:
            gpus.append(g)
            g *= 2
    else:
        gpus = [serve.gpus_per_replica]
    return bits, gammas, gpus


def hardware_constraints(budget: Budget, cm) -> tuple[Constraint, ...]:
    """Memory fit, deadline, dollar limits and latency SLOs of one cost model."""
    out = [Constraint("memory_fit", cm.memory, cm.memory_limit_bytes,
                      f"weights + KV cache ≤ {cm.config.gpus_per_replica} × "
                      f"{cm.serve_hw.hbm_bytes / 2**30:.1f} GiB × (1 − headroom) per replica")]
    t = cm.train  # gpus ≤ max_gpus and deadline ⇒ gpus: checked by the budget's validators
    if t.deadline_days is not None:
        gpus = t.gpus if t.gpus is not None else t.max_gpus
        wall = cm.total_in("gpu_s", ("train", "draft_train")).scaled(1.0 / gpus)
        out.append(Constraint("deadline_days", CostItem("train_seconds", wall.alternatives,
                                                        "seconds"),
                              t.deadline_days * 86400.0,
                              f"training wall-clock on {number_text(gpus)} GPUs ≤ "
                              f"{number_text(t.deadline_days)} days"))
    from planner.training.constraints import training_constraints

    out += training_constraints(budget, cm)  # batch-limited deadline, training memory
    if t.max_train_usd is not None:
        out.append(Constraint("max_train_usd", cm.total_in("usd", ("train", "draft_train")),
                              t.max_train_usd, "training dollars ≤ train.max_train_usd"))
    if budget.constraints.max_total_usd is not None:
        out.append(Constraint("max_total_usd", cm.total_in("usd"),
                              budget.constraints.max_total_usd,
                              "lifetime dollars ≤ constraints.max_total_usd"))
    for field, latency, name, label in (
            ("max_time_per_output_token_ms", "time_per_output_token_s",
             "max_time_per_output_token", "time per output token"),
            ("max_time_to_first_token_ms", "time_to_first_token_s",
             "max_time_to_first_token", "time to first token")):
        limit_ms = getattr(cm.serve, field)
        if limit_ms is None:  # request-shaped demand: checked by the budget's validators
            continue
        out.append(Constraint(name, cm.latency[latency], limit_ms / 1000.0,
                              f"{label} ≤ {number_text(limit_ms)} ms"))
    return tuple(out)


def penalty_law(budget: Budget, law: Law):
    """The quantisation-penalty law the budget chose, or None."""
    from planner.laws.quantization import PENALTIES

    serve = budget.serve
    if serve is None or serve.quantization_penalty == "none" or serve.weight_bits == 16:
        return None
    if not law.takes_quantization_penalty:
        raise InputError(f"{budget.where('serve', 'quantization_penalty')}: "
                         f"serve.quantization_penalty: the {law.form} law {law.name} cannot take "
                         "an additive loss penalty; use quantization_penalty: none or a "
                         "Chinchilla-form law")
    return PENALTIES[serve.quantization_penalty]


def build_candidates(budget: Budget, law: Law, loss: float) -> list[Candidate]:
    """Every discrete configuration of the budget as a Scenario, all of one structure
    (``align_candidates``): training hardware × serving hardware × weight bits × draft and γ ×
    GPUs per replica, each costed on the budget narrowed to its single hardware and draft
    (``planner.optimize.choices``)."""
    if not budget.uses_hardware:
        return [Candidate(build_scenario(budget, law, loss))]
    from planner.optimize.align import align_candidates

    builder = CandidateBuilder(budget, law, loss)
    return align_candidates([builder.build(k) for k in range(len(builder))])


class CandidateBuilder:
    """The configurations of a budget that uses hardware, in the optimizer's order, each built
    into its Candidate on request: ``build_candidates`` builds them all; a sweep point's plan
    (``planner.optimize.stacked_plans``) builds only the few its report reads."""

    def __init__(self, budget: Budget, law: Law, loss):
        from planner.costs.model import ServingConfig
        from planner.optimize.choices import draft_options, hardware_options

        self.budget, self.law, self.loss = budget, law, loss
        self.penalty = penalty_law(budget, law)
        self.bounds = bound_constraints(budget, budget.inference.total_tokens, law)
        bit_options, _, gpu_options = _options(budget)
        self.specs: list[tuple] = []  # (hardware option, draft name, narrowed budget, config)
        for hw in hardware_options(budget):
            for bits, (draft, gamma, b), g in itertools.product(
                    bit_options, draft_options(hw.budget), gpu_options):
                self.specs.append((hw, draft, b, ServingConfig(bits, gamma, g)))
        self._setups: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.specs)

    def choices(self) -> tuple:
        """Every configuration's choices as one comparable value (two builders with equal
        ``choices()`` hold the same configurations in the same order)."""
        return tuple((hw.train_name, hw.serve_name, hw.choice, hw.drafts_open, draft, config)
                     for hw, draft, _, config in self.specs)

    def meta(self, k: int) -> dict:
        """Candidate ``k``'s choices without building it: config, hardware and draft names,
        the ``choice`` label."""
        hw, draft, _, config = self.specs[k]
        parts = [hw.choice] if hw.choice else []
        if hw.drafts_open:
            parts.append(f"draft {draft}")
        return {"config": config, "train_hardware": hw.train_name,
                "serve_hardware": hw.serve_name, "draft": draft, "choice": ", ".join(parts)}

    def build(self, k: int) -> Candidate:
        """Candidate ``k``: its cost model and scenario."""
        hw, draft, b, config = self.specs[k]
        return self._make(hw, draft, b, config)

    def _make(self, hw, draft: str, b: Budget, config) -> Candidate:
        from planner.costs.model import build_cost_model
        from planner.optimize.setup import cost_setup

        setup = self._setups.get(id(b))
        if setup is None:
            setup = self._setups[id(b)] = cost_setup(b)
        cm = build_cost_model(setup, config, hw.train_hw, hw.serve_hw)
        return make_candidate(b, self.law, self.loss, config, cm, self.penalty, self.bounds,
                              hw, draft)

    def groups(self) -> list[list[int]]:
        """The configurations (indices) that share every branch of the cost formulas: the
        same hardware and draft; weight bits above 8 or not, at 16 or not; speculation on or
        off; one GPU per replica or more.  ``batch`` builds one cost model per group."""
        groups: dict[tuple, list[int]] = {}
        for k, (hw, draft, b, c) in enumerate(self.specs):
            bits, gamma, g = c.weight_bits, c.gamma, c.gpus_per_replica
            key = (id(hw), draft, id(b), bits > 8, bits >= 16, gamma > 0, g > 1)
            groups.setdefault(key, []).append(k)
        return list(groups.values())

    def batch(self, points: int = 1) -> Scenario:
        """Every configuration as one batch Scenario, entry ``q·points + j`` for
        configuration ``q`` at point ``j`` (``points`` > 1: the builder's budget is a sweep's
        ``stacked_view``), the same numbers as stacking each ``build(q)``.

        One cost model is built per group of configurations that share every branch of the
        cost formulas (hardware and draft; weight bits above 8, at 16; speculation on; more
        than one GPU per replica), with their weight bits, γ and GPUs per replica as arrays
        (``planner.terms.uniform`` reads a branch once for the group).  Raises ``TypeError``,
        ``ValueError`` or ``ArithmeticError`` where a formula cannot take them as arrays: build
        the configurations one at a time then."""
        import numpy as np

        from planner.costs.model import ServingConfig
        from planner.optimize.align import align_candidates
        from planner.optimize.scenario import map_coefficients, stack_scenarios

        parts, order = [], []
        for ks in self.groups():
            hw, draft, b, _ = self.specs[ks[0]]
            configs = [self.specs[k][3] for k in ks]
            if len(ks) == 1:
                config = configs[0]
            else:
                config = ServingConfig(*(np.array([getattr(c, f) for c in configs],
                                                  dtype=float)[:, None]
                                         for f in ("weight_bits", "gamma", "gpus_per_replica")))
            shape = (len(ks), points)
            sc = self._make(hw, draft, b, config).scenario
            flat = map_coefficients(sc, lambda x, shape=shape: np.broadcast_to(
                np.asarray(x, dtype=float), shape).reshape(-1))
            parts.append(Candidate(flat))
            order += ks
        stacked = stack_scenarios(c.scenario for c in align_candidates(parts))
        if stacked.batch_size() != len(self.specs) * points:
            raise ValueError("the batch is not one entry per configuration and point")
        where = np.empty(len(order), dtype=int)
        where[np.array(order)] = np.arange(len(order))  # configuration q is part entry where[q]
        idx = (where[:, None] * points + np.arange(points)).reshape(-1)
        return map_coefficients(stacked, lambda x: np.asarray(x)[idx])


def batch_scenario(builder: CandidateBuilder, points: int = 1) -> Scenario:
    """``builder.batch(points)``; where the batch build cannot express the configurations,
    each built on its own (``builder.build``), aligned and stacked: the same entries."""
    from planner.optimize.align import align_candidates
    from planner.optimize.scenario import stack_scenarios

    try:
        return builder.batch(points)
    except (TypeError, ValueError, ArithmeticError):
        return stack_scenarios(c.scenario for c in align_candidates(
            [builder.build(k) for k in range(len(builder))]))


def make_candidate(budget: Budget, law: Law, loss: float, config, cm, penalty, bounds,
                   hw, draft: str) -> Candidate:
    """The Candidate of one configuration: objective and constraints of its cost model
    ``cm`` (built from ``budget``, narrowed to one hardware and draft) and the loss constraint
    with the quantisation penalty at its bits."""
    tokens = budget.inference.total_tokens
    if budget.objective == "flops":
        objective = flops_items(tokens)
    else:
        objective = cm.items_in(budget.objective)
    extra: tuple[Term, ...] = (penalty.term(config.weight_bits),) if penalty is not None else ()
    sc = Scenario(objective=objective, constraints=bounds + hardware_constraints(budget, cm),
                  objective_unit=budget.objective, **loss_fields(law, loss, extra))
    parts = [hw.choice] if hw.choice else []
    if hw.drafts_open:
        parts.append(f"draft {draft}")
    return Candidate(sc, config, cm, hw.train_name, hw.serve_name, draft, budget,
                     ", ".join(parts))
