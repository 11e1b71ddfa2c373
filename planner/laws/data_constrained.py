"""Data-constrained scaling law: Muennighoff et al. 2023 (arXiv 2305.16264; huggingface/datablations).

``L = E + A/N'^α + B/D'^β`` where repeated data and excess parameters decay in value:
``R_D = D/U_D − 1``, ``D' = U_D + U_D·R_D*·(1 − exp(−R_D/R_D*))``;
``U_N = min(N, N_opt(U_D))``, ``R_N = N/U_N − 1``, ``N' = U_N + U_N·R_N*·(1 − exp(−R_N/R_N*))``.
``N_opt(U_D)`` is the compute-optimal N whose compute-optimal D is U_D under the base law
(Hoffmann et al. 2022 allocation).  Constants: Muennighoff et al. 2023, fitted on C4 with the
GPT-2 tokenizer, as in huggingface/datablations [P].
Not a posynomial: planned by a nested 1-D solve (planner.optimize.data_constrained).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Optional

import numpy as np

from planner.laws.chinchilla import LawInfo
from planner.terms import (
    PosyLoss,
    allocation_constant,
    compute_optimal_allocation,
    compute_optimal_tokens,
)


@dataclass(frozen=True)
class DataConstrainedLaw:
    E: float = math.exp(0.6254804)
    A: float = math.exp(6.255414)
    B: float = math.exp(7.3049974)
    alpha: float = 0.3526596
    beta: float = 0.3526596
    R_D_star: float = 15.387756
    R_N_star: float = 5.309743
    name: str = "muennighoff2023"
    info: LawInfo = field(default_factory=lambda: LawInfo(
        source="Muennighoff et al. 2023, arXiv 2305.16264 (huggingface/datablations)",
        n_definition="parameters (GPT-2-style Megatron models)", eval_set="C4 validation",
        provenance="P", fitted_params=(7.1e6, 8.67e9), fitted_tokens=(1e8, 9e11),
        note="R_D*, R_N* sit on a flat ridge (a lower local minimum exists): compare losses, not constants"))
    form: str = "data-constrained"
    repeats_data: ClassVar[bool] = True  # plans repeated epochs over data.unique_tokens
    takes_quantization_penalty: ClassVar[bool] = False
    constant_names: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta", "R_D_star",
                                                 "R_N_star")
    unique_tokens: Optional[float] = None
    samples: Any = field(default=None, compare=False, hash=False, repr=False)

    @property
    def irreducible_loss(self) -> float:
        return self.E

    @property
    def G(self) -> float:
        return allocation_constant(self.A, self.alpha, self.B, self.beta)

    def optimal_params_for_tokens(self, tokens):
        """N whose compute-optimal D is ``tokens`` (base law, Hoffmann et al. 2022 allocation)."""
        a, b = self.alpha, self.beta
        c6 = (np.asarray(tokens, dtype=float) * self.G) ** ((a + b) / a)
        return self.G * c6 ** (b / (a + b))

    def effective(self, params, tokens, unique_tokens=None):
        """(N', D'): the parameters and tokens worth counting after repetition decay."""
        u = self.unique_tokens if unique_tokens is None else unique_tokens
        n = np.asarray(params, dtype=float)
        d = np.asarray(tokens, dtype=float)
        if u is None:
            return n, d
        u = np.asarray(u, dtype=float)
        r_d = np.maximum(d / u - 1.0, 0.0)
        d_eff = np.where(d <= u, d, u + u * self.R_D_star * (1.0 - np.exp(-r_d / self.R_D_star)))
        u_n = np.minimum(n, self.optimal_params_for_tokens(u))
        r_n = np.maximum(n / u_n - 1.0, 0.0)
        n_eff = u_n + u_n * self.R_N_star * (1.0 - np.exp(-r_n / self.R_N_star))
        return n_eff, d_eff

    def loss(self, params, tokens, unique_tokens=None):
        """Loss (nats/token) of N parameters trained on D tokens drawn from U_D unique ones."""
        n_eff, d_eff = self.effective(params, tokens, unique_tokens)
        return self.E + self.A * n_eff ** (-self.alpha) + self.B * d_eff ** (-self.beta)

    @property
    def is_posynomial(self) -> bool:
        """Without a unique-token cap nothing repeats and the law is Chinchilla's."""
        return self.unique_tokens is None

    def posynomial(self, target_loss) -> PosyLoss:
        """The no-repetition (Chinchilla) form: the whole law when ``unique_tokens`` is None."""
        return PosyLoss(self.E, self.A, self.alpha, self.B, self.beta, target_loss)

    def iso_loss_curve(self, target_loss, extra=(), shape=()):
        """The loss constraint and its iso-loss curve D(N): with repeated data, the smallest
        D whose loss (repetition decay included) reaches the target; D' saturates at
        U·(1 + R_D*), so the search in log D stops far above it."""
        from planner.laws.curve import GeneralCurve, PosynomialCurve

        if extra:
            raise ValueError("the data-constrained law takes no additive loss terms")
        if self.unique_tokens is None:
            return PosynomialCurve(self.posynomial(target_loss), (), shape)
        v_max = math.log(self.unique_tokens) + math.log(1.0 + self.R_D_star) + 60.0
        return GeneralCurve(self.loss, float(target_loss), v_max)

    def plan_details(self, params, tokens) -> dict:
        """Epochs over the unique data and the effective N', D' of a plan (repeated data)."""
        if self.unique_tokens is None:
            return {}
        n_eff, d_eff = self.effective(params, tokens)
        return {"epochs": float(tokens) / self.unique_tokens,
                "unique_tokens": self.unique_tokens, "effective_tokens": float(d_eff),
                "effective_params": float(n_eff)}

    def compute_optimal(self, flops):
        """Compute-optimal (N, D) of the base (no-repetition) law."""
        return compute_optimal_allocation(self.A, self.alpha, self.B, self.beta, flops)

    def compute_optimal_tokens(self, params):
        return compute_optimal_tokens(self.A, self.alpha, self.B, self.beta, params)

    def with_constants(self, **changes) -> "DataConstrainedLaw":
        return replace(self, **changes)

    def with_unique_tokens(self, unique_tokens: float) -> "DataConstrainedLaw":
        return replace(self, unique_tokens=float(unique_tokens))

    def constants(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta,
                "R_D_star": self.R_D_star, "R_N_star": self.R_N_star}
