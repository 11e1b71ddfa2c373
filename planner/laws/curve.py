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
ITERATIONS = 48  # halvings of a ≤ 30-wide bracket in log N: ~1e-13 in log N
NEWTON_MAX = 30  # inner Newton steps in log D (converges in ~5 from the unpenalised D)
NEWTON_STEP_TOL = 1e-13  # stop when no element moves more than this in log D


def _bisect_sign(fun, lo, hi, iterations=ITERATIONS):
    """Bracket the point where ``fun`` turns from negative (or NaN) to non-negative.

    Vectorised: ``lo``/``hi`` are arrays; returns the final ``(lo, hi)`` bracket.
    """
    lo = np.array(lo, dtype=float, copy=True)
    hi = np.array(hi, dtype=float, copy=True)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        go_right = ~(fun(mid) >= 0)  # NaN counts as "not yet"
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
    return lo, hi


def _flat(x, shape):
    """``x`` broadcast to the batch ``shape``, flattened (a view where possible)."""
    return np.broadcast_to(np.asarray(x, dtype=float), shape).reshape(-1)


def _pick(a, idx):
    """Elements ``idx`` of a flat batch array (all of them for None; a 0-d array as is)."""
    return a if idx is None or a.ndim == 0 else a[idx]


def _compact(x, shape):
    """``x`` flattened to the batch, or a 0-d array where it is one value broadcast (no copy
    of a constant per element)."""
    a = np.asarray(x, dtype=float)
    if a.size == 1 or (a.size and a.ndim and not any(a.strides)):
        return np.asarray(a[(0,) * a.ndim])
    return _flat(a, shape)


