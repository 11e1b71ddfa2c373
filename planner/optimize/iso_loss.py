"""The fast 1-D iso-loss solver, vectorised over a batch of scenarios (numpy).

With the loss constraint tight, D is a function of N: ``D(N) = (B/(L − E − A·N^-α))^(1/β)``
(closed form), or the smallest root of the loss in log D when extra loss terms (a quantisation
penalty) grow with D (Newton's method in log D).  In ``u = log N`` the cost along this curve is
log-convex (partial minimisation of a geometric program, Boyd et al. 2007, "A tutorial on
geometric programming"), so the optimum is the unique sign change of dCost/du, and every
constraint of the scenario holds on one interval of u.  The solver bisects for the unconstrained
optimum, for each constraint's interval, and clips.  For the FLOPs objective this is the root of
Sardana et al. 2024 (arXiv 2401.00448): ``3·D(x)·(α·x/(β·(L* − E − x)) − 1) = T``.

Speed (issue 12): the optimum and every constraint's minimum are bisected as one stacked array
problem (rows × batch), then every constraint's left and right ends as a second one, so the curve
is evaluated 2 × 48 times per solve instead of 48 × (1 + 3·constraints).  Along the curve the
solver works in logs: ``N^a·D^b = exp(a·u + b·v)`` with ``v = log D``, one ``exp`` per distinct
exponent pair.  With loss terms that grow with D, the inner Newton solve starts at the
unpenalised D (left of the root, so it still climbs monotonically) and stops once converged.
A roofline item's derivative is that of its largest alternative, picked with ``np.where``.
``planner.optimize.iso_loss_reference`` keeps the previous algorithm as the test oracle.
"""

from __future__ import annotations

import numpy as np

from planner.laws.curve import (
    PosynomialCurve,
    _bisect_sign,
    _flat,
)
from planner.optimize.scenario import Scenario, Solution
from planner.terms import CostItem, Term

ITERATIONS = 48  # halvings of a ≤ 30-wide bracket in log N: ~1e-13 in log N


def _take_item(item: CostItem, idx, shape) -> CostItem:
    """``item`` with every coefficient restricted to batch elements ``idx`` (flat indices)."""
    return CostItem(item.name, tuple(tuple(Term(_flat(t.coef, shape)[idx], t.n_exp, t.d_exp)
                                           for t in p) for p in item.alternatives), item.unit)


class _Monomials:
    """``N^a·D^b = exp(a·u + b·v)`` at one (u, v), each exponent pair computed once."""

    __slots__ = ("cache", "u", "v")

    def __init__(self, u, v):
        self.u, self.v, self.cache = u, v, {}

    def __call__(self, a, b):
        key = (a, b)
        out = self.cache.get(key)
        if out is None:
            if b == 0:
                out = 1.0 if a == 0 else np.exp(a * self.u)
            elif a == 0:
                out = np.exp(b * self.v)
            else:
                out = np.exp(a * self.u + b * self.v)
            self.cache[key] = out
        return out


def _posy(terms, mono, slope):
    """(value, d value/du along the curve) of a posynomial (same sums as ``planner.terms``)."""
    val = der = 0.0
    for t in terms:
        x = t.coef * mono(t.n_exp, t.d_exp)
        val = val + x
        if t.d_exp == 0:
            der = der + x * t.n_exp
        else:
            der = der + x * (t.n_exp + t.d_exp * slope)
    return val, der


def _posy_value(terms, mono):
    val = 0.0
    for t in terms:
        val = val + t.coef * mono(t.n_exp, t.d_exp)
    return val


def _item_value(item, mono):
    """A cost item's value (max over alternatives, NaN propagating as ``np.maximum``)."""
    alts = item.alternatives
    val = _posy_value(alts[0], mono)
    for p in alts[1:]:
        val = np.maximum(val, _posy_value(p, mono))
    return val


def _item(item, mono, slope):
    """(value, derivative along the curve) of a cost item: the largest alternative's, chosen as
    ``np.argmax`` would (first maximum; a NaN counts as the maximum)."""
    alts = item.alternatives
    val, der = _posy(alts[0], mono, slope)
    if len(alts) == 1:
        return val, der
    best, best_der = val, der
    with np.errstate(invalid="ignore"):
        for p in alts[1:]:
            v, d = _posy(p, mono, slope)
            take = (v > best) | (np.isnan(v) & ~np.isnan(best))
            best_der = np.where(take, d, best_der)
            best = np.maximum(best, v)
    return best, best_der


def _Curve(sc: Scenario, shape) -> PosynomialCurve:
    """The iso-loss curve of a (batch) scenario (``planner.laws.curve.PosynomialCurve``)."""
    return PosynomialCurve(sc.loss, sc.loss_extra, shape, float(np.log(sc.params_range[1])))


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


