"""Fit loss laws to training runs, with bootstrap uncertainty and held-out validation.

Chinchilla form, the way the replication literature fits it (Hoffmann et al. 2022, Approach 3;
Besiroglu et al. 2024, arXiv 2404.10102): ``L = exp(LSE(a − α·log N, b − β·log D, e))`` with
A = e^a, B = e^b, E = e^e; minimise the summed Huber loss (δ = 1e-3) of
``log L_pred − log L_obs`` with L-BFGS-B (analytic gradient, objective scaled ×1e6 as in
Epoch's replication code) from the best starts of Epoch's 4,500-point grid (α, β ∈ {0, 0.5, …,
2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25}); keep the best.  Bootstrap refits are solved
all at once by a damped Newton method on the same objective, warm-started from the point
estimate (``planner.fit.batch``); a sample it does not converge is refitted with L-BFGS-B
(``solver="lbfgs"`` refits every sample that way: the reference the fast path is tested
against).  The Kaplan form is fitted the same way on ``log L = α_D·log((N_c/N)^(α_N/α_D) + D_c/D)``.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from planner.errors import InputError
from planner.fit.runs import Runs
from planner.laws import ChinchillaLaw, KaplanLaw, LawInfo

HUBER_DELTA = 1e-3
SCALE = 1e6  # L-BFGS-B stops early on objectives ≪ 1 (its ftol is relative to max(|f|, 1))
CHINCHILLA_NAMES = ("E", "A", "B", "alpha", "beta")
KAPLAN_NAMES = ("alpha_N", "alpha_D", "N_c", "D_c")
DC_NAMES = ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")
NAMES = {"chinchilla": CHINCHILLA_NAMES, "kaplan": KAPLAN_NAMES, "data-constrained": DC_NAMES}


SOLVERS = ("newton", "lbfgs")


@contextmanager
def single_threaded_blas():
    """Limit every BLAS/OpenMP pool to one thread for the fit's tiny linear algebra.

    ``threadpool_limits`` only reaches libraries already loaded when it is entered, so scipy's
    own OpenBLAS (``scipy.optimize``) is imported first: entered before that import, the limit
    missed it and each small L-BFGS-B BLAS call spun every core (issue 12).
    """
    import numpy.linalg  # noqa: F401  (numpy's BLAS)
    import scipy.linalg  # noqa: F401  (scipy's BLAS/LAPACK, used by L-BFGS-B)
    import scipy.optimize  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def epoch_grid() -> np.ndarray:
    """Epoch's 4,500 initialisations as rows (a, b, e, α, β)."""
    ab = np.arange(0, 26, 5.0)
    e = np.arange(-1, 1.01, 0.5)
    ex = np.arange(0, 2.01, 0.5)
    return np.array(list(itertools.product(ab, ab, e, ex, ex)), dtype=float)


def _huber(r: np.ndarray, delta: float):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)), np.clip(r, -delta, delta)


def chinchilla_objective(theta, log_n, log_d, log_l, w, delta=HUBER_DELTA):
    """Summed Huber loss of log residuals and its gradient in θ = (a, b, e, α, β)."""
    # the arithmetic of the first version, minus numpy's per-call wrappers (it runs ~10,000
    # times per 64-start fit): same operations in the same order, bit-identical results
    a, b, e, alpha, beta = theta
    t1, t2 = a - alpha * log_n, b - beta * log_d
    m = np.maximum(np.maximum(t1, t2), e)
    x1, x2, x3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
    s = x1 + x2 + x3
    r = m + np.log(s) - log_l
    ar = np.abs(r)
    h = np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))
    g = w * np.minimum(np.maximum(r, -delta), delta) / s
    gx1, gx2 = g * x1, g * x2
    grad = np.array([gx1.sum(), gx2.sum(), (g * x3).sum(), -(gx1 * log_n).sum(),
                     -(gx2 * log_d).sum()])
    return float((w * h).sum()), grad


def grid_objectives(grid, log_n, log_d, log_l, w, delta=HUBER_DELTA) -> np.ndarray:
    """The objective at every grid row at once (vectorised over starts)."""
    a, b, e, alpha, beta = (grid[:, i:i + 1] for i in range(5))
    t1, t2 = a - alpha * log_n, b - beta * log_d
    t3 = np.broadcast_to(e, t1.shape)
    m = np.maximum(np.maximum(t1, t2), t3)
    r = m + np.log(np.exp(t1 - m) + np.exp(t2 - m) + np.exp(t3 - m)) - log_l
    return np.sum(w * _huber(r, delta)[0], axis=1)


