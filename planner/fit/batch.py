"""Many Chinchilla-form Huber fits solved at once: bootstrap resamples and multi-start refits.

A bootstrap resample is a weight vector over the same runs (run i drawn c_i times weighs
c_i·w_i), so the B refits share one set of (log N, log D, log L) and differ only in weights.
Each refit minimises the same objective as ``law_fit.chinchilla_objective``: the summed Huber
loss (δ = 1e-3) of ``r = LSE(a − α·log N, b − β·log D, e) − log L`` (Besiroglu et al. 2024,
arXiv 2404.10102), with a damped Newton (Levenberg–Marquardt) step on the exact Huber
objective, vectorised over samples: gradient and Hessian

    g = Σ c·h'(r)·∇r,   H = Σ c·[h''(r)·∇r∇rᵀ + h'(r)·∇²r],   ∇²r = Σ_k p_k v_k v_kᵀ − ∇r∇rᵀ

with p = softmax(t) and v_k = ∇t_k.  A step ``(H + λ·diag|H|)Δ = −g`` is kept for a sample only
if it lowers that sample's objective; λ falls after an accepted step and rises after a rejected
one (Marquardt 1963).  A sample is accepted when its Hessian is positive definite and its
Newton decrement gᵀH⁻¹g is at most 1e-12 of its objective (Boyd & Vandenberghe 2004, §9.5);
the caller refits the others one at a time (``law_fit``'s L-BFGS-B path, the oracle).
"""

from __future__ import annotations

import numpy as np

HUBER_DELTA = 1e-3


def objective_grad_hess(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray,
                        log_l: np.ndarray, weights: np.ndarray, delta: float = HUBER_DELTA,
                        need_hess: bool = True):
    """Objective (S,), gradient (S, 5) and Hessian (S, 5, 5) of S fits at once.

    ``theta``: (S, 5) rows (a, b, e, α, β); ``weights``: (S, n) per-sample run weights (or (n,)
    shared by all); ``log_n``, ``log_d``, ``log_l``: (n,) natural logs of parameters, tokens,
    loss (nats/token).
    """
    a, b, e, alpha, beta = (theta[:, i:i + 1] for i in range(5))
    t1 = a - alpha * log_n
    t2 = b - beta * log_d
    m = np.maximum(np.maximum(t1, t2), e)
    x1, x2, x3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
    s = x1 + x2 + x3
    r = m + np.log(s) - log_l
    ar = np.abs(r)
    inside = ar <= delta
    h = np.where(inside, 0.5 * r * r, delta * (ar - 0.5 * delta))
    dh = np.clip(r, -delta, delta)
    f = np.sum(weights * h, axis=1)
    p1, p2, p3 = x1 / s, x2 / s, x3 / s
    c = weights * dh  # (S, n)
    cp1, cp2 = c * p1, c * p2
    g = np.stack([cp1.sum(1), cp2.sum(1), (c * p3).sum(1), -(cp1 @ log_n), -(cp2 @ log_d)],
                 axis=1)
    if not need_hess:
        return f, g, None
    # J: ∇r per run, (S, n, 5)
    J = np.stack([p1, p2, p3, -p1 * log_n, -p2 * log_d], axis=2)
    u = weights * (inside.astype(float) - dh)  # h'' − h' times the weight
    H = np.matmul((J * u[:, :, None]).transpose(0, 2, 1), J)
    # + Σ c h' Σ_k p_k v_k v_kᵀ
    cp3 = c * p3
    ln2, ld2 = log_n * log_n, log_d * log_d
    H[:, 0, 0] += cp1.sum(1)
    H[:, 0, 3] -= cp1 @ log_n
    H[:, 3, 0] -= cp1 @ log_n
    H[:, 3, 3] += cp1 @ ln2
    H[:, 1, 1] += cp2.sum(1)
    H[:, 1, 4] -= cp2 @ log_d
    H[:, 4, 1] -= cp2 @ log_d
    H[:, 4, 4] += cp2 @ ld2
    H[:, 2, 2] += cp3.sum(1)
    return f, g, H