class _Stacked:
    """Several 1-D root problems as one array problem for ``_bisect_sign``: segment r holds
    batch elements ``idx_r`` (flat indices, repeats allowed) and its function of
    ``(u, log D, slope)``; the curve is evaluated once per step for all segments together."""

    def __init__(self, curve: _Curve, shape, segments):
        self.idx = np.concatenate([np.asarray(i, dtype=np.intp) for i, _ in segments])
        self.curve = curve.take(self.idx, shape)
        self.cuts = np.cumsum([0] + [len(i) for i, _ in segments])
        self.funs = [f for _, f in segments]
        self.last = None  # (u, log D, slope) of the previous call: the curve's warm start

    def part(self, x, r):
        """Segment r of a stacked array."""
        return x[self.cuts[r]:self.cuts[r + 1]]

    def __call__(self, u):
        v, s = self.curve.at_log(u, self.last)
        self.last = (u, v, s)
        out = np.empty_like(u)
        with np.errstate(all="ignore"):
            for a, b, fun in zip(self.cuts[:-1], self.cuts[1:], self.funs):
                if b > a:
                    out[a:b] = fun(u[a:b], v[a:b], s[a:b])
        return out


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
    cons = sc.constraints
    k = len(cons)
    size = int(np.prod(shape)) if shape else 1
    every = np.arange(size)
    u_lo_f, u_hi_f = _flat(u_lo, shape), _flat(u_hi, shape)

    def slope_of(items, idx):  # d(Σ items)/du along the curve, on elements idx
        items = [_take_item(it, idx, shape) for it in items]

        def fun(u, v, s):
            mono, total = _Monomials(u, v), 0
            for it in items:
                total = total + _item(it, mono, s)[1]
            return total
        return fun

    def excess_of(j, idx, sign=1.0):  # sign·(h_j(u)/limit_j − 1) on elements idx
        item = _take_item(cons[j].item, idx, shape)
        limit = _flat(cons[j].limit, shape)[idx]
        return lambda u, v, s: sign * (_item_value(item, _Monomials(u, v)) / limit - 1.0)

    # each constraint holds on one interval [left, right] of u (its h is log-convex along the
    # curve); where it holds at both ends of [u_lo, u_hi] it holds on all of it, so its minimum
    # and its ends are bisected only on the elements where it fails at an end.
    ex_lo, ex_hi = [], []
    if k:
        ends = _Stacked(curve, shape, [(every, excess_of(j, every)) for j in range(k)] * 2)
        ex = ends(np.concatenate([u_lo_f] * k + [u_hi_f] * k)).reshape(2 * k, size)
        ex_lo, ex_hi = ex[:k], ex[k:]
    # stage 1, a bisection on every element: the objective's slope, whose sign change is the
    # unconstrained optimum.  Plain bisection: the slope has kinks where a roofline max switches
    # branch, and regula falsi can stall at a kink (seen on a 216-configuration plan: 7.7e-5
    # off).
    stage1 = _Stacked(curve, shape, [(every, slope_of(sc.objective, every))])
    u_opt = _bisect_sign(stage1, u_lo_f, u_hi_f, iterations)[1].reshape(shape)
    # where every constraint holds at the unconstrained optimum, that is the optimum: the
    # constraints' intervals are needed only on the other elements
    sub = np.zeros(size, dtype=bool)
    if k:
        at_opt = _Stacked(curve, shape, [(every, excess_of(j, every)) for j in range(k)])
        ex_opt = at_opt(np.concatenate([_flat(u_opt, shape)] * k)).reshape(k, size)
        sub = np.any(~(ex_opt <= 0), axis=0)  # NaN counts as failing, as in a plain where()
    fails_lo = [~(e <= 0) & sub for e in ex_lo]
    fails_hi = [~(e <= 0) & sub for e in ex_hi]
    need = [np.flatnonzero(a | b) for a, b in zip(fails_lo, fails_hi)]

    # each constraint's minimum where needed, one stacked bisection on its slope.  A constraint
    # of N alone with non-negative exponents (memory, latency) only rises with N: its minimum
    # is the left end u_lo, no search needed.
    rising = [all(t.d_exp == 0 and t.n_exp >= 0 for p in c.item.alternatives for t in p)
              for c in cons]
    searched = [j for j in range(k) if not rising[j] and need[j].size]
    hi1 = np.zeros(0)
    if searched:
        minima = _Stacked(curve, shape, [(need[j], slope_of([cons[j].item], need[j]))
                                         for j in searched])
        hi1 = _bisect_sign(minima, u_lo_f[minima.idx], u_hi_f[minima.idx], iterations)[1]
    um = []
    for j in range(k):
        full = np.full(size, np.nan)
        full[need[j]] = (u_lo_f[need[j]] if j not in searched
                         else minima.part(hi1, searched.index(j)))
        um.append(full)

    lo, hi = u_lo.copy(), u_hi.copy()
    lefts, rights, alone_infeasible = [], [], []
    if k:
        # a constraint that fails at its own minimum fails everywhere on the curve
        at_min = _Stacked(curve, shape, [(need[j], excess_of(j, need[j])) for j in range(k)])
        ex_m = at_min(np.concatenate([um[j][need[j]] for j in range(k)]))
        # stage 2, one stacked bisection: each failing left end (−excess on [u_lo, um]) and
        # each failing right end (excess on [um, u_hi])
        left_idx = [np.flatnonzero(f) if not rising[j] else np.zeros(0, dtype=np.intp)
                    for j, f in enumerate(fails_lo)]  # a rising constraint's left end: u_lo
        right_idx = [np.flatnonzero(f) for f in fails_hi]
        stage2 = _Stacked(curve, shape,
                          [(left_idx[j], excess_of(j, left_idx[j], -1.0)) for j in range(k)]
                          + [(right_idx[j], excess_of(j, right_idx[j])) for j in range(k)])
        lo2 = np.concatenate([u_lo_f[i] for i in left_idx]
                             + [um[j][i] for j, i in enumerate(right_idx)])
        hi2 = np.concatenate([um[j][i] for j, i in enumerate(left_idx)]
                             + [u_hi_f[i] for i in right_idx])
        b_lo, b_hi = _bisect_sign(stage2, lo2, hi2, iterations)
        for j in range(k):
            bad = np.zeros(size, dtype=bool)
            bad[need[j]] = at_min.part(ex_m, j) > 1e-9
            left, right = u_lo_f.copy(), u_hi_f.copy()
            left[left_idx[j]] = stage2.part(b_hi, j)
            right[right_idx[j]] = stage2.part(b_lo, k + j)
            left, right, bad = left.reshape(shape), right.reshape(shape), bad.reshape(shape)
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
