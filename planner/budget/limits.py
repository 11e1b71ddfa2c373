"""Documented limits on every input, and the checks that enforce them before any arithmetic.

Each limit refuses an input with a one-line ``InputError`` (exit 2) naming the file (with
``line:col`` where there is one), the field and the limit, instead of a hang or a crash.  The
numbers are listed in ``docs/robustness.md``; change them there too.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from planner.errors import InputError

# ---- text and YAML structure ---------------------------------------------------------------
MAX_INPUT_BYTES = 16 * 2**20
"""Largest budget, profile or law file read (bytes); a law file with 100,000 bootstrap rows of
seven constants is ~15 MB."""
MAX_YAML_DEPTH = 32
"""Deepest nesting of mappings/sequences in a YAML file (a budget uses 4)."""
MAX_YAML_ALIAS_VALUES = 10_000
"""Most values YAML aliases (``*name``) may add by re-use (refuses "billion laughs" alias
bombs in a few milliseconds)."""
MAX_ABS_NUMBER = 1e32
"""Largest magnitude of any number in a budget or profile (a 400-digit integer is refused
before it reaches float arithmetic)."""

# ---- physical bounds of budget fields (stated in the schema and in the errors) -------------
MAX_COUNT = 1e30
"""Parameters, tokens, requests (counts); FLOPs limits may reach ``MAX_FLOPS``."""
MAX_FLOPS = 1e32
MAX_LOSS_NATS = 30.0
"""A target or irreducible loss above 30 nats/token is not a language model's loss."""
LAW_BOUNDS = {
    "E": (0.0, MAX_LOSS_NATS),
    "A": (1e-6, 1e9),
    "B": (1e-6, 1e9),
    "alpha": (0.05, 2.0),
    "beta": (0.05, 2.0),
    "alpha_N": (0.01, 2.0),
    "alpha_D": (0.01, 2.0),
    "N_c": (1.0, 1e20),
    "D_c": (1.0, 1e20),
    "R_D_star": (1e-3, 1e6),
    "R_N_star": (1e-3, 1e6),
}
"""Inclusive bounds of loss-law constants.  Published fits sit well inside them: Hoffmann et al.
2022 (arXiv 2203.15556) E 1.69, A 406.4, B 410.7, α 0.34, β 0.28; Kaplan et al. 2020 (arXiv
2001.08361) α_N 0.076, α_D 0.103, N_c 6.4e13, D_c 1.8e13; Muennighoff et al. 2023 (arXiv
2305.16264) R*_D 15.4, R*_N 5.3.  Exponents below 0.05 make ``G = (αA/βB)^(1/(α+β))``
overflow."""
KAPLAN_EXPONENT_RATIO = (0.1, 10.0)
"""Bounds of ``α_N/α_D`` (0.74 in Kaplan et al. 2020): ``N_c^(α_N/α_D)`` must stay finite."""

# ---- sizes of work a command may be asked to do --------------------------------------------
MAX_SWEEP_POINTS = 100_000
"""Most points in a ``planner sweep`` grid (the product of all ``--vary`` axes)."""
MAX_SWEEP_AXIS = 10_000
"""Most values on one ``--vary`` axis."""
MAX_SCENARIOS = 1_000
"""Most scenarios one ``planner compare`` call plans (each a whole budget)."""
MAX_FIT_STARTS = 10_000
"""Most grid initialisations ``planner fit --starts`` refines."""
MAX_BOOTSTRAP = 100_000
"""Most bootstrap resamples of ``planner fit --bootstrap`` (and ``uncertainty.samples``)."""
MAX_EXTENDS_DEPTH = 16
"""Longest ``extends:`` chain of hardware profiles."""
MAX_RUNS = 1_000_000
"""Most rows of a runs CSV."""
MAX_SEED = 2**32 - 1
"""Seeds are 0 … 2^32 − 1 (numpy's ``default_rng`` and the fit's folds)."""