def _lbfgs(fun, x0):
    from scipy.optimize import minimize

    res = minimize(lambda t: tuple(v * SCALE for v in fun(t)), x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
    return res.x, res.fun / SCALE


def _fit_chinchilla_theta(runs: Runs, starts: int, grid: np.ndarray, extra_starts=(),
                          delta=HUBER_DELTA):
    log_n, log_d, log_l, w = np.log(runs.params), np.log(runs.tokens), np.log(runs.loss), \
        runs.weights
    order = []
    if starts > 0:  # a warm-started refit (bootstrap) skips the 4,500-point grid
        order = np.argsort(grid_objectives(grid, log_n, log_d, log_l, w, delta))[:starts]
    best_x, best_f = None, np.inf
    fun = lambda t: chinchilla_objective(t, log_n, log_d, log_l, w, delta)  # noqa: E731
    for x0 in [*extra_starts, *grid[order]]:
        x, f = _lbfgs(fun, np.asarray(x0, dtype=float))
        if np.isfinite(f) and f < best_f:
            best_x, best_f = x, f
    return best_x, best_f


def _bootstrap_chinchilla(runs: Runs, theta: np.ndarray, draws: list[np.ndarray],
                          delta=HUBER_DELTA, progress=None, chunk: int = 500,
                          max_iter: int = 100) -> np.ndarray:
    """Constants (B, 5) of the B resamples ``draws`` (index arrays), all refitted at once.

    Resample b weighs run i by (times drawn)·w_i, the same objective as refitting
    ``runs.subset(draws[b])``.  Damped Newton from the point estimate ``theta``; a sample that
    fails the accept test is refitted as before: L-BFGS-B from ``theta`` (``_lbfgs``).
    """
    from planner.fit.batch import newton_refine

    log_n, log_d, log_l = np.log(runs.params), np.log(runs.tokens), np.log(runs.loss)
    n, B = len(runs), len(draws)
    out = np.empty((B, 5))
    for lo in range(0, B, chunk):
        hi = min(lo + chunk, B)
        W = np.stack([np.bincount(d, minlength=n) for d in draws[lo:hi]]) * runs.weights
        xs, _, ok = newton_refine(np.tile(theta, (hi - lo, 1)), log_n, log_d, log_l, W, delta,
                                  max_iter=max_iter)
        for k in np.flatnonzero(~ok):
            wk = W[k]
            xs[k], _ = _lbfgs(lambda t, wk=wk: chinchilla_objective(t, log_n, log_d, log_l, wk,
                                                                    delta),
                              np.asarray(theta, float))
        out[lo:hi] = [_theta_to_constants(x) for x in xs]
        if progress is not None:
            progress(hi, B)
    return out


def _theta_to_constants(theta) -> np.ndarray:
    a, b, e, alpha, beta = theta
    return np.array([np.exp(e), np.exp(a), np.exp(b), alpha, beta])


def kaplan_objective(theta, log_n, log_d, log_l, w, delta=HUBER_DELTA):
    """Huber loss of ``α_D·log((N_c/N)^(α_N/α_D) + D_c/D)`` against log L; θ = (log N_c,
    log D_c, α_N, α_D)."""
    log_nc, log_dc, a_n, a_d = theta
    t1, t2 = (a_n / a_d) * (log_nc - log_n), log_dc - log_d
    m = np.maximum(t1, t2)
    r = a_d * (m + np.log(np.exp(t1 - m) + np.exp(t2 - m))) - log_l
    return float(np.sum(w * _huber(r, delta)[0]))


def _fit_kaplan_theta(runs: Runs, starts: int):
    from scipy.optimize import minimize

    log_n, log_d, log_l = np.log(runs.params), np.log(runs.tokens), np.log(runs.loss)
    base = KaplanLaw()
    rng = np.random.default_rng(0)
    x0s = [np.array([np.log(base.N_c), np.log(base.D_c), base.alpha_N, base.alpha_D])]
    for _ in range(max(starts - 1, 0)):
        x0s.append(x0s[0] * np.array([1, 1, 1, 1]) + rng.normal(0, [3, 3, 0.03, 0.03]))
    best_x, best_f = None, np.inf
    for x0 in x0s:
        res = minimize(lambda t: SCALE * kaplan_objective(t, log_n, log_d, log_l, runs.weights),
                       x0, method="L-BFGS-B",
                       bounds=[(0, 80), (0, 80), (1e-3, 2), (1e-3, 2)],
                       options={"maxiter": 4000, "ftol": 1e-15, "gtol": 1e-10})
        if res.fun / SCALE < best_f:
            best_x, best_f = res.x, res.fun / SCALE
    return best_x, best_f


def _dc_law(theta):
    from planner.laws import DataConstrainedLaw

    le, la, lb, alpha, beta, lrd, lrn = theta
    return DataConstrainedLaw(E=float(np.exp(le)), A=float(np.exp(la)), B=float(np.exp(lb)),
                              alpha=float(alpha), beta=float(beta),
                              R_D_star=float(np.exp(lrd)), R_N_star=float(np.exp(lrn)))


def _fit_dc_theta(runs: Runs, starts: int):
    """Muennighoff et al. 2023 form, all seven constants, Huber on log residuals; starts: the
    published constants with R_D*, R_N* from a small grid (the R* sit on a flat ridge)."""
    from scipy.optimize import minimize

    from planner.laws import DataConstrainedLaw

    if runs.unique_tokens is None:
        raise InputError(f"{runs.source}: the data-constrained form needs a unique_tokens column "
                         "(map it with --columns unique_tokens=NAME)")
    log_l = np.log(runs.loss)
    p = DataConstrainedLaw()

    def fun(theta):
        law = _dc_law(theta)
        with np.errstate(all="ignore"):
            r = np.log(law.loss(runs.params, runs.tokens, runs.unique_tokens)) - log_l
        v = float(np.sum(runs.weights * _huber(r, HUBER_DELTA)[0]))
        return v if np.isfinite(v) else 1e9

    base = [np.log(p.E), np.log(p.A), np.log(p.B), p.alpha, p.beta]
    x0s = [np.array(base + [np.log(rd), np.log(rn)])
           for rd, rn in [(p.R_D_star, p.R_N_star), (28.5, 2.77), (5.0, 5.0), (50.0, 10.0)]]
    best_x, best_f = None, np.inf
    for x0 in x0s[:max(starts, 1)]:
        res = minimize(lambda t: SCALE * fun(t), x0, method="L-BFGS-B",
                       bounds=[(-3, 3), (-5, 20), (-5, 20), (0.05, 1.5), (0.05, 1.5),
                               (np.log(0.1), np.log(1e4)), (np.log(0.1), np.log(1e4))],
                       options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10})
        if res.fun / SCALE < best_f:
            best_x, best_f = res.x, res.fun / SCALE
    return best_x, best_f


