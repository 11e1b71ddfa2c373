"""Fit a downstream mapping ``Err(L) = ε − k·exp(−γ·L)`` (Gadre et al. 2024, arXiv 2403.08540)
to a team's (loss, error) pairs, with bootstrap uncertainty.

Objective: robust least squares on the error (scipy ``least_squares``, ``soft_l1`` loss with
scale ``f_scale`` = 0.01, i.e. one point of error; residuals beyond it count ~linearly, so a
noisy near-chance eval does not drag the fit).  Starts: for each of 32 γ on a geometric grid
(0.02 – 10 per nat) ε and k are the ordinary least-squares solution, which is linear given γ;
the best ``starts`` (default 4) are refined and the lowest objective kept.  Bootstrap: resample
pairs with replacement and refit (warm start from the point estimate plus the two best grid
starts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from planner.errors import InputError
from planner.laws.downstream import CONSTANTS, DownstreamMapping

ROLES = ("loss", "error", "name")
F_SCALE = 0.01  # error units (fraction): one point of top-1 error


@dataclass(frozen=True)
class Pairs:
    """(loss, error) pairs: loss in nats/token, error a fraction (average top-1 error)."""

    loss: np.ndarray
    error: np.ndarray
    names: tuple[str, ...]
    source: str = "<arrays>"

    def __len__(self) -> int:
        return len(self.loss)


def read_pairs(path, columns: Optional[str] = None, where: Optional[str] = None) -> Pairs:
    """Read pairs from a CSV with columns ``loss,error`` (``--columns loss=COL,error=COL,
    name=COL`` maps others; ``where='COL=VALUE'`` keeps only matching rows).  ``InputError``
    naming ``file:line`` and the column on a bad value."""
    p = Path(path)
    mapping = {r: r for r in ROLES}
    for part in (columns or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InputError(f"--columns: expected ROLE=COLUMN pairs, got {part!r}")
        role, col = (x.strip() for x in part.split("=", 1))
        if role not in ROLES:
            raise InputError(f"--columns: unknown role {role!r}; roles: {', '.join(ROLES)}")
        mapping[role] = col
    key = value = None
    if where:
        if "=" not in where:
            raise InputError(f"--where: expected COLUMN=VALUE, got {where!r}")
        key, value = (x.strip() for x in where.split("=", 1))
    from planner.fit.runs import read_csv_rows

    header, rows = read_csv_rows(p)
    for role in ("loss", "error"):
        if mapping[role] not in header:
            raise InputError(f"{p}:1: missing column {mapping[role]!r} for {role} (columns: "
                             f"{', '.join(header) or 'none'}; map with --columns {role}=NAME)")
    if key is not None and key not in header:
        raise InputError(f"{p}:1: --where column {key!r} not found")
    loss, error, names = [], [], []
    for i, row in enumerate(rows):
        line = i + 2
        if key is not None and (row.get(key) or "").strip() != value:
            continue
        vals = []
        for role in ("loss", "error"):
            col = mapping[role]
            raw = (row.get(col) or "").strip()
            try:
                v = float(raw)
            except ValueError:
                raise InputError(f"{p}:{line}: column {col!r}: not a number: {raw!r}") from None
            if not np.isfinite(v) or v <= 0 or (role == "error" and v >= 1):
                what = "a fraction in (0, 1)" if role == "error" else "> 0 (nats/token)"
                raise InputError(f"{p}:{line}: column {col!r}: must be {what}, got {raw}")
            vals.append(v)
        loss.append(vals[0])
        error.append(vals[1])
        names.append(row.get(mapping["name"]) or f"row{line}")
    if len(loss) < 4:
        raise InputError(f"{p}: {len(loss)} pairs; fitting three constants needs at least 4")
    return Pairs(np.array(loss), np.array(error), tuple(names), str(p))


def _residual(p, loss, error):
    return p[0] - p[1] * np.exp(-p[2] * loss) - error


GRID_GAMMAS = np.geomspace(0.02, 10.0, 32)  # per nat


def _grid_starts(loss, error) -> list[np.ndarray]:
    """(ε, k, γ) starts: per γ of ``GRID_GAMMAS``, ε and k by linear least squares; sorted by
    their squared error."""
    out = []
    for g in GRID_GAMMAS:
        x = np.column_stack([np.ones_like(loss), -np.exp(-g * loss)])
        (eps, k), *_ = np.linalg.lstsq(x, error, rcond=None)
        if not (eps > 0 and k > 0 and np.isfinite(k)):
            continue
        p = np.array([eps, k, g])
        out.append((float(np.sum(_residual(p, loss, error) ** 2)), p))
    out.sort(key=lambda t: t[0])
    return [p for _, p in out]


def _refine(starts, loss, error, f_scale):
    from scipy.optimize import least_squares

    best = None
    for p0 in starts:
        r = least_squares(_residual, p0, args=(loss, error), bounds=([1e-9] * 3, [np.inf] * 3),
                          loss="soft_l1", f_scale=f_scale, x_scale="jac", xtol=1e-12,
                          ftol=1e-12, gtol=1e-12, max_nfev=2000)
        if best is None or r.cost < best.cost:
            best = r
    return best


def fit_constants(loss, error, starts: int = 4, f_scale: float = F_SCALE,
                  warm: Optional[np.ndarray] = None) -> tuple[np.ndarray, float]:
    """``(ε, k, γ)`` and the robust objective (scipy's cost) for arrays of loss and error:
    the ``starts`` best grid starts (and ``warm``) refined, the lowest objective kept."""
    loss = np.asarray(loss, dtype=float)
    error = np.asarray(error, dtype=float)
    grid = _grid_starts(loss, error)[:max(starts, 1)]
    cand = ([warm] if warm is not None else []) + grid
    if not cand:
        cand = [np.array([float(error.max()) + 0.01, 1.0, 1.0])]
    r = _refine(cand, loss, error, f_scale)
    return r.x.copy(), float(r.cost)


@dataclass(frozen=True)
class MappingFit:
    """A fitted mapping with its bootstrap (samples (B, 3): ε, k, γ) and residuals."""

    mapping: DownstreamMapping
    objective: float
    residuals: np.ndarray  # predicted − observed error
    stderr: dict[str, float]
    ci95: dict[str, tuple[float, float]]
    source: str = "<arrays>"

    @property
    def constants(self) -> dict[str, float]:
        return self.mapping.constants()

    def to_dict(self) -> dict:
        m = self.mapping
        r = self.residuals
        return {
            "form": "error = epsilon - k*exp(-gamma*loss)",
            "source": "Gadre et al. 2024, arXiv 2403.08540 (form)",
            "pairs_file": self.source,
            "name": m.name,
            "law": m.law,
            "constants": self.constants,
            "stderr": self.stderr,
            "ci95": {k: list(v) for k, v in self.ci95.items()},
            "objective": self.objective,
            "n_pairs": m.n_pairs,
            "fitted_loss": list(m.fitted_loss),
            "fitted_error": list(m.fitted_error),
            "residuals": {"rms_error": float(np.sqrt(np.mean(r ** 2))),
                          "mean_abs_error": float(np.mean(np.abs(r))),
                          "max_abs_error": float(np.max(np.abs(r)))},
            "n_bootstrap": 0 if m.samples is None else int(len(m.samples)),
        }


def fit_mapping(pairs: Pairs, starts: int = 4, bootstrap: int = 0, seed: int = 0,
                f_scale: float = F_SCALE, name: str = "fitted", law: Optional[str] = None,
                source: Optional[str] = None,
                progress: Optional[Callable[[int, int], None]] = None) -> MappingFit:
    """Fit ``Err(L) = ε − k·exp(−γ·L)`` to ``pairs``; ``bootstrap`` resamples of the pairs give
    standard errors, percentile 95% intervals and the samples stored in the mapping."""
    loss, error = pairs.loss, pairs.error
    p, cost = fit_constants(loss, error, starts, f_scale)
    samples = None
    stderr: dict[str, float] = {}
    ci95: dict[str, tuple[float, float]] = {}
    if bootstrap:
        rng = np.random.default_rng(seed)
        rows = []
        for b in range(bootstrap):
            idx = rng.integers(0, len(loss), len(loss))
            if len(np.unique(loss[idx])) >= 3:
                q, _ = fit_constants(loss[idx], error[idx], 2, f_scale, warm=p)
                rows.append(q)
            if progress is not None:
                progress(b + 1, bootstrap)
        from planner.fit.law_fit import bootstrap_summary

        samples = np.array(rows)
        stderr, ci95 = bootstrap_summary(samples, CONSTANTS)
    mapping = DownstreamMapping(
        epsilon=float(p[0]), k=float(p[1]), gamma=float(p[2]), name=name, law=law,
        source=source or f"fitted by planner fit-downstream on {pairs.source}",
        fitted_loss=(float(loss.min()), float(loss.max())),
        fitted_error=(float(error.min()), float(error.max())), n_pairs=int(len(loss)),
        samples=samples)
    resid = mapping.error(loss) - error
    return MappingFit(mapping, cost, resid, stderr, ci95, pairs.source)
