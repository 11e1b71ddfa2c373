"""The iso-loss solver as it was before issue 12's fast path, kept unchanged as the test and
benchmark oracle (``tests/test_fast_paths.py``, ``benchmarks/solvers.py``).  Not used by plans.

The fast 1-D iso-loss solver, vectorised over a batch of scenarios (numpy).

With the loss constraint tight, D is a function of N: ``D(N) = (B/(L − E − A·N^-α))^(1/β)``
(closed form), or the smallest root of the loss in log D when extra loss terms (a quantisation
penalty) grow with D (nested bisection).  In ``u = log N`` the cost along this curve is
log-convex (partial minimisation of a geometric program), so the optimum is the unique sign
change of dCost/du, and every constraint of the scenario holds on one interval of u.  The solver
bisects for the unconstrained optimum, for each constraint's interval, and clips.  For the FLOPs
objective this is the root of Sardana et al. 2024 (arXiv 2401.00448):
``3·D(x)·(α·x/(β·(L* − E − x)) − 1) = T``.
"""

from __future__ import annotations

import numpy as np

from planner.optimize.scenario import Scenario, Solution

ITERATIONS = 48  # halvings of a ≤ 30-wide bracket in log N: ~1e-13 in log N


def _bisect_sign(fun, lo, hi, iterations=ITERATIONS):
    """Bracket the point where ``fun`` turns from negative (or NaN) to non-negative.

    Vectorised: ``lo``/``hi`` are arrays; returns the final ``(lo, hi)`` bracket.
    """
    lo = np.array(lo, dtype=float, copy=True)
    hi = np.array(hi, dtype=float, copy=True)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        f = fun(mid)
        go_right = ~(f >= 0)  # NaN counts as "not yet"
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
    return lo, hi


class _Curve:
    """The iso-loss curve D(u) of a scenario and its slope d(log D)/du."""

    def __init__(self, sc: Scenario, shape):
        p = sc.loss
        b = lambda x: np.broadcast_to(np.asarray(x, dtype=float), shape)  # noqa: E731
        self.E, self.A, self.alpha = b(p.E), b(p.A), b(p.alpha)
        self.B, self.beta, self.limit = b(p.B), b(p.beta), b(p.limit)
        self.margin = self.limit - self.E
        self.logB = np.log(self.B)
        self.extra = sc.loss_extra
        with np.errstate(divide="ignore", invalid="ignore"):
            # N below this cannot reach the target even with infinite data (no extras).
            self.u_min = np.log(self.A / self.margin) / self.alpha
        if self.extra:
            self.u_min = self._feasible_u_min(np.log(sc.params_range[1]))

    # -- closed form -------------------------------------------------------------------------
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

    # -- extra loss terms: nested bisection in v = log D --------------------------------------
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


def _flops_form(sc: Scenario):
    """``(c_train, c_inf)`` when the objective is ``c_train·N·D + c_inf·N`` with no constraints
    or extra loss terms (the Sardana et al. 2024 problem); otherwise None."""
    if sc.constraints or sc.loss_extra:
        return None
    c_train = c_inf = 0.0
    for item in sc.objective:
        for posy in item.alternatives[:1] if len(item.alternatives) == 1 else ():
            for t in posy:
                if (t.n_exp, t.d_exp) == (1, 1):
                    c_train = c_train + t.coef
                elif (t.n_exp, t.d_exp) == (1, 0):
                    c_inf = c_inf + t.coef
                else:
                    return None
        if len(item.alternatives) != 1:
            return None
    if np.any(np.asarray(c_train) <= 0):
        return None
    return c_train, c_inf