def bootstrap_summary(samples: np.ndarray, names) -> tuple[dict[str, float],
                                                          dict[str, tuple[float, float]]]:
    """Standard error (sample standard deviation) and 95% percentile interval of each column
    of bootstrap ``samples`` (rows: resamples), keyed by ``names``."""
    stderr, ci95 = {}, {}
    for k, nm in enumerate(names):
        stderr[nm] = float(np.std(samples[:, k], ddof=1))
        lo, hi = np.percentile(samples[:, k], [2.5, 97.5])
        ci95[nm] = (float(lo), float(hi))
    return stderr, ci95


@dataclass(frozen=True)
class FitResult:
    """A fitted law with its diagnostics (scikit-learn style: the input is not modified)."""

    form: str
    law: object  # ChinchillaLaw or KaplanLaw, with bootstrap samples when taken
    constants: dict[str, float]
    objective: float
    n_runs: int
    predicted: np.ndarray
    residuals: np.ndarray  # log L_pred − log L_obs
    stderr: dict[str, float] = field(default_factory=dict)
    ci95: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: Optional[np.ndarray] = None  # (k, p) in the order of ``constants``
    holdout: Optional[dict] = None
    source: str = ""

    @property
    def warnings(self) -> tuple[str, ...]:
        """Badly identified constants: a bootstrap standard error larger than the value (the
        runs do not pin the constant down; plans that lean on it are guesses)."""
        return tuple(
            f"{k} = {v:.4g} is badly identified: its standard error {self.stderr[k]:.3g} is "
            f"larger than the value (more runs, or runs over a wider range, would pin it)"
            for k, v in self.constants.items()
            if k in self.stderr and self.stderr[k] > abs(v))

    def to_dict(self) -> dict:
        return {
            "warnings": list(self.warnings),
            "form": self.form,
            "law": dict(self.constants),
            "stderr": dict(self.stderr),
            "ci95": {k: list(v) for k, v in self.ci95.items()},
            "objective": self.objective,
            "n_runs": self.n_runs,
            "n_bootstrap": 0 if self.samples is None else int(len(self.samples)),
            "residuals": {
                "rms_log": float(np.sqrt(np.mean(self.residuals**2))),
                "max_abs_log": float(np.max(np.abs(self.residuals))),
                "mean_abs_rel_error": float(np.mean(np.abs(np.expm1(self.residuals)))),
            },
            "fitted_params": list(self.law.info.fitted_params or ()),
            "fitted_tokens": list(self.law.info.fitted_tokens or ()),
            "fitted_tokens_per_param": list(self.law.info.fitted_tokens_per_param or ()),
            "holdout": self.holdout,
            "source": self.source,
        }