class PosynomialCurve:
    """Iso-loss curve of ``E + A·N^-α + B·D^-β + Σ extra ≤ limit`` (arrays broadcast to
    ``shape`` for a batch of scenarios), D(u) and its slope d(log D)/du, in logs."""

    posynomial = True

    def __init__(self, posy: PosyLoss, extra: tuple[Term, ...] = (), shape=(),
                 u_cap: float = U_CAP):
        p = self.posy = posy
        b = lambda x: np.broadcast_to(np.asarray(x, dtype=float), shape)  # noqa: E731
        self.E, self.A, self.alpha = b(p.E), b(p.A), b(p.alpha)
        self.B, self.beta, self.limit = b(p.B), b(p.beta), b(p.limit)
        self.margin = self.limit - self.E
        self.logB = np.log(self.B)
        self.extra = tuple(extra)
        self.tol = 1e-12 * np.maximum(np.abs(self.limit), 1.0)
        self.u_cap = float(u_cap)
        with np.errstate(divide="ignore", invalid="ignore"):
            # N below this cannot reach the target even with infinite data (no extras).
            self.u_min_bare = np.log(self.A / self.margin) / self.alpha
            self.v_lo = np.where(self.margin > 0,
                                 (self.logB - np.log(self.margin)) / self.beta, 0.0)
        self.v_hi = self.v_lo + 80.0  # D up to e^80 times the bare minimum
        self._u_min = None

    @property
    def u_min(self):
        """log of the smallest N that reaches the target (computed on first use: with extra
        loss terms it takes a bisection, which evaluating the curve does not need)."""
        if self._u_min is None:
            self._u_min = (self._feasible_u_min(self.u_cap) if self.extra
                           else self.u_min_bare)
        return self._u_min

    def take(self, idx, shape) -> "PosynomialCurve":
        """The curve of batch elements ``idx`` (flat indices into the batch ``shape``), 1-D."""
        out = object.__new__(type(self))
        for name in ("E", "A", "alpha", "B", "beta", "limit", "margin", "logB", "tol",
                     "v_lo", "v_hi", "u_min_bare"):
            setattr(out, name, _flat(getattr(self, name), shape)[idx])
        out.u_cap = self.u_cap
        out.posy = self.posy
        out._u_min = None if self._u_min is None else _flat(self._u_min, shape)[idx]
        out.extra = tuple(Term(_flat(t.coef, shape)[idx], t.n_exp, t.d_exp) for t in self.extra)
        return out

    # -- public: the constraint, N ↔ D on the curve, the slope ------------------------------------
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

    def at(self, u):
        """(N, D, slope) on the curve at log N = u; D = inf where the target is unreachable."""
        u = np.asarray(u, dtype=float)
        v, slope = self.at_log(u)
        return np.exp(u), np.exp(v), slope

    def at_log(self, u, hint=None):
        """(log D, slope) at log N = u; log D = +inf where the target is unreachable.

        ``hint``: ``(u, log D, slope)`` of the previous call on the same elements (a search
        stepping along the curve); with extra loss terms the inner solve then starts from
        the tangent there (fewer Newton steps, the same root)."""
        if self.extra:
            return self._nested(u, hint)
        an = self.A * np.exp(-self.alpha * u)
        rem = self.margin - an
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (self.logB - np.log(rem)) / self.beta
            slope = -self.alpha * an / (self.beta * rem)
        return np.where(rem > 0, v, np.inf), slope

    # -- extra loss terms: Newton in v = log D --------------------------------------------------
    def _u_parts(self, u):
        """What the loss and its derivatives need of N alone: (A·N^-α, [k·N^a per extra term])."""
        an = self.A * np.exp(-self.alpha * u)
        kn = [t.coef * np.exp(t.n_exp * u) if t.n_exp != 0 else
              np.broadcast_to(np.asarray(t.coef, dtype=float), np.shape(an))
              for t in self.extra]
        return an, kn

    def _g(self, base, an, kn, v, derivatives=True, du=True):
        """Loss − limit at (u, v) and its partial derivatives in v and u (``base = E − limit``;
        ``du=False``: no u-derivative, None in its place)."""
        bd = self.B * np.exp(-self.beta * v)
        g = base + an + bd
        if not derivatives:
            for t, k in zip(self.extra, kn):
                g = g + k * np.exp(t.d_exp * v)
            return g
        dg_dv = -self.beta * bd
        dg_du = -self.alpha * an if du else None
        for t, k in zip(self.extra, kn):
            val = k * np.exp(t.d_exp * v)
            g = g + val
            dg_dv = dg_dv + t.d_exp * val
            if du:
                dg_du = dg_du + t.n_exp * val
        return g, dg_dv, dg_du

    def _v_argmin(self, u, an, kn):
        """log D where the loss is least at this N (the right end of the root's bracket)."""
        v_lo = np.broadcast_to(self.v_lo, np.shape(an))
        v_hi = np.broadcast_to(self.v_hi, np.shape(an))
        if len(self.extra) == 1 and self.extra[0].d_exp > 0:
            # one term k·N^a·D^b: d/dv (B·e^(−βv) + k·N^a·e^(bv)) = 0 in closed form
            t, k = self.extra[0], kn[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                vm = np.log(self.beta * self.B / (t.d_exp * k)) / (self.beta + t.d_exp)
            return np.clip(np.where(k > 0, vm, v_hi), v_lo, v_hi)
        base = self.E - self.limit
        _, hi = _bisect_sign(lambda v: self._g(base, an, kn, v, du=False)[1], v_lo, v_hi)
        return hi

    def _feasible_u_min(self, u_cap):
        base = self.E - self.limit

        def infeasible_margin(u):  # ≥ 0 once some D reaches the target at this N
            an, kn = self._u_parts(u)
            with np.errstate(all="ignore"):
                return -self._g(base, an, kn, self._v_argmin(u, an, kn), derivatives=False)

        with np.errstate(all="ignore"):
            start = np.where(np.isfinite(self.u_min_bare), self.u_min_bare, 0.0)
        _, hi = _bisect_sign(infeasible_margin, start, np.full_like(start, u_cap))
        return hi

    def _newton(self, base, an, kn, v, vm):
        """Newton steps in log D from ``v`` (left of the root) towards the root, capped at
        ``vm``; each element stops once its step is at most ``NEWTON_STEP_TOL`` (at most
        ``NEWTON_MAX`` steps), and only the elements still moving are computed."""
        shape = np.shape(v)
        v = np.array(_flat(v, shape))
        B, beta, cap = _compact(self.B, shape), _compact(self.beta, shape), _compact(vm, shape)
        c = _compact(base + an, shape)
        ks = [_compact(k, shape) for k in kn]
        idx = None  # all elements, then those still moving
        for _ in range(NEWTON_MAX):
            vi = _pick(v, idx)
            bd = _pick(B, idx) * np.exp(-_pick(beta, idx) * vi)
            g, dg = _pick(c, idx) + bd, -_pick(beta, idx) * bd
            for t, k in zip(self.extra, ks):
                val = _pick(k, idx) * np.exp(t.d_exp * vi)
                g = g + val
                dg = dg + t.d_exp * val
            step = np.maximum(np.where(dg < 0, -g / dg, 0.0), 0.0)
            v_next = np.minimum(vi + step, _pick(cap, idx))
            moving = v_next - vi > NEWTON_STEP_TOL  # NaN: nothing to wait for
            if idx is None:
                v = v_next
                idx = np.flatnonzero(moving)
            else:
                v[idx] = v_next
                idx = idx[moving]
            if idx.size == 0:
                break
        return v.reshape(shape)

    def _nested(self, u, hint=None):
        u = np.asarray(u, dtype=float)
        base = self.E - self.limit
        with np.errstate(all="ignore"):
            an, kn = self._u_parts(u)
            vm = self._v_argmin(u, an, kn)
            gm = self._g(base, an, kn, vm, derivatives=False)
            # smallest root of g(v) = 0 on [v_lo, vm]: g is convex and decreasing there, so
            # Newton's method from any point left of the root (g ≥ 0) climbs monotonically to
            # it.  A search's previous point gives one: the tangent of the curve there, where
            # g ≥ 0 (elsewhere the cold start below).
            warm = None
            if hint is not None and np.shape(hint[0]) == np.shape(u):
                u0, v0, s0 = hint
                guess = np.minimum(v0 + s0 * (u - u0), vm)
                # a tangent guess right of the root (g < 0): one Newton step from there lands
                # left of it (g convex: its tangent lies below it), within the guess's error²
                g1, dg1, _ = self._g(base, an, kn, guess, du=False)
                stepped = guess - g1 / dg1
                v_lo = np.broadcast_to(self.v_lo, np.shape(u))
                guess = np.where((g1 < 0) & (dg1 < 0) & np.isfinite(stepped)
                                 & (stepped >= v_lo), stepped, guess)
                ok = np.isfinite(guess) & (guess >= v_lo) & (gm <= 0) & (
                    self._g(base, an, kn, guess, derivatives=False) >= -self.tol)
                if np.all(ok | ~(gm <= 0)):
                    return self._finish(base, an, kn, np.where(ok, guess, vm), vm, gm)
                warm = (ok, guess)
            # The unpenalised D (extras dropped) is left of the root: there g = the extras ≥ 0.
            rem = self.margin - an
            v0 = (self.logB - np.log(rem)) / self.beta
            v = np.minimum(np.where(rem > 0, np.maximum(v0, self.v_lo), self.v_lo), vm)
            # near the smallest feasible N the root nears a double root at vm, where Newton
            # from afar converges only linearly: start from the quadratic model's root
            # vm − 2·√(−2·gm/g''(vm)) instead, when it lies in [v, vm] and g ≥ 0 there (so it
            # is still left of the root)
            bd = self.B * np.exp(-self.beta * vm)
            g2 = self.beta ** 2 * bd
            for t, k in zip(self.extra, kn):
                g2 = g2 + t.d_exp ** 2 * k * np.exp(t.d_exp * vm)
            vq = vm - 2.0 * np.sqrt(-2.0 * gm / g2)
            better = (vq > v) & (gm <= 0) & (self._g(base, an, kn, vq, derivatives=False) >= 0)
            v = np.where(better, vq, v)
            if warm is not None:
                v = np.where(warm[0], warm[1], v)
        return self._finish(base, an, kn, v, vm, gm)

    def _finish(self, base, an, kn, v, vm, gm):
        """Newton from ``v`` (left of the root) to the root, a bisection where it has not
        converged, and the slope there: ``(log D, slope)``, log D = inf where gm > 0."""
        with np.errstate(all="ignore"):
            v = self._newton(base, an, kn, v, vm)
            g_end, dg_dv, dg_du = self._g(base, an, kn, v)
            unconverged = np.abs(g_end) > self.tol
            if np.any(unconverged & (gm <= 0)):
                v_lo = np.broadcast_to(self.v_lo, np.shape(v))
                _, vb = _bisect_sign(lambda x: -self._g(base, an, kn, x, derivatives=False),
                                     v_lo, vm)
                v = np.where(unconverged, vb, v)
                _, dg_dv, dg_du = self._g(base, an, kn, v)
            slope = -dg_du / dg_dv
        return np.where(gm <= 0, v, np.inf), slope


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