def _solve_flops_form(sc: Scenario, c_train, c_inf, shape, iterations=8):
    """Optimum of ``c_train·N·D + c_inf·N`` on the iso-loss curve, by Newton's method.

    Sardana et al. 2024 (arXiv 2401.00448): with ``x = A·N^-α``, ``r = L* − E − x``,
    stationarity is
    ``α·x/(β·r) − 1 = κ·(r/B)^(1/β)`` with ``κ = c_inf/c_train`` (``T/3`` for FLOPs), i.e.
    ``3·D(x)·(α·x/(β·r) − 1) = T``.  Writing ``r = r0·e^-z`` with ``r0 = α(L* − E)/(α + β)``
    (the Chinchilla optimum, z = 0) turns it into ``φ(z) = log(expm1 z) + z/β = K``,
    ``K = log κ − log((α+β)/β) + (log r0 − log B)/β``: increasing, near-linear for large z and
    near-logarithmic for small z.  Newton from ``z0 = log1p(e^K)``, kept inside its bracket.
    """
    p = sc.loss
    f = lambda v: np.broadcast_to(np.asarray(v, dtype=float), shape)  # noqa: E731
    A, alpha, B, beta, margin = f(p.A), f(p.alpha), f(p.B), f(p.beta), f(p.limit) - f(p.E)
    kappa = f(c_inf) / f(c_train)
    inv_beta = 1.0 / beta
    r0 = alpha * margin / (alpha + beta)
    with np.errstate(divide="ignore"):
        K = np.log(kappa) - np.log((alpha + beta) / beta) + (np.log(r0) - np.log(B)) * inv_beta
    z = np.log1p(np.exp(np.minimum(K, 700.0)))
    lo = np.zeros_like(z)
    hi = np.maximum(z, beta * np.maximum(K, 0.0)) + 1.0
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            em1 = np.expm1(z)
            phi = np.log(em1) + z * inv_beta - K
            dphi = (em1 + 1.0) / em1 + inv_beta
            neg = phi < 0
            lo = np.where(neg, z, lo)
            hi = np.where(neg, hi, z)
            step = z - phi / dphi
            z = np.where((step >= lo) & (step <= hi), step, 0.5 * (lo + hi))
    # vanishing demand: φ(z) ≈ log z, so z = e^K to machine precision (and e^K may underflow)
    z = np.where(K < -600.0, np.exp(np.maximum(K, -745.0)), z)
    z = np.where(kappa > 0, z, 0.0)
    r = r0 * np.exp(-z)
    n = (A / (margin - r)) ** (1.0 / alpha)
    d = (B / r) ** inv_beta
    return n, d


