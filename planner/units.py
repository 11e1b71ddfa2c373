"""Parse and format quantities with SI-style suffixes: ``70B``, ``2T``, ``1.5e12``, ``2_000_000``.

Counts (parameters, tokens, requests) use K/M/B/T/P = 1e3/1e6/1e9/1e12/1e15 (``B`` is billion,
as in model cards).  Byte and bandwidth strings (``80GB``, ``3.35TB/s``) use decimal SI units.
"""

from __future__ import annotations

import math
import re

_COUNT_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}
_NUMBER = r"[+-]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_COUNT_RE = re.compile(rf"^\s*({_NUMBER})\s*([kKMBGTP]?)\s*$")


_UNIT_RE = re.compile(rf"^\s*({_NUMBER})\s*(ms|s|sec|seconds|days?|h|hours?|GB|GiB|TB|W|%)\s*$")


def quantity_hint(text: str) -> str:
    """A hint for a quantity that almost parses: a lower-case count suffix (``2t``), or a unit
    written after the number (``30ms``: the key's name already says the unit)."""
    m = re.match(rf"^\s*({_NUMBER})\s*([tbmp])\s*$", text)
    if m:
        return (f"; count suffixes are upper case (K, M, B, T, P): did you mean "
                f"'{m.group(1)}{m.group(2).upper()}'?")
    m = _UNIT_RE.match(text)
    if m:
        return (f"; give the number alone ({m.group(1)}): the key's name says its unit "
                "(e.g. max_time_per_output_token_ms, deadline_days)")
    return ""


def parse_quantity(value: object, *, what: str = "quantity") -> float:
    """Return a float from a number or a string such as ``'13B'``, ``'2T'``, ``'1.5e12'``.

    Raises ``ValueError`` with a readable message on anything else (bools, NaN, junk).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number for {what}, got a boolean")
    if isinstance(value, (int, float)):
        try:
            out = float(value)
        except OverflowError:  # a 400-digit integer
            raise ValueError(f"expected a number below 1e308 for {what}, got an integer of "
                             f"{len(str(abs(value)))} digits") from None
    elif isinstance(value, str):
        match = _COUNT_RE.match(value)
        if not match:
            raise ValueError(f"expected a number like 13B, 2T, 1.5e12 or 2_000_000 for {what}, "
                             f"got {value!r}{quantity_hint(value)}")
        if len(value) > 64:
            raise ValueError(f"expected a number like 13B, 2T or 1.5e12 for {what}, got "
                             f"{len(value)} characters")
        out = float(match.group(1).replace("_", "")) * _COUNT_SUFFIX[match.group(2)]
    else:
        raise ValueError(f"expected a number for {what}, got {type(value).__name__}")
    if not math.isfinite(out):
        raise ValueError(f"expected a finite number for {what}, got {value!r}")
    return out


def format_count(value: float, digits: int = 3) -> str:
    """``1.3e10 -> '13B'``: a count with the largest suffix that keeps it >= 1."""
    if value is None or not math.isfinite(value):
        return str(value)
    value = float(f"{value:.{digits}g}")  # round first: 999.99…B prints as 1T, not 1e+03B
    for suffix, scale in (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def format_sci(value: float, digits: int = 3) -> str:
    """``3.2e24``-style string for FLOPs and other huge numbers."""
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.{digits - 1}e}"


def format_usd(value: float) -> str:
    """``$1.23M`` style dollars."""
    if value is None or not math.isfinite(value):
        return str(value)
    for suffix, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"${value / scale:.3g}{suffix}"
    return f"${value:.3g}"


UNIT_LABELS = {"flops": "FLOPs", "usd": "USD", "gpu_hours": "GPU-hours", "energy_kwh": "kWh"}


def format_objective(value: float, unit: str) -> str:
    """An objective value with its unit: ``$1.2M``, ``3.2e+23 FLOPs``, ``166K GPU-hours``,
    ``2.33M kWh``."""
    if value is None or not math.isfinite(value):
        return "—"
    if unit == "usd":
        return format_usd(value)
    if unit == "flops":
        return f"{format_sci(value)} FLOPs"
    return f"{format_count(value)} {UNIT_LABELS.get(unit, unit)}"


def number_text(x) -> str:
    """``x`` for a description (``:g``); a sweep's stacked build (``planner.optimize.stacked``)
    may hold one value per point, written as their range."""
    import numpy as np

    if np.ndim(x) == 0:
        return f"{x:g}"
    return f"{np.min(x):g}…{np.max(x):g}"
