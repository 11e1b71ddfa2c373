"""Downstream-error targets: average top-1 error as a function of loss, and its inverse.

Form (Gadre et al. 2024, "Language models scale reliably with over-training and on downstream
tasks", arXiv 2403.08540, Eq. 5)::

    Err(L) = ε − k·exp(−γ·L)        L = −ln((ε − Err)/k)/γ

L is the loss in nats/token on the eval set of the loss law the mapping is tied to; Err is the
average top-1 error (a fraction, 1 − accuracy).  Err rises with L (k, γ > 0), tends to ε (chance
level) as L grows, and at the law's irreducible loss E reaches its floor ``ε − k·exp(−γ·E)``:
errors at or below the floor, or at or above ε, are out of reach (InfeasibleError, exit 3).

Mappings are YAML files (``planner fit-downstream -o``); the presets are such files shipped in
``planner/laws/downstream_presets/``, fitted on the published runs of Gadre et al.
(github.com/mlfoundations/scaling, MIT licence).
"""

from __future__ import annotations

import datetime as _dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from planner.errors import InfeasibleError, InputError

MAPPING_FILE_VERSION = 1
FORM = "gadre2024-exponential"
CONSTANTS = ("epsilon", "k", "gamma")
PRESET_DIR = Path(__file__).with_name("downstream_presets")
PRESET_NAMES = tuple(f"gadre2024-{ds}-{n}tasks" for ds in ("c4", "rpj", "rw") for n in (17, 46))


