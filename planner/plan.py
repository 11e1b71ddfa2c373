"""Plans: the chosen (N, D) with its costs, the Chinchilla baseline beside it, and the saving.

Frozen, JSON-serialisable, base units in field names (parameters, tokens, flops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from planner.laws import Law
from planner.plain import as_plain

JSON_SCHEMA_VERSION = 1
EXTRAPOLATION_TOKENS_PER_PARAM = 1000.0  # Sardana et al. 2024: every law extrapolates beyond


# quantities a plan reports only where they apply (null otherwise); see docs/json.md
PLAN_EXTRA_KEYS = (
    "weight_bits", "loss_penalty", "served_loss", "configuration", "speculative",  # serving
    "epochs", "unique_tokens", "effective_tokens", "effective_params",  # repeated data
    "uncertainty",  # law (and mapping) uncertainty
    "training_plan",  # hardware budgets: hyperparameters, batch, parallel split, memory
    "energy",  # hardware budgets: energy per phase with the watts charged and their source
)


@dataclass(frozen=True)
class PlanPoint:
    """One model: parameters, training tokens, loss and lifetime cost (base units)."""

    params: float
    train_tokens: float
    tokens_per_param: float
    loss: float
    train_flops: float
    inference_flops: float
    total_flops: float
    objective: float  # in the result's objective_unit
    items: dict[str, float] = field(default_factory=dict)  # objective breakdown
    costs: dict[str, float] = field(default_factory=dict)
    serving: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The plan as JSON: the same keys for every kind of budget (docs/json.md); a key
        whose quantity does not apply (no hardware, no repeated data, no uncertainty) is null."""
        d = as_plain(self)
        extra = d.pop("extra")
        for k in ("costs", "serving", "constraints", "items"):
            if not d[k]:
                d[k] = None
        d.update({k: None for k in PLAN_EXTRA_KEYS})
        d.update(extra)
        return d


STATUSES = ("optimal", "infeasible", "unsupported", "invalid")


@dataclass(frozen=True)
class PlanResult:
    """What ``planner optimize`` answers, scipy-style: a ``status`` and a ``message`` always;
    the plan, the baseline and the saving when ``status == 'optimal'``.

    ``status``: ``optimal``; ``infeasible`` (the target or the constraints cannot all hold:
    ``binding_constraints`` names them); ``unsupported`` (the solver cannot read this
    problem, e.g. the GP solver on a law that is not a posynomial); ``invalid`` (the budget
    did not validate: batch calls only; ``optimize()`` raises ``InputError``).
    ``configuration`` is the discrete serving choice of the plan (``weight_bits``, ``gamma``,
    ``gpus_per_replica``, ``train_hardware``, ``serve_hardware``, ``draft``), None for
    FLOPs-only budgets; ``alternatives`` the best plan of each hardware and draft option when
    the budget lists several (``planner.optimize.choices.alternatives``).  ``raise_for_status()`` turns a
    non-optimal result into the matching exception (exit code 3, 2 or 4).
    """

    status: str
    solver: str
    objective_unit: str
    target_loss: Optional[float]
    law: Optional[dict[str, Any]]
    plan: Optional[PlanPoint]
    baseline: Optional[PlanPoint]
    message: str = ""
    active_constraints: tuple[str, ...] = ()
    binding_constraints: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    budget_name: Optional[str] = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    configuration: Optional[dict[str, Any]] = None
    # the Chinchilla-optimal model served plainly (16-bit weights, no speculative decoding);
    # ``baseline`` is the Chinchilla-optimal model served with the plan's serving options
    baseline_plain: Optional[PlanPoint] = None
    alternatives: tuple[dict[str, Any], ...] = ()  # each open hardware/draft option's best

    @property
    def ok(self) -> bool:
        return self.status == "optimal"

    def raise_for_status(self) -> "PlanResult":
        """Return ``self`` when optimal; raise ``InfeasibleError`` (infeasible),
        ``InputError`` (unsupported, invalid) or ``SolverError`` otherwise."""
        from planner.errors import InfeasibleError, InputError, SolverError

        if self.status == "optimal":
            return self
        if self.status == "infeasible":
            raise InfeasibleError(self.message, binding=self.binding_constraints)
        if self.status in ("unsupported", "invalid"):
            raise InputError(self.message)
        raise SolverError(self.message or f"solver status {self.status}")

    @classmethod
    def failed(cls, status: str, message: str, *, solver: str = "", objective_unit: str = "",
               target_loss: Optional[float] = None, law: Optional[dict] = None,
               binding: tuple[str, ...] = (), budget_name: Optional[str] = None
               ) -> "PlanResult":
        """A result without a plan (``status`` not optimal)."""
        return cls(status=status, solver=solver, objective_unit=objective_unit,
                   target_loss=target_loss, law=law, plan=None, baseline=None,
                   message=message, binding_constraints=tuple(binding),
                   budget_name=budget_name)

    @property
    def savings(self) -> dict[str, Optional[float]]:
        if self.plan is None or self.baseline is None:
            keys = ["flops", "fraction", "from_model_size", "from_serving_options",
                    "against_plain_fraction"]
            if self.objective_unit and self.objective_unit != "flops":
                keys[2:2] = [self.objective_unit, "objective_fraction"]
            return {k: None for k in keys}
        out = {
            "flops": self.baseline.total_flops - self.plan.total_flops,
            "fraction": _frac(self.baseline.total_flops - self.plan.total_flops,
                              self.baseline.total_flops),
        }
        if self.objective_unit != "flops":
            diff = self.baseline.objective - self.plan.objective
            out[self.objective_unit] = diff
            out["objective_fraction"] = _frac(diff, self.baseline.objective)
        # the saving against the plainly served baseline, split: choosing the model size
        # (same serving options on both sides) and the serving options themselves
        plain = self.baseline_plain or self.baseline
        out["from_model_size"] = self.baseline.objective - self.plan.objective
        out["from_serving_options"] = plain.objective - self.baseline.objective
        out["against_plain_fraction"] = _frac(plain.objective - self.plan.objective,
                                              plain.objective)
        return out

    def to_dict(self) -> dict:
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "status": self.status,
            "message": self.message,
            "budget": self.budget_name,
            "objective": self.objective_unit,
            "target_loss": self.target_loss,
            "law": self.law,
            "plan": self.plan.to_dict() if self.plan else None,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "baseline_plain": self.baseline_plain.to_dict() if self.baseline_plain else None,
            "savings": self.savings,
            "active_constraints": list(self.active_constraints),
            "binding_constraints": list(self.binding_constraints),
            "configuration": self.configuration,
            "warnings": list(self.warnings),
            "solver": self.solver,
            "diagnostics": self.diagnostics,
            "alternatives": list(self.alternatives),
        }


