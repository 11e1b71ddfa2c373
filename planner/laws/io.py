"""Fitted-law files: what ``planner fit -o law.yaml`` writes and ``law: {file: ...}`` reads.

The file records the form, the constants, their standard errors and 95% intervals, the fitted
ranges, the fit's objective and source, and the bootstrap samples (one row of constants each).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import yaml

from planner.errors import InputError
from planner.laws import ChinchillaLaw, KaplanLaw, LawInfo
from planner.yaml_io import read_yaml_file

LAW_FILE_VERSION = 1
_NAMES = {"chinchilla": ("E", "A", "B", "alpha", "beta"),
          "kaplan": ("alpha_N", "alpha_D", "N_c", "D_c"),
          "data-constrained": ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")}


def save_law_file(fit, path: str | Path) -> None:
    """Write a ``FitResult`` as a law file (YAML, numbers as plain floats)."""
    info = fit.law.info
    doc = {
        "law_file_version": LAW_FILE_VERSION,
        "form": fit.form,
        "name": Path(path).stem,
        "constants": {k: float(v) for k, v in fit.constants.items()},
        "stderr": {k: float(v) for k, v in fit.stderr.items()},
        "ci95": {k: [float(a), float(b)] for k, (a, b) in fit.ci95.items()},
        "objective": float(fit.objective),
        "n_runs": int(fit.n_runs),
        "fitted_params": [float(x) for x in info.fitted_params or ()],
        "fitted_tokens": [float(x) for x in info.fitted_tokens or ()],
        "fitted_tokens_per_param": [float(x) for x in info.fitted_tokens_per_param or ()],
        "source": info.source,
        "runs_file": fit.source,
        "date": _dt.date.today().isoformat(),
        "holdout": None if fit.holdout is None else {
            k: v for k, v in fit.holdout.items() if k != "runs"},
        "bootstrap_columns": list(_NAMES[fit.form]),
        "bootstrap_samples": [] if fit.samples is None else [
            [float(x) for x in row] for row in fit.samples],
    }
    from planner.files import atomic_write

    atomic_write(path, yaml.safe_dump(doc, sort_keys=False, width=100), option="--output")


def load_law_file(path: str | Path):
    """A law from a law file; ``InputError`` naming the file and field otherwise."""
    p = Path(path)
    data, marks = read_yaml_file(p)
    from planner.budget.limits import check_law_file_data  # shapes and bounds first

    check_law_file_data(data, marks, str(p))
    if not isinstance(data, dict) or "constants" not in data or "form" not in data:
        raise InputError(f"{p}: not a law file (needs 'form' and 'constants'; write one with "
                         "planner fit -o)")
    form = data["form"]
    if form not in _NAMES:
        raise InputError(f"{p}: form: unknown law form {form!r}")
    consts = data["constants"]
    values = {}
    for k in _NAMES[form]:
        v = consts.get(k) if isinstance(consts, dict) else None
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or (
                k != "E" and v <= 0) or v < 0:
            line = marks.get(("constants", k), marks.get(("constants",), (0, 0)))[0]
            raise InputError(f"{p}:{line}: constants.{k}: expected a positive number, got {v!r}")
        values[k] = float(v)
    rng = lambda key: tuple(data[key]) if data.get(key) else None  # noqa: E731
    info = LawInfo(source=str(data.get("source", f"law file {p}")),
                   provenance="fitted", fitted_params=rng("fitted_params"),
                   fitted_tokens=rng("fitted_tokens"),
                   fitted_tokens_per_param=rng("fitted_tokens_per_param"),
                   note=f"law file {p}")
    name = str(data.get("name", p.stem))
    if form == "kaplan":
        return KaplanLaw(name=name, info=info, **values)
    if form == "data-constrained":
        from planner.laws import DataConstrainedLaw

        return DataConstrainedLaw(name=name, info=info, **values)
    samples = data.get("bootstrap_samples") or None
    if samples is not None:
        samples = np.asarray(samples, dtype=float)
        if samples.ndim != 2 or samples.shape[1] != 5 or not np.all(np.isfinite(samples)):
            raise InputError(f"{p}: bootstrap_samples: expected rows of 5 finite numbers "
                             "(E, A, B, alpha, beta)")
    return ChinchillaLaw(name=name, info=info, samples=samples, **values)