def solve_iso_loss(sc: Scenario, iterations: int = ITERATIONS) -> Solution:
    """Solve ``sc`` (one scenario or a batch of the same structure) on the iso-loss curve."""
    shape = np.broadcast_shapes(
        *[np.shape(x) for x in (sc.loss.E, sc.loss.A, sc.loss.B, sc.loss.alpha, sc.loss.beta,
                                sc.loss.limit)],
        *[np.shape(t.coef) for it in sc.objective for p in it.alternatives for t in p],
        *[np.shape(c.limit) for c in sc.constraints],
        *[np.shape(t.coef) for c in sc.constraints for p in c.item.alternatives for t in p],
        *[np.shape(t.coef) for t in sc.loss_extra],
    )
    form = _flops_form(sc)
    if form is not None and np.all(np.asarray(sc.loss.limit) > np.asarray(sc.loss.E)):
        n, d = _solve_flops_form(sc, *form, shape)
        objective = sc.objective_value(n, d)
        if shape == ():
            n, d, objective = float(n), float(d), float(objective)
        status = "optimal" if shape == () else np.full(shape, "optimal")
        return Solution(params=n, tokens=d, objective=objective, status=status,
                        solver="iso_loss", diagnostics={"method": "newton-x", "batch":
                                                        int(np.prod(shape)) if shape else 1})
    curve = _Curve(sc, shape)
    u_floor, u_cap = np.log(sc.params_range[0]), np.log(sc.params_range[1])
    target_ok = curve.margin > 0
    with np.errstate(invalid="ignore"):
        u_lo = np.where(target_ok, np.maximum(curve.u_min + 1e-9, u_floor), u_floor)
    u_hi = np.full(shape, u_cap)
    reachable = target_ok & (u_lo < u_hi)

    def total_slope(u):
        n, d, s = curve.at(u)
        with np.errstate(all="ignore"):
            return sum(item.dlog(n, d, s) for item in sc.objective)

    # plain bisection: the slope has kinks where a roofline max switches branch, and
    # regula falsi can stall at a kink (seen on a 216-configuration plan: 7.7e-5 off)
    u_opt = _bisect_sign(total_slope, u_lo, u_hi, iterations)[1]

    # each constraint holds on one interval [left, right] of u (log-convex along the curve)
    lo, hi = u_lo.copy(), u_hi.copy()
    lefts, rights, alone_infeasible = [], [], []
    for c in sc.constraints:
        limit = np.asarray(c.limit, dtype=float)

        def excess(u, c=c, limit=limit):  # h(u) − 1
            n, d, _ = curve.at(u)
            with np.errstate(all="ignore"):
                return c.item.value(n, d) / limit - 1.0

        def slope(u, c=c):
            n, d, s = curve.at(u)
            with np.errstate(all="ignore"):
                return c.item.dlog(n, d, s)

        _, um = _bisect_sign(slope, u_lo, u_hi, iterations)
        bad = excess(um) > 1e-9
        left = np.where(excess(u_lo) <= 0, u_lo,
                        _bisect_sign(lambda u: -excess(u), u_lo, um, iterations)[1])
        right = np.where(excess(u_hi) <= 0, u_hi,
                         _bisect_sign(excess, um, u_hi, iterations)[0])
        lefts.append(left)
        rights.append(right)
        alone_infeasible.append(bad)
        lo = np.maximum(lo, left)
        hi = np.minimum(hi, right)

    feasible = reachable & (lo <= hi)
    for bad in alone_infeasible:
        feasible &= ~bad
    u_star = np.clip(u_opt, lo, hi)
    n, d, _ = curve.at(u_star)
    objective = sc.objective_value(n, d)

    active, binding = [], []
    for c, left, right, bad in zip(sc.constraints, lefts, rights, alone_infeasible):
        hit = ((u_star <= left) & (left > u_opt)) | ((u_star >= right) & (right < u_opt))
        if np.any(hit & feasible):
            active.append(c.name)
        if np.any(bad & reachable):
            binding.append(c.name)
    if not binding and np.any(reachable & ~feasible):
        # pairwise conflict: the constraint pushing N up hardest against the one pushing it down
        for arr in (np.argmax(np.stack(lefts), axis=0), np.argmin(np.stack(rights), axis=0)):
            for k in np.unique(arr[reachable & ~feasible]):
                name = sc.constraints[int(k)].name
                if name not in binding:
                    binding.append(name)

    status = np.where(feasible, "optimal", "infeasible")
    nan = np.nan
    params = np.where(feasible, n, nan)
    tokens = np.where(feasible, d, nan)
    objective = np.where(feasible, objective, nan)
    at_cap = feasible & (u_opt >= u_cap - 1e-6)
    message = ""
    if not np.all(target_ok):
        message = "target loss at or below the law's irreducible loss"
    elif not np.all(reachable):
        message = "target loss not reachable within the parameter search range"
    elif not np.all(feasible):
        message = "constraints cannot all hold: " + ", ".join(binding)
    elif np.any(at_cap):
        message = "optimum at the upper end of the parameter search range"
    if shape == ():
        params, tokens, objective = float(params), float(tokens), float(objective)
        status = str(status)
    return Solution(
        params=params, tokens=tokens, objective=objective, status=status, solver="iso_loss",
        message=message, active=tuple(active), binding=tuple(binding),
        diagnostics={"iterations": iterations, "batch": int(np.prod(shape)) if shape else 1},
    )
