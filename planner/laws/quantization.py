"""Loss penalty of serving a model with weights quantised to P bits (docs/laws.md).

``L_q = L_16(N, D) + ΔL(N, D, P)``.  Both laws grow with D: an over-trained model loses more
when quantised.  They disagree by ~3× (7B, 2T tokens, 4 bits: Ouyang ≈ 0.14, Kumar ≈ 0.05 nats).
Both are monomials in (N, D) at fixed P, so the planner adds them to the loss posynomial.
Fitted ranges end at 12B parameters and 2-4 bits (Ouyang): plans outside are flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.terms import Term, uniform


@dataclass(frozen=True)
class PenaltyLaw:
    """``ΔL = k·D^d_exp·N^n_exp·f(P)`` with ``f`` the law's dependence on bits."""

    name: str
    k: float
    n_exp: float  # exponent on N (negative)
    d_exp: float  # exponent on D (positive)
    source: str
    fitted_params: tuple[float, float]
    fitted_bits: tuple[float, float]

    def bits_factor(self, bits: float) -> float:
        raise NotImplementedError

    def term(self, bits: float) -> Term:
        """The penalty at ``bits`` as a loss term (zero at 16 bits: unquantised)."""
        coef = 0.0 if uniform(bits >= 16) else self.k * self.bits_factor(bits)
        return Term(coef, self.n_exp, self.d_exp)

    def penalty(self, params, tokens, bits: float):
        """ΔL in nats/token."""
        return self.term(bits).value(params, tokens)

    def extrapolating(self, params: float, bits: float) -> bool:
        if bits >= 16:
            return False
        return not (self.fitted_params[0] <= params <= self.fitted_params[1]
                    and self.fitted_bits[0] <= bits <= self.fitted_bits[1])


@dataclass(frozen=True)
class OuyangPenalty(PenaltyLaw):
    """Ouyang et al. 2024 (arXiv 2411.17691), GPTQ on Pythia: ``ΔL = k·D^β/(N^α·P^γ)``,
    k = 0.017, β = 0.5251, α = 0.2261, γ = 5.4967 (non-embedding N) [S]."""

    gamma: float = 5.4967

    def bits_factor(self, bits: float) -> float:
        return bits ** (-self.gamma)


@dataclass(frozen=True)
class KumarPenalty(PenaltyLaw):
    """Kumar et al. 2024 (arXiv 2411.04330): ``δ = C_T·D^γ_D/N^γ_N·exp(−P/γ_post)``,
    C_T = 0.0598, γ_D = 0.5068, γ_N = 0.3439, γ_post = 0.5907 [S]."""

    gamma_post: float = 0.5907

    def bits_factor(self, bits: float) -> float:
        if np.ndim(bits):  # a batch of widths (planner.optimize.build.CandidateBuilder.batch)
            return np.exp(-np.asarray(bits) / self.gamma_post)
        return math.exp(-bits / self.gamma_post)


PENALTIES: dict[str, PenaltyLaw] = {
    "ouyang2024": OuyangPenalty(
        name="ouyang2024", k=0.017, n_exp=-0.2261, d_exp=0.5251,
        source="Ouyang et al. 2024, arXiv 2411.17691 (GPTQ, Pythia 160M-12B, 2-4 bits)",
        fitted_params=(1.6e8, 1.2e10), fitted_bits=(2, 4),
    ),
    "kumar2024": KumarPenalty(
        name="kumar2024", k=0.0598, n_exp=-0.3439, d_exp=0.5068,
        source="Kumar et al. 2024, arXiv 2411.04330 (post-training quantisation)",
        fitted_params=(3.0e7, 1.7e9), fitted_bits=(3, 8),
    ),
}