@dataclass(frozen=True)
class DownstreamMapping:
    """``Err(L) = ε − k·exp(−γ·L)`` (Gadre et al. 2024, arXiv 2403.08540).  Loss in nats/token,
    error a fraction.  ``law`` names the loss law whose losses it reads (None: not recorded)."""

    epsilon: float
    k: float
    gamma: float
    name: str = "mapping"
    law: Optional[str] = None
    source: str = "user-supplied"
    fitted_loss: Optional[tuple[float, float]] = None  # (min, max) loss of the fitted pairs
    fitted_error: Optional[tuple[float, float]] = None  # (min, max) error of the fitted pairs
    n_pairs: Optional[int] = None
    note: str = ""
    # bootstrap constants, shape (k, 3): columns epsilon, k, gamma
    samples: Any = field(default=None, compare=False, hash=False, repr=False)

    def error(self, loss):
        """Average top-1 error (fraction) at ``loss`` (nats/token)."""
        return self.epsilon - self.k * np.exp(-self.gamma * np.asarray(loss, dtype=float))

    def loss(self, error):
        """Inverse: the loss (nats/token) whose predicted error is ``error``; NaN out of reach
        (error ≥ ε)."""
        e = np.asarray(error, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return -np.log((self.epsilon - e) / self.k) / self.gamma

    def floor(self, irreducible_loss: float) -> float:
        """Lowest reachable error: ``ε − k·exp(−γ·E)`` at the law's irreducible loss E."""
        return float(self.error(irreducible_loss))

    def constants(self) -> dict[str, float]:
        return {"epsilon": self.epsilon, "k": self.k, "gamma": self.gamma}


def loss_for_error(mapping: DownstreamMapping, error: float, irreducible_loss: float,
                   law_name: str = "the law", where: str = "target.downstream") -> float:
    """The target loss (nats/token) for a target ``error`` under ``mapping``.

    Raises ``InfeasibleError`` (exit 3) naming both numbers when the error is at or below the
    mapping's floor at the law's irreducible loss, or at or above its ceiling ε."""
    floor = mapping.floor(irreducible_loss)
    if error >= mapping.epsilon:
        raise InfeasibleError(
            f"{where}: target error {error:.4g} is at or above the ceiling ε = "
            f"{mapping.epsilon:.4g} of mapping {mapping.name} (chance level): any model reaches "
            "it; give a lower error")
    if error <= floor:
        raise InfeasibleError(
            f"{where}: target error {error:.4g} is at or below the floor {floor:.4g} of mapping "
            f"{mapping.name} (ε − k·exp(−γ·E) at the irreducible loss E = "
            f"{irreducible_loss:.4g} of {law_name}): no model size reaches it")
    return float(mapping.loss(error))


def check_law(mapping: DownstreamMapping, law_name: str, where: str) -> list[str]:
    """Losses on different eval sets or tokenizers are not comparable: a mapping tied to
    another law is an ``InputError``; a mapping tied to none gives a warning (returned)."""
    if mapping.law is None:
        return [f"target: mapping {mapping.name} does not record which loss law its losses "
                f"come from; the plan assumes they are on the eval set of law {law_name}"]
    if mapping.law != law_name:
        raise InputError(
            f"{where}: mapping {mapping.name} reads losses of law {mapping.law}, but the budget's "
            f"law is {law_name}: losses on different data and tokenizers are not comparable; "
            f"use law: {mapping.law} or fit a mapping for your law (planner fit-downstream "
            "--law NAME)")
    return []


def extrapolation_notes(mapping: DownstreamMapping, error: float, loss: float) -> list[str]:
    """Warnings when the target error or its loss lies outside the mapping's fitted range."""
    out = []
    r = mapping.fitted_error
    if r and not (r[0] <= error <= r[1]):
        out.append(f"target: error {error:.4g} is outside the fitted error range "
                   f"{r[0]:.4g}-{r[1]:.4g} of mapping {mapping.name}: the mapping extrapolates")
    r = mapping.fitted_loss
    if r and not (r[0] <= loss <= r[1]):
        out.append(f"target: loss {loss:.4g} (for error {error:.4g}) is outside the fitted loss "
                   f"range {r[0]:.4g}-{r[1]:.4g} of mapping {mapping.name}: the mapping "
                   "extrapolates")
    return out


def target_loss_samples(mapping: DownstreamMapping, error: float, n: int, seed: int,
                        irreducible_loss: Optional[np.ndarray] = None) -> np.ndarray:
    """``n`` target losses (nats/token): the inverse of ``n`` bootstrap samples of the mapping
    (drawn without replacement when there are more, with replacement when fewer) at ``error``.

    NaN where a sample cannot reach ``error`` (error ≥ its ε, or, given ``irreducible_loss``
    per sample, a loss at or below it).  ``InputError`` when the mapping has no samples."""
    s = _samples(mapping)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(s), n, replace=len(s) < n)
    eps, k, gamma = s[idx].T
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = -np.log((eps - error) / k) / gamma
    bad = ~np.isfinite(loss)
    if irreducible_loss is not None:
        bad |= loss <= np.asarray(irreducible_loss, dtype=float)
    return np.where(bad, np.nan, loss)


def _samples(mapping: DownstreamMapping) -> np.ndarray:
    if mapping.samples is None or not len(mapping.samples):
        raise InputError(f"mapping {mapping.name} has no bootstrap samples: fit it with "
                         "planner fit-downstream --bootstrap N")
    return np.asarray(mapping.samples, dtype=float)


# ---- files ----------------------------------------------------------------------------------
def mapping_document(mapping: DownstreamMapping, extra: Optional[dict] = None) -> dict:
    """The YAML document of a mapping file (numbers as plain floats)."""
    rng = lambda r: [float(x) for x in r] if r else None  # noqa: E731
    doc = {
        "downstream_mapping_version": MAPPING_FILE_VERSION,
        "form": FORM,
        "formula": "error = epsilon - k*exp(-gamma*loss)  (Gadre et al. 2024, arXiv 2403.08540)",
        "name": mapping.name,
        "law": mapping.law,
        "constants": {k: float(v) for k, v in mapping.constants().items()},
        "fitted_loss": rng(mapping.fitted_loss),
        "fitted_error": rng(mapping.fitted_error),
        "n_pairs": mapping.n_pairs,
        "source": mapping.source,
        "note": mapping.note,
        "date": _dt.date.today().isoformat(),
    }
    doc.update(extra or {})
    doc["bootstrap_columns"] = list(CONSTANTS)
    doc["bootstrap_samples"] = [] if mapping.samples is None else [
        [float(x) for x in row] for row in mapping.samples]
    return doc


