"""Kaplan et al. 2020 joint law ``L = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D`` (arXiv 2001.08361).

N counts non-embedding parameters; loss in nats/token on WebText2 (Kaplan et al. 2020, eq. 1.5).  The solvers
see it in posynomial form: ``(N_c/N)^(α_N/α_D) + D_c/D ≤ L^(1/α_D)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from planner.laws.chinchilla import LawInfo
from planner.terms import PosyLoss, compute_optimal_allocation, compute_optimal_tokens


@dataclass(frozen=True)
class KaplanLaw:
    """Kaplan's L(N, D).  Constants default to the paper's joint fit [S]."""

    alpha_N: float = 0.076
    alpha_D: float = 0.103
    N_c: float = 6.4e13
    D_c: float = 1.8e13
    name: str = "kaplan2020"
    info: LawInfo = field(
        default_factory=lambda: LawInfo(
            source="Kaplan et al. 2020, arXiv 2001.08361, joint L(N, D) fit",
            n_definition="non-embedding parameters",
            eval_set="WebText2",
            provenance="S",
            fitted_params=(7.7e5, 1.5e9),
            fitted_tokens=(2.2e7, 2.3e10),
        )
    )
    form: str = "kaplan"
    is_posynomial: ClassVar[bool] = True  # after raising both sides to 1/α_D
    repeats_data: ClassVar[bool] = False  # data.unique_tokens is a hard cap D ≤ U
    takes_quantization_penalty: ClassVar[bool] = False  # a penalty on L is not one on L^(1/α_D)
    constant_names: ClassVar[tuple[str, ...]] = ("alpha_N", "alpha_D", "N_c", "D_c")

    @property
    def irreducible_loss(self) -> float:
        return 0.0

    def loss(self, params, tokens):
        """Loss (nats/token), in log space: ``exp(α_D·logaddexp(a·log(N_c/N), log(D_c/D)))``
        with ``a = α_N/α_D``, so ``(N_c/N)^a`` cannot overflow on its way to a finite loss."""
        n = np.asarray(params, dtype=float)
        d = np.asarray(tokens, dtype=float)
        a = self.alpha_N / self.alpha_D
        with np.errstate(all="ignore"):
            inner = np.logaddexp(a * (np.log(self.N_c) - np.log(n)),
                                 np.log(self.D_c) - np.log(d))
            return np.exp(self.alpha_D * inner)

    def posynomial(self, target_loss) -> PosyLoss:
        a = self.alpha_N / self.alpha_D
        limit = np.asarray(target_loss, dtype=float) ** (1.0 / self.alpha_D)
        if np.ndim(limit) == 0:
            limit = float(limit)
        return PosyLoss(0.0, self.N_c**a, a, self.D_c, 1.0, limit)

    def iso_loss_curve(self, target_loss, extra=(), shape=()):
        """The loss constraint in its posynomial form and its iso-loss curve D(N)."""
        from planner.laws.curve import PosynomialCurve

        return PosynomialCurve(self.posynomial(target_loss), tuple(extra), shape)

    def plan_details(self, params, tokens) -> dict:
        return {}

    def _equivalent(self):
        """Constants of the equivalent Chinchilla-form law in L^(1/α_D) space."""
        a = self.alpha_N / self.alpha_D
        return self.N_c**a, a, self.D_c, 1.0

    def compute_optimal(self, flops):
        """Compute-optimal (N, D) for C = 6ND: minimising L is minimising L^(1/α_D)."""
        A, a, B, b = self._equivalent()
        return compute_optimal_allocation(A, a, B, b, flops)

    def compute_optimal_tokens(self, params):
        A, a, B, b = self._equivalent()
        return compute_optimal_tokens(A, a, B, b, params)

    def with_constants(self, **changes) -> "KaplanLaw":
        return replace(self, **changes)

    def constants(self) -> dict[str, float]:
        return {"alpha_N": self.alpha_N, "alpha_D": self.alpha_D, "N_c": self.N_c, "D_c": self.D_c}