def _finite(x: Any) -> bool:
    """A real number that floats can hold (a 400-digit integer is not; no OverflowError)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    if isinstance(x, int):
        return abs(x) <= MAX_ABS_NUMBER
    return math.isfinite(x)


def one_line(message: str) -> str:
    """``message`` with newlines and runs of whitespace collapsed to single spaces."""
    return " ".join(str(message).split())


def check_count(value: int, limit: int, option: str, what: str) -> int:
    """Refuse a command-line count above ``limit`` (exit 2) instead of running for hours."""
    if value > limit:
        raise InputError(f"{option} {value:,}: at most {limit:,} {what} (docs/robustness.md)")
    return value


def check_numbers(data: Any, marks: dict, where: str, path: tuple = ()) -> None:
    """Refuse any number in parsed YAML whose magnitude exceeds ``MAX_ABS_NUMBER`` (or is not
    finite where it is an integer too large for a float), naming ``file:line:col``."""
    if isinstance(data, dict):
        for k, v in data.items():
            check_numbers(v, marks, where, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            check_numbers(v, marks, where, path + (i,))
    elif isinstance(data, int) and not isinstance(data, bool):
        if abs(data) > MAX_ABS_NUMBER:
            digits = len(str(abs(data))) if abs(data) < 10**4000 else "thousands of"
            raise InputError(f"{_at(marks, where, path)}: {_field(path)}: number out of range "
                             f"({digits} digits; |value| ≤ {MAX_ABS_NUMBER:g})")
    elif isinstance(data, float) and math.isfinite(data) and abs(data) > MAX_ABS_NUMBER:
        raise InputError(f"{_at(marks, where, path)}: {_field(path)}: number out of range "
                         f"({data:g}; |value| ≤ {MAX_ABS_NUMBER:g})")


def _at(marks: dict, where: str, path: tuple) -> str:
    line, col = marks.get(path, (0, 0))
    return f"{where}:{line}:{col}" if line else where


def _field(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def check_law_constants(values: dict[str, float], where: str,
                        line_of: Optional[dict[str, str]] = None) -> None:
    """Refuse law constants outside ``LAW_BOUNDS`` (law files and fitted laws)."""
    for k, v in values.items():
        lo, hi = LAW_BOUNDS.get(k, (0.0, MAX_COUNT))
        if not (_finite(v) and lo <= v <= hi):
            at = (line_of or {}).get(k, where)
            shown = f"a {len(str(abs(v)))}-digit integer" if isinstance(v, int) and not \
                isinstance(v, bool) and abs(v) > MAX_ABS_NUMBER else repr(v)[:40]
            raise InputError(f"{at}: constants.{k}: {shown} is outside [{lo:g}, {hi:g}]")
    if "alpha_N" in values and "alpha_D" in values:
        ratio = values["alpha_N"] / values["alpha_D"]
        lo, hi = KAPLAN_EXPONENT_RATIO
        if not lo <= ratio <= hi:
            raise InputError(f"{where}: constants: alpha_N/alpha_D = {ratio:.3g} is outside "
                             f"[{lo:g}, {hi:g}]")


def check_law_file_data(data: Any, marks: dict, where: str) -> None:
    """Shape and bounds of a law file (``planner fit -o``) before any of it is used: the
    constants within ``LAW_BOUNDS`` (the ``bootstrap_samples`` rows, their count and
    ``bootstrap_columns``: checked by ``planner.laws.io``); fitted ranges pairs of positive
    numbers."""
    if not isinstance(data, dict):
        raise InputError(f"{where}:1:1: not a law file (a mapping with 'form' and 'constants'; "
                         "write one with planner fit -o)")

    def at(*path) -> str:
        return _at(marks, where, tuple(path))

    check_numbers({k: v for k, v in data.items() if k != "bootstrap_samples"}, marks, where)

    form = data.get("form")
    if form is not None and not isinstance(form, str):
        raise InputError(f"{at('form')}: form: expected a law form name (chinchilla, kaplan, "
                         "data-constrained)")
    consts = data.get("constants")
    if consts is not None and not isinstance(consts, dict):
        raise InputError(f"{at('constants')}: constants: expected a mapping of name: number")
    if isinstance(consts, dict):
        nums = {k: v for k, v in consts.items() if k in LAW_BOUNDS}
        check_law_constants(nums, where, {k: at("constants", k) for k in nums})
    for key in ("fitted_params", "fitted_tokens", "fitted_tokens_per_param"):
        v = data.get(key)
        if v in (None, []):
            continue
        if not (isinstance(v, list) and len(v) == 2 and all(
                _finite(x) and 0 < x <= MAX_FLOPS for x in v) and v[0] <= v[1]):
            raise InputError(f"{at(key)}: {key}: expected [low, high], two positive numbers")
    for key in ("name", "source"):
        v = data.get(key)
        if v is not None and not isinstance(v, (str, int, float)):
            raise InputError(f"{at(key)}: {key}: expected text")
    # bootstrap_samples: rows, count and checksum are checked by planner.laws.io itself


def check_runs(runs) -> None:
    """Bounds of a runs table (``planner.fit.runs.Runs``) before fitting: at most ``MAX_RUNS``
    rows; parameters and tokens in [1, ``MAX_COUNT``]; losses in (0, ``MAX_LOSS_NATS``] nats/
    token; weights finite and positive."""
    import numpy as np

    where = runs.source
    if len(runs) > MAX_RUNS:
        raise InputError(f"{where}: {len(runs):,} runs; at most {MAX_RUNS:,}")
    cols = [("params", runs.params, 1.0, MAX_COUNT), ("tokens", runs.tokens, 1.0, MAX_COUNT),
            ("loss", runs.loss, 0.0, MAX_LOSS_NATS), ("weight", runs.weights, 0.0, 1e9)]
    if runs.unique_tokens is not None:
        cols.append(("unique_tokens", runs.unique_tokens, 1.0, MAX_COUNT))
    for name, values, lo, hi in cols:
        v = np.asarray(values, dtype=float)
        bad = ~(np.isfinite(v) & (v > lo if lo == 0.0 else v >= lo) & (v <= hi))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{where}: run {runs.names[i]!r}: {name} = {v[i]:g} is outside "
                             f"{'(' if lo == 0.0 else '['}{lo:g}, {hi:g}]")


__all__ = [name for name in dir() if name.isupper() and not name.startswith("_")] + [
    "check_count", "check_law_constants", "check_law_file_data", "check_numbers", "check_runs",
    "one_line"]