def save_mapping_file(mapping: DownstreamMapping, path, inputs=(), extra: Optional[dict] = None):
    """Write a mapping file atomically (refuses ``path`` among ``inputs``)."""
    import yaml

    from planner.files import atomic_write

    text = yaml.safe_dump(mapping_document(mapping, extra), sort_keys=False, width=100)
    return atomic_write(path, text, inputs=inputs)


def load_mapping_file(path, trusted: bool = False) -> DownstreamMapping:
    """A mapping from a file; ``InputError`` naming ``file:line:col`` and the field otherwise.

    ``trusted`` (the shipped presets, written by ``yaml.safe_dump``) parses with PyYAML's C
    loader, ~20× faster than the strict line-marking loader; any problem falls back to the
    strict loader for the message."""
    p = Path(path)
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        raise InputError(f"{p}: no such file") from None
    if trusted:
        try:
            return _load(str(p), stamp, True)
        except InputError:
            pass
    return _load(str(p), stamp, False)


@functools.lru_cache(maxsize=32)
def _load(path: str, _stamp: int, fast: bool) -> DownstreamMapping:
    if fast:
        import yaml

        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"{path}: {exc}") from None
        marks: dict = {}
    else:
        from planner.yaml_io import read_yaml_file

        data, marks = read_yaml_file(path)

    def at(*key) -> str:
        line, col = marks.get(key, (0, 0))
        return f"{path}:{line}:{col}" if line else path

    if not isinstance(data, dict) or "constants" not in data:
        raise InputError(f"{path}: not a downstream mapping file (needs 'constants' with "
                         "epsilon, k, gamma; write one with planner fit-downstream -o)")
    form = data.get("form", FORM)
    if form != FORM:
        raise InputError(f"{at('form')}: form: unknown mapping form {form!r} (expected {FORM})")
    consts = data["constants"]
    if not isinstance(consts, dict):
        raise InputError(f"{at('constants')}: constants: expected epsilon, k, gamma")
    values = {}
    for key in CONSTANTS:
        v = consts.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v <= 0:
            where = at("constants", key) if key in consts else at("constants")
            got = "missing" if key not in consts else f"got {v!r}"
            raise InputError(f"{where}: constants.{key}: expected a positive number, {got}")
        values[key] = float(v)
    ranges = {}
    for key in ("fitted_loss", "fitted_error"):
        r = data.get(key)
        if r is None:
            ranges[key] = None
            continue
        if (not isinstance(r, list) or len(r) != 2 or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in r)
                or r[0] > r[1]):
            raise InputError(f"{at(key)}: {key}: expected [min, max], got {r!r}")
        ranges[key] = (float(r[0]), float(r[1]))
    law = data.get("law")
    if law is not None and not isinstance(law, str):
        raise InputError(f"{at('law')}: law: expected a law name, got {law!r}")
    samples = data.get("bootstrap_samples") or None
    if samples is not None:
        try:
            samples = np.asarray(samples, dtype=float)
        except (TypeError, ValueError):
            samples = np.full((1, 1), np.nan)
        if samples.ndim != 2 or samples.shape[1] != 3 or not np.all(np.isfinite(samples)) \
                or np.any(samples <= 0):
            raise InputError(f"{at('bootstrap_samples')}: bootstrap_samples: expected rows of "
                             "3 positive numbers (epsilon, k, gamma)")
    n_pairs = data.get("n_pairs")
    return DownstreamMapping(
        name=str(data.get("name") or Path(path).stem), law=law,
        source=str(data.get("source") or f"mapping file {path}"),
        fitted_loss=ranges["fitted_loss"], fitted_error=ranges["fitted_error"],
        n_pairs=int(n_pairs) if isinstance(n_pairs, int) else None,
        note=str(data.get("note") or ""), samples=samples, **values)


