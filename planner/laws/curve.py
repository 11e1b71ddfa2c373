"""The loss constraint of a plan and its iso-loss curve D(N), for every law.

A plan must reach a target loss: ``L(N, D) + Σ extra(N, D) ≤ target``.  With the constraint
tight, the training tokens are a function of the parameters, ``D(N)``: the iso-loss curve.
Every law supplies it (``law.iso_loss_curve(target, extra)``) through one of two classes:

* ``PosynomialCurve``: laws whose constraint is a posynomial ``E + A·N^-α + B·D^-β ≤ limit``
  (Chinchilla, Hoffmann et al. 2022; Kaplan et al. 2020 after raising both sides to 1/α_D),
  optionally with extra monomial loss terms (a quantisation penalty).  Closed form
  ``D(N) = (B/(limit − E − A·N^-α))^(1/β)`` without extras; with extras, the smallest root of
  the constraint in log D (Newton from the left, where the constraint is convex and decreasing).
* ``GeneralCurve``: any other law (data-constrained repetition, Muennighoff et al. 2023): the
  smallest D whose loss reaches the target, by bisection in log D (the loss falls in D and may
  saturate, so the target can be out of reach at some N).

Both give ``tokens(N)``, the slope ``d log D / d log N`` (implicit differentiation:
``−(∂g/∂log N)/(∂g/∂log D)`` of the constraint g), ``params_for_tokens(D)`` and the
constraint's left-hand side.  ``posynomial`` says whether the GP solver can read it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from planner.terms import PosyLoss, Term

U_CAP = float(np.log(1.0e17))  # largest log N any search considers
_BISECT = 48


def _bisect_sign(fun, lo, hi, iterations=_BISECT):
    """Vectorised bracket of the point where ``fun`` turns from negative (or NaN) to ≥ 0."""
    lo = np.array(lo, dtype=float, copy=True)
    hi = np.array(hi, dtype=float, copy=True)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        go_right = ~(fun(mid) >= 0)
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
    return lo, hi


class PosynomialCurve:
    """Iso-loss curve of ``E + A·N^-α + B·D^-β + Σ extra ≤ limit`` (arrays broadcast to
    ``shape`` for a batch of scenarios)."""

    posynomial = True

    def __init__(self, posy: PosyLoss, extra: tuple[Term, ...] = (), shape=(),
                 u_cap: float = U_CAP):
        b = lambda x: np.broadcast_to(np.asarray(x, dtype=float), shape)  # noqa: E731
        self.posy = posy
        self.E, self.A, self.alpha = b(posy.E), b(posy.A), b(posy.alpha)
        self.B, self.beta, self.limit = b(posy.B), b(posy.beta), b(posy.limit)
        self.margin = self.limit - self.E
        self.logB = np.log(self.B)
        self.extra = tuple(extra)
        with np.errstate(divide="ignore", invalid="ignore"):
            # N below this cannot reach the target even with infinite data (no extras).
            self.u_min = np.log(self.A / self.margin) / self.alpha
        if self.extra:
            self.u_min = self._feasible_u_min(u_cap)

    # -- the public curve ---------------------------------------------------------------------
    def lhs(self, params, tokens):
        """Left-hand side of the constraint (compare with ``limit``)."""
        n, d = np.asarray(params, float), np.asarray(tokens, float)
        out = self.E + self.A * n ** (-self.alpha) + self.B * d ** (-self.beta)
        for t in self.extra:
            out = out + t.value(n, d)
        return out

    def tokens(self, params):
        """D on the curve at N = ``params`` (inf where the target is out of reach)."""
        return self.at(np.log(np.asarray(params, dtype=float)))[1]

    def dlog_tokens(self, params):
        """Slope ``d log D / d log N`` of the curve at N = ``params``."""
        return self.at(np.log(np.asarray(params, dtype=float)))[2]

    def params_for_tokens(self, tokens):
        """N on the curve for D = ``tokens`` (inf where no N reaches the target); the
        constraint falls monotonically in N, so bisection in log N."""
        d = np.asarray(tokens, dtype=float)
        lo = np.full(np.broadcast_shapes(d.shape, self.limit.shape), np.log(1.0))
        hi = np.full_like(lo, U_CAP)
        ok = self.lhs(np.exp(hi), d) <= self.limit
        lo, hi = _bisect_sign(lambda u: self.limit - self.lhs(np.exp(u), d), lo, hi, 200)
        out = np.where(ok, np.exp(hi), np.inf)
        return float(out) if out.ndim == 0 else out

    # -- closed form --------------------------------------------------------------------------
    def at(self, u):
        """(N, D, slope) on the curve at log N = u; D = inf where the target is unreachable."""
        if self.extra:
            return self._nested(u)
        n = np.exp(u)
        an = self.A * np.exp(-self.alpha * u)
        rem = self.margin - an
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.exp((self.logB - np.log(rem)) / self.beta)
            slope = -self.alpha * an / (self.beta * rem)
        d = np.where(rem > 0, d, np.inf)
        return n, d, slope

    # -- extra loss terms: nested solve in v = log D ------------------------------------------
    def _g(self, u, v):
        n, d = np.exp(u), np.exp(v)
        g = self.E + self.A * n ** (-self.alpha) + self.B * d ** (-self.beta) - self.limit
        dg_dv = -self.beta * self.B * d ** (-self.beta)
        dg_du = -self.alpha * self.A * n ** (-self.alpha)
        for t in self.extra:
            val = t.value(n, d)
            g = g + val
            dg_dv = dg_dv + t.d_exp * val
            dg_du = dg_du + t.n_exp * val
        return g, dg_dv, dg_du

    def _v_bounds(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            v_lo = np.where(self.margin > 0, (self.logB - np.log(self.margin)) / self.beta, 0.0)
        return v_lo, v_lo + 80.0  # D up to e^80 times the bare minimum

    def _v_argmin(self, u):
        v_lo, v_hi = self._v_bounds()
        if len(self.extra) == 1 and self.extra[0].d_exp > 0:
            # one term k·N^a·D^b: d/dv (B·e^(−βv) + k·N^a·e^(bv)) = 0 in closed form
            t = self.extra[0]
            kn = np.broadcast_to(t.coef * np.exp(u * t.n_exp), np.shape(v_lo))
            with np.errstate(divide="ignore", invalid="ignore"):
                vm = np.log(self.beta * self.B / (t.d_exp * kn)) / (self.beta + t.d_exp)
            return v_lo, np.clip(np.where(kn > 0, vm, v_hi), v_lo, v_hi)
        lo, hi = _bisect_sign(lambda v: self._g(u, v)[1], v_lo, v_hi)
        return v_lo, hi

    def _feasible_u_min(self, u_cap):
        def infeasible_margin(u):  # ≥ 0 once some D reaches the target at this N
            _, vm = self._v_argmin(u)
            return -self._g(u, vm)[0]

        with np.errstate(all="ignore"):
            start = np.where(np.isfinite(self.u_min), self.u_min, 0.0)
        lo, hi = _bisect_sign(infeasible_margin, start, np.full_like(start, u_cap))
        return hi

    def _nested(self, u):
        u = np.asarray(u, dtype=float)
        v_lo, vm = self._v_argmin(u)
        gm = self._g(u, vm)[0]
        # smallest root of g(v) = 0 on [v_lo, vm]: g is convex and decreasing there, so
        # Newton's method from the left end climbs monotonically to it (no overshoot)
        v = v_lo.copy()
        with np.errstate(all="ignore"):
            for _ in range(30):
                g, dg, _ = self._g(u, v)
                step = np.where(dg < 0, -g / dg, 0.0)
                v = np.minimum(v + np.maximum(step, 0.0), vm)
        g_end = self._g(u, v)[0]
        unconverged = np.abs(g_end) > 1e-12 * np.maximum(np.abs(self.limit), 1.0)
        if np.any(unconverged & (gm <= 0)):
            _, vb = _bisect_sign(lambda x: -self._g(u, x)[0], v_lo, vm)
            v = np.where(unconverged, vb, v)
        _, dg_dv, dg_du = self._g(u, v)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = -dg_du / dg_dv
        d = np.where(gm <= 0, np.exp(v), np.inf)
        return np.exp(u), d, slope


class GeneralCurve:
    """Iso-loss curve of any law given as ``loss(N, D)`` that falls in both N and D
    (not a posynomial: the GP solver cannot read it).  ``v_max`` bounds the search in log D."""

    posynomial = False

    def __init__(self, loss: Callable[[Any, Any], Any], limit: float, v_max: float,
                 iterations: int = 80):
        self.loss = loss
        self.limit = float(limit)
        self.v_max = float(v_max)
        self.iterations = iterations

    def lhs(self, params, tokens):
        return self.loss(params, tokens)

    def tokens(self, params):
        """Smallest D reaching the target at each N (inf where unreachable): bisection in
        log D between 10^3 tokens and ``e^v_max``."""
        n = np.asarray(params, dtype=float)
        lo = np.full(n.shape, np.log(1e3))
        hi = np.full(n.shape, self.v_max)
        reachable = self.loss(n, np.exp(hi)) <= self.limit
        for _ in range(self.iterations):
            mid = 0.5 * (lo + hi)
            above = self.loss(n, np.exp(mid)) > self.limit
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        out = np.where(reachable, np.exp(hi), np.inf)
        return float(out) if out.ndim == 0 else out

    def dlog_tokens(self, params, h: float = 1e-6):
        """``d log D/d log N = −(∂L/∂log N)/(∂L/∂log D)`` at the curve, partials by central
        differences in log space."""
        n = np.asarray(params, dtype=float)
        d = np.asarray(self.tokens(n), dtype=float)
        with np.errstate(all="ignore"):
            eh, emh = np.exp(h), np.exp(-h)
            dl_dn = (self.loss(n * eh, d) - self.loss(n * emh, d)) / (2 * h)
            dl_dd = (self.loss(n, d * eh) - self.loss(n, d * emh)) / (2 * h)
            out = -dl_dn / dl_dd
        return float(out) if np.ndim(out) == 0 else out

    def at(self, u):
        n = np.exp(np.asarray(u, dtype=float))
        return n, self.tokens(n), self.dlog_tokens(n)

    def params_for_tokens(self, tokens):
        """N on the curve for D = ``tokens`` (inf where no N reaches the target)."""
        d = np.asarray(tokens, dtype=float)
        lo = np.zeros(d.shape)
        hi = np.full(d.shape, U_CAP)
        ok = self.loss(np.exp(hi), d) <= self.limit
        lo, hi = _bisect_sign(lambda u: self.limit - self.loss(np.exp(u), d), lo, hi, 200)
        out = np.where(ok, np.exp(hi), np.inf)
        return float(out) if out.ndim == 0 else out