def _frac(num: float, den: float) -> float:
    return num / den if den else 0.0


def law_summary(law: Law) -> dict[str, Any]:
    info = law.info
    return {
        "name": law.name,
        "form": law.form,
        "constants": law.constants(),
        "source": info.source,
        "n_definition": info.n_definition,
        "loss_unit": info.loss_unit,
        "provenance": info.provenance,
        "fitted_params": list(info.fitted_params) if info.fitted_params else None,
        "fitted_tokens": list(info.fitted_tokens) if info.fitted_tokens else None,
        "fitted_tokens_per_param": (list(info.fitted_tokens_per_param)
                                    if info.fitted_tokens_per_param else None),
    }


def extrapolation_warnings(law: Law, params: float, tokens: float, label: str = "plan") -> list[str]:
    """Where the point lies outside what the law was fitted on (docs/laws.md)."""
    out = []
    ratio = tokens / params
    if ratio > EXTRAPOLATION_TOKENS_PER_PARAM:
        out.append(
            f"{label}: {ratio:.0f} tokens/parameter is beyond ~1000, where every published law "
            "extrapolates and laws fitted at ordinary ratios overstate the value of extra tokens "
            "(Sardana et al. 2024)"
        )
    info = law.info
    if info.fitted_params and not (info.fitted_params[0] <= params <= info.fitted_params[1]):
        out.append(f"{label}: {params:.3g} parameters is outside the law's fitted range "
                   f"{info.fitted_params[0]:.3g}-{info.fitted_params[1]:.3g}")
    if info.fitted_tokens and not (info.fitted_tokens[0] <= tokens <= info.fitted_tokens[1]):
        out.append(f"{label}: {tokens:.3g} training tokens is outside the law's fitted range "
                   f"{info.fitted_tokens[0]:.3g}-{info.fitted_tokens[1]:.3g}")
    r = info.fitted_tokens_per_param
    if r and not (r[0] <= ratio <= r[1]) and ratio <= EXTRAPOLATION_TOKENS_PER_PARAM:
        out.append(f"{label}: {ratio:.0f} tokens/parameter is outside the law's fitted "
                   f"range {r[0]:g}-{r[1]:g}")
    return out


def is_finite(x: float) -> bool:
    return x is not None and math.isfinite(x)