# ---- presets --------------------------------------------------------------------------------
def get_mapping_preset(name: str) -> DownstreamMapping:
    """A shipped mapping preset by name; ``InputError`` with a did-you-mean hint otherwise."""
    if name not in PRESET_NAMES:
        import difflib

        close = difflib.get_close_matches(name, PRESET_NAMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(f"unknown downstream mapping preset {name!r}{hint}; known: "
                         f"{', '.join(PRESET_NAMES)}")
    return load_mapping_file(PRESET_DIR / f"{name}.yaml", trusted=True)


def resolve_mapping(spec, base_dir: Path, where: str) -> DownstreamMapping:
    """The mapping a budget names: a preset name, or ``{file: PATH}`` relative to the budget."""
    try:
        if isinstance(spec, str):
            return get_mapping_preset(spec)
        return load_mapping_file(Path(base_dir) / spec.file)
    except InputError as exc:
        raise InputError(f"{where}: target.downstream.mapping: {exc}") from None


# ---- budget hooks ---------------------------------------------------------------------------
def budget_target_loss(budget, law) -> float:
    """The loss target of ``target: {downstream: {error, mapping}}`` under ``law``."""
    t = budget.target.downstream
    mapping = resolve_mapping(t.mapping, budget.base_dir,
                              budget.where("target", "downstream", "mapping"))
    check_law(mapping, law.name, budget.where("target", "downstream", "mapping"))
    return loss_for_error(mapping, t.error, law.irreducible_loss, law.name,
                          budget.where("target", "downstream", "error"))


def downstream_notes(problem) -> list[str]:
    """Warnings of a downstream target (unrecorded law, extrapolation); [] for other targets."""
    budget = problem.budget
    t = getattr(budget.target, "downstream", None)
    if t is None:
        return []
    where = budget.where("target", "downstream", "mapping")
    mapping = resolve_mapping(t.mapping, budget.base_dir, where)
    return (check_law(mapping, problem.law.name, where)
            + extrapolation_notes(mapping, t.error, problem.target_loss))


def uncertainty_samples(problem, n: int, seed: int, law_samples) -> tuple[np.ndarray,
                                                                           np.ndarray, str]:
    """Constants (k, 5) and target losses (k,) for plan uncertainty.

    The law's samples come from ``law_samples(law, n, seed)``; a downstream target whose mapping
    has bootstrap samples adds one mapping sample per law sample, drawn independently (seed + 1),
    so each row re-plans under a different law *and* a different target loss.  A law without
    uncertainty information then contributes its point constants.  NaN target losses mark
    samples whose mapping cannot reach the target error."""
    budget = problem.budget
    t = getattr(budget.target, "downstream", None)
    mapping = None
    if t is not None:
        mapping = resolve_mapping(t.mapping, budget.base_dir,
                                  budget.where("target", "downstream", "mapping"))
        if mapping.samples is None or not len(mapping.samples):
            mapping = None
    if mapping is None:
        consts, source = law_samples(problem.law, n, seed)
        return consts, np.full(len(consts), float(problem.target_loss)), source
    law = problem.law
    try:
        consts, source = law_samples(law, n, seed)
        source = f"{source} × downstream mapping bootstrap"
    except InputError:
        if law.form != "chinchilla":
            raise
        consts = np.tile([law.E, law.A, law.B, law.alpha, law.beta], (n, 1)).astype(float)
        source = "downstream mapping bootstrap (law at its point constants)"
    losses = target_loss_samples(mapping, t.error, len(consts), seed + 1, consts[:, 0])
    return consts, losses, source