def _info(runs: Runs, form: str) -> LawInfo:
    ratio = runs.tokens / runs.params
    return LawInfo(
        source=f"planner fit on {runs.source} ({len(runs)} runs, {form} form, Huber δ=1e-3)",
        n_definition="as in the runs file", eval_set="as in the runs file", provenance="fitted",
        fitted_params=(float(runs.params.min()), float(runs.params.max())),
        fitted_tokens=(float(runs.tokens.min()), float(runs.tokens.max())),
        fitted_tokens_per_param=(float(ratio.min()), float(ratio.max())),
    )


def _make_law(form: str, consts: np.ndarray, runs: Runs, name: str):
    if form == "chinchilla":
        E, A, B, alpha, beta = consts
        return ChinchillaLaw(E=float(E), A=float(A), B=float(B), alpha=float(alpha),
                             beta=float(beta), name=name, info=_info(runs, form))
    if form == "data-constrained":
        E, A, B, alpha, beta, rd, rn = consts
        from planner.laws import DataConstrainedLaw

        return DataConstrainedLaw(E=float(E), A=float(A), B=float(B), alpha=float(alpha),
                                  beta=float(beta), R_D_star=float(rd), R_N_star=float(rn),
                                  name=name, info=_info(runs, form))
    a_n, a_d, n_c, d_c = consts
    return KaplanLaw(alpha_N=float(a_n), alpha_D=float(a_d), N_c=float(n_c), D_c=float(d_c),
                     name=name, info=_info(runs, form))


def _fit_once(runs: Runs, form: str, starts: int, grid, extra_starts=()):
    """(constants, objective, θ) of one fit."""
    if form == "chinchilla":
        theta, obj = _fit_chinchilla_theta(runs, starts, grid, extra_starts)
        return _theta_to_constants(theta), obj, theta
    if form == "data-constrained":
        theta, obj = _fit_dc_theta(runs, starts)
        le, la, lb, alpha, beta, lrd, lrn = theta
        return np.array([np.exp(le), np.exp(la), np.exp(lb), alpha, beta, np.exp(lrd),
                         np.exp(lrn)]), obj, theta
    theta, obj = _fit_kaplan_theta(runs, starts)
    log_nc, log_dc, a_n, a_d = theta
    return np.array([a_n, a_d, np.exp(log_nc), np.exp(log_dc)]), obj, theta


def _check(runs: Runs, form: str) -> None:
    need = {"chinchilla": 5, "kaplan": 4, "data-constrained": 7}[form]
    if len(runs) <= need:
        raise InputError(f"{runs.source}: {len(runs)} runs cannot determine the {need} "
                         f"parameters of the {form} form (need more than {need})")
    if len(np.unique(runs.params)) < 2 or len(np.unique(runs.tokens)) < 2:
        raise InputError(f"{runs.source}: the runs must vary both parameters and tokens")


