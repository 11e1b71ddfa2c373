"""Speculative decoding formulas (Leviathan et al. 2023, arXiv 2211.17192).

α: per-token acceptance rate; γ: draft tokens per target pass; c: draft step time / target
step time; ĉ: draft / target FLOPs per token.
"""

from __future__ import annotations

from planner.terms import uniform


def expected_tokens(alpha: float, gamma: int) -> float:
    """Expected tokens per target forward pass: ``E(α, γ) = (1 − α^(γ+1)) / (1 − α)``."""
    if uniform(gamma <= 0):  # γ = 0 for every entry of a batch, or for none
        return 1.0
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def speedup(alpha: float, gamma: int, c: float) -> float:
    """Wall-time speed-up ``(1 − α^(γ+1)) / ((1 − α)(γ·c + 1))``; some γ helps iff α > c."""
    return expected_tokens(alpha, gamma) / (gamma * c + 1.0)


def arithmetic_factor(alpha: float, gamma: int, c_hat: float) -> float:
    """FLOPs per generated token, relative to plain decoding:
    ``(1 − α)(γ·ĉ + γ + 1) / (1 − α^(γ+1))``."""
    if gamma <= 0:
        return 1.0
    return (gamma * c_hat + gamma + 1.0) / expected_tokens(alpha, gamma)


def best_gamma(alpha: float, c: float, max_gamma: int = 16) -> int:
    """The integer γ in [0, max_gamma] with the largest speed-up (0: do not speculate)."""
    return max(range(max_gamma + 1), key=lambda g: (speedup(alpha, g, c), -g))