def newton_refine(theta0: np.ndarray, log_n, log_d, log_l, weights, delta: float = HUBER_DELTA,
                  max_iter: int = 100, tol: float = 1e-12, chunk: int = 1000):
    """Damped Newton (Levenberg–Marquardt) refinement of S fits at once.

    Returns ``(theta (S, 5), objective (S,), converged (S,) bool)``.  ``weights``: (S, n) or
    (n,).  A sample stops once it passes ``newton_converged`` (Newton decrement ≤ ``tol``·f
    with a positive-definite Hessian) or no damped step lowers its objective; ``converged``
    is the accept test at the end.  Chunks of ``chunk`` samples bound memory (S·n·5 floats).
    """
    theta0 = np.atleast_2d(np.asarray(theta0, dtype=float))
    S = len(theta0)
    w = np.asarray(weights, dtype=float)
    if w.ndim == 1:
        w = np.broadcast_to(w, (S, len(w)))
    out_t = np.empty_like(theta0)
    out_f = np.empty(S)
    out_c = np.zeros(S, dtype=bool)
    for lo in range(0, S, chunk):
        sl = slice(lo, min(lo + chunk, S))
        out_t[sl], out_f[sl], out_c[sl] = _refine_chunk(theta0[sl].copy(), log_n, log_d, log_l,
                                                        np.ascontiguousarray(w[sl]), delta,
                                                        max_iter, tol)
    return out_t, out_f, out_c


def _refine_chunk(theta, log_n, log_d, log_l, w, delta, max_iter, tol, lam0=1e-6):
    S = len(theta)
    f, g, H = objective_grad_hess(theta, log_n, log_d, log_l, w, delta)
    lam = np.full(S, lam0)
    active = ~newton_converged(f, g, H, tol)
    eye = np.eye(5)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Ha, ga = H[idx], g[idx]
        d = np.abs(np.einsum("sii->si", Ha)) + 1e-300
        A = Ha + lam[idx, None, None] * d[:, :, None] * eye
        step = _solve(A, -ga)
        ok_step = np.all(np.isfinite(step), axis=1)
        step[~ok_step] = 0.0
        trial = theta[idx] + step
        with np.errstate(all="ignore"):
            ft, gt, Ht = objective_grad_hess(trial, log_n, log_d, log_l, w[idx], delta)
        better = ok_step & np.isfinite(ft) & (ft <= f[idx])
        acc = idx[better]
        theta[acc], f[acc], g[acc], H[acc] = trial[better], ft[better], gt[better], Ht[better]
        lam[acc] = np.maximum(lam[acc] / 10.0, 1e-12)
        rej = idx[~better]
        lam[rej] = lam[rej] * 10.0
        done = np.zeros(len(idx), dtype=bool)
        done[better] = newton_converged(ft[better], gt[better], Ht[better], tol)
        done |= lam[idx] > 1e16  # nothing lowers the objective any more: stop
        active[idx[done]] = False
    conv = newton_converged(f, g, H, tol) & np.isfinite(f)
    return theta, f, conv


def _solve(A, b):
    """Batched solve of A x = b; NaN rows where A is singular."""
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(A, b[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            out = np.full(b.shape, np.nan)
            for k in range(len(b)):
                try:
                    out[k] = np.linalg.solve(A[k], b[k])
                except np.linalg.LinAlgError:
                    pass
            return out


def newton_converged(f, g, H, tol):
    """The accept test: the Hessian is positive definite and the Newton decrement
    ``gᵀH⁻¹g`` (twice the decrease a full Newton step would still give, on the local quadratic
    model) is at most ``tol``·f (+ 1e-30)."""
    if len(f) == 0:
        return np.zeros(0, dtype=bool)
    with np.errstate(all="ignore"):
        ev_min = np.linalg.eigvalsh(H)[:, 0] if np.all(np.isfinite(H)) else np.full(len(f), -1.0)
        x = _solve(H, g)
        dec = np.einsum("si,si->s", g, x)
    # the absolute floor (1e-30) only matters for noise-free data, where f itself → 0
    return (ev_min > 0) & np.isfinite(dec) & (dec <= tol * np.abs(f) + 1e-30)
