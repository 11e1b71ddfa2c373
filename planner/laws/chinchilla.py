"""Chinchilla-form loss law ``L(N, D) = E + A·N^-α + B·D^-β`` and its published presets.

Source of the form: Hoffmann et al. 2022, arXiv 2203.15556.  Constants stored exactly as their
sources print them (docs/laws.md).  N is parameters, D training tokens, L nats/token.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from planner.terms import (
    PosyLoss,
    allocation_constant,
    compute_optimal_allocation,
    compute_optimal_tokens,
)


@dataclass(frozen=True)
class LawInfo:
    """Metadata every law carries: where it comes from and where it was fitted."""

    source: str = "user-supplied"
    n_definition: str = "unspecified"
    loss_unit: str = "nats/token"
    eval_set: str = "unspecified"
    provenance: str = "user"  # P (primary), R (reproduced), S (secondary), user, fitted
    fitted_params: tuple[float, float] | None = None  # (min N, max N) of the fit's runs
    fitted_tokens: tuple[float, float] | None = None  # (min D, max D)
    fitted_tokens_per_param: tuple[float, float] | None = None  # (min D/N, max D/N)
    note: str = ""


@dataclass(frozen=True)
class ChinchillaLaw:
    """``L(N, D) = E + A·N^-α + B·D^-β`` (Hoffmann et al. 2022).  Loss in nats/token."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    name: str = "inline"
    info: LawInfo = field(default_factory=LawInfo)
    form: str = "chinchilla"
    is_posynomial: ClassVar[bool] = True  # the loss constraint is a posynomial (GP-solvable)
    repeats_data: ClassVar[bool] = False  # data.unique_tokens is a hard cap D ≤ U
    takes_quantization_penalty: ClassVar[bool] = True  # an additive loss penalty keeps the form
    constant_names: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta")
    # bootstrap constants, shape (k, 5): columns E, A, B, alpha, beta (planner fit)
    samples: Any = field(default=None, compare=False, hash=False, repr=False)

    @property
    def irreducible_loss(self) -> float:
        return self.E

    def loss(self, params, tokens):
        """Loss (nats/token) of a model with ``params`` parameters trained on ``tokens``.

        Each term is evaluated in log space, ``exp(log A − α·log N)``, so extreme constants
        (A tiny and N^-α huge) give the finite product, and nothing raises: a non-positive N or
        D gives inf or NaN, which the plan check refuses (planner.optimize.checks)."""
        n = np.asarray(params, dtype=float)
        d = np.asarray(tokens, dtype=float)
        with np.errstate(all="ignore"):
            return (self.E + np.exp(np.log(self.A) - self.alpha * np.log(n))
                    + np.exp(np.log(self.B) - self.beta * np.log(d)))

    def posynomial(self, target_loss) -> PosyLoss:
        """The loss constraint ``L(N, D) ≤ target_loss`` in posynomial form."""
        return PosyLoss(self.E, self.A, self.alpha, self.B, self.beta, target_loss)

    def iso_loss_curve(self, target_loss, extra=(), shape=()):
        """The loss constraint (plus ``extra`` loss terms) and its iso-loss curve D(N)."""
        from planner.laws.curve import PosynomialCurve

        return PosynomialCurve(self.posynomial(target_loss), tuple(extra), shape)

    def plan_details(self, params, tokens) -> dict:
        """Law-specific quantities a plan reports (none for this law)."""
        return {}

    @property
    def G(self) -> float:
        """``G = (αA/(βB))^(1/(α+β))`` of the compute-optimal allocation (Hoffmann et al. 2022, eq. 4)."""
        return allocation_constant(self.A, self.alpha, self.B, self.beta)

    def compute_optimal(self, flops):
        """Compute-optimal ``(N, D)`` for ``C = 6ND`` FLOPs, inference ignored (Hoffmann et al. 2022)."""
        return compute_optimal_allocation(self.A, self.alpha, self.B, self.beta, flops)

    def compute_optimal_tokens(self, params):
        """Tokens that make ``params`` compute-optimal: inverse of ``N_opt(C)``."""
        return compute_optimal_tokens(self.A, self.alpha, self.B, self.beta, params)

    def with_constants(self, **changes) -> "ChinchillaLaw":
        return replace(self, **changes)

    def constants(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta}


_HOFFMANN_RANGE = dict(fitted_params=(7.0e7, 1.6e10), fitted_tokens=(5.0e9, 5.0e11))
_GADRE = dict(
    n_definition="total parameters (open_lm params, embeddings and head included)",
    eval_set="C4 validation (GPT-NeoX tokenizer)",
    provenance="R",
    fitted_params=(1.1e7, 4.11e8),
    fitted_tokens_per_param=(5.0, 640.0),
    note="fitted on 11M-411M; extrapolation checked to 6.9B and 32x over-training",
)

PRESETS: dict[str, ChinchillaLaw] = {
    "hoffmann2022": ChinchillaLaw(
        E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, name="hoffmann2022",
        info=LawInfo(
            source="Hoffmann et al. 2022, arXiv 2203.15556, Approach 3 as printed",
            n_definition="total parameters", eval_set="MassiveText", provenance="P",
            **_HOFFMANN_RANGE,
        ),
    ),
    "epoch2024": ChinchillaLaw(
        E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658, name="epoch2024",
        info=LawInfo(
            source="Besiroglu et al. 2024, arXiv 2404.10102 (refit of Hoffmann's data)",
            n_definition="total parameters", eval_set="MassiveText", provenance="S",
            note="secondary transcription (two agree); SEs E 0.03, A 124.58, B 1293.23, "
            "alpha 0.02, beta 0.02",
            **_HOFFMANN_RANGE,
        ),
    ),
    "gadre2024-c4": ChinchillaLaw(
        E=1.5083, A=113.69, B=152.51, alpha=0.2425, beta=0.2425, name="gadre2024-c4",
        info=LawInfo(source="Gadre et al. 2024, arXiv 2403.08540, C4 (mlfoundations/scaling)",
                     **_GADRE),
    ),
    "gadre2024-rpj": ChinchillaLaw(
        E=1.8366, A=166.21, B=287.17, alpha=0.2729, beta=0.2729, name="gadre2024-rpj",
        info=LawInfo(source="Gadre et al. 2024, arXiv 2403.08540, RedPajama", **_GADRE),
    ),
    "gadre2024-rw": ChinchillaLaw(
        E=1.7345, A=125.10, B=196.03, alpha=0.2544, beta=0.2544, name="gadre2024-rw",
        info=LawInfo(source="Gadre et al. 2024, arXiv 2403.08540, RefinedWeb", **_GADRE),
    ),
}

DEFAULT_LAW = "epoch2024"