def fit_law(runs: Runs, form: str = "chinchilla", *, starts: int = 64, bootstrap: int = 0,
            seed: int = 0, holdout: Optional[str] = None, name: str = "fitted",
            bootstrap_starts: int = 1, solver: str = "newton",
            progress: Optional[Callable[[int, int], None]] = None) -> FitResult:
    """Fit ``form`` ('chinchilla' or 'kaplan') to ``runs``.

    ``starts``: how many of the grid's best initialisations L-BFGS-B refines.  ``bootstrap``:
    resamples of the runs (with replacement), each refitted from the point estimate and the
    resample's ``bootstrap_starts − 1`` best grid starts; standard errors and percentile 95%
    intervals follow.  ``holdout``: ``largest:K`` or ``kfold:K`` (see ``validate``).
    ``solver``: ``newton`` (Chinchilla form: all bootstrap refits solved at once, see
    ``planner.fit.batch``) or ``lbfgs`` (one L-BFGS-B refit per resample, the reference).
    """
    if solver not in SOLVERS:
        raise InputError(f"--bootstrap-solver: unknown {solver!r}; choose newton or lbfgs")
    if form not in NAMES:
        raise InputError(f"--law: unknown form {form!r}; choose chinchilla, kaplan or "
                         "data-constrained")
    _check(runs, form)
    with single_threaded_blas():  # tiny problems: BLAS threads only slow them
        grid = epoch_grid()
        consts, obj, theta = _fit_once(runs, form, starts, grid)
        names = NAMES[form]
        law = _make_law(form, consts, runs, name)
        predicted = np.asarray(_predict(law, runs), dtype=float)
        residuals = np.log(predicted) - np.log(runs.loss)
        samples = None
        stderr, ci95 = {}, {}
        if bootstrap > 0:
            rng = np.random.default_rng(seed)
            draws = [rng.integers(0, len(runs), len(runs)) for _ in range(bootstrap)]
            if form == "chinchilla" and solver == "newton" and bootstrap_starts <= 1:
                samples = _bootstrap_chinchilla(runs, theta, draws, progress=progress)
            else:
                rows = []
                for i, idx in enumerate(draws):
                    c, _, _ = _fit_once(runs.subset(idx), form, max(bootstrap_starts - 1, 0),
                                        grid, extra_starts=(theta,))
                    rows.append(c)
                    if progress is not None:
                        progress(i + 1, bootstrap)
                samples = np.array(rows)
            stderr, ci95 = bootstrap_summary(samples, names)
            law = replace(law, samples=samples) if form == "chinchilla" else law
        hold = validate(runs, form, holdout, starts=starts, seed=seed) if holdout else None
    return FitResult(form, law, dict(zip(names, map(float, consts))), float(obj), len(runs),
                     predicted, residuals, stderr, ci95, samples, hold, runs.source)


def _predict(law, runs: Runs):
    if law.form == "data-constrained":
        return law.loss(runs.params, runs.tokens, runs.unique_tokens)
    return law.loss(runs.params, runs.tokens)


def _holdout_sets(runs: Runs, spec: str, seed: int) -> list[np.ndarray]:
    """Index sets to hold out: ``largest:K`` (the K largest model sizes) or ``kfold:K``."""
    try:
        mode, k = spec.split(":")
        k = int(k)
    except ValueError:
        raise InputError(f"--holdout: expected largest:K or kfold:K, got {spec!r}") from None
    if k < 1:
        raise InputError(f"--holdout: K must be ≥ 1, got {k}")
    if mode == "largest":
        sizes = np.unique(runs.params)
        if k >= len(sizes):
            raise InputError(f"--holdout: only {len(sizes)} model sizes; cannot hold out {k}")
        return [np.flatnonzero(runs.params >= sizes[-k])]
    if mode == "kfold":
        if k < 2 or k > len(runs):
            raise InputError(f"--holdout: kfold needs 2 ≤ K ≤ {len(runs)}")
        perm = np.random.default_rng(seed).permutation(len(runs))
        return [np.sort(f) for f in np.array_split(perm, k)]
    raise InputError(f"--holdout: unknown mode {mode!r}; use largest:K or kfold:K")


def validate(runs: Runs, form: str, spec: str, *, starts: int = 64, seed: int = 0) -> dict:
    """Fit on the rest, predict each held-out run; per-run and mean absolute relative error."""
    records = []
    for held in _holdout_sets(runs, spec, seed):
        train = np.setdiff1d(np.arange(len(runs)), held)
        sub = runs.subset(train)
        _check(sub, form)
        consts, _, _ = _fit_once(sub, form, starts, epoch_grid())
        law = _make_law(form, consts, sub, "holdout")
        pred = np.asarray(_predict(law, runs.subset(held)), dtype=float)
        for j, i in enumerate(held):
            obs = float(runs.loss[i])
            records.append({"name": runs.names[i], "params": float(runs.params[i]),
                            "tokens": float(runs.tokens[i]), "observed": obs,
                            "predicted": float(pred[j]),
                            "rel_error": float(pred[j] / obs - 1.0)})
    errs = np.array([r["rel_error"] for r in records])
    return {"mode": spec, "n_heldout": len(records),
            "mean_abs_rel_error": float(np.mean(np.abs(errs))),
            "mean_rel_error": float(np.mean(errs)), "runs": records}
