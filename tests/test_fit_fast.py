"""The batched bootstrap (damped Newton over all resamples at once) against the per-sample
L-BFGS-B refits it replaces, its derivatives against finite differences, and the BLAS thread
limit as the CLI path meets it (a fresh interpreter, scipy not yet imported)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from planner.fit.batch import newton_refine, objective_grad_hess
from planner.fit.law_fit import (
    _bootstrap_chinchilla,
    _fit_chinchilla_theta,
    chinchilla_objective,
    epoch_grid,
    fit_law,
    single_threaded_blas,
)
from planner.fit.runs import read_runs

EPOCH = "tests/data/epoch_chinchilla_fig4.csv"
EPOCH_COLS = "params=N_params,tokens=D_tokens,loss=loss"


@pytest.fixture(scope="module")
def epoch():
    runs = read_runs(EPOCH, EPOCH_COLS, exclude="epoch_excluded")
    with single_threaded_blas():
        theta, f = _fit_chinchilla_theta(runs, 16, epoch_grid())
    assert f == pytest.approx(0.0010182740, abs=5e-11)  # Epoch's published objective
    rng = np.random.default_rng(7)
    draws = [rng.integers(0, len(runs), len(runs)) for _ in range(24)]
    return runs, theta, draws


def _objective(runs, idx, consts):
    """The per-sample objective of constants (E, A, B, α, β) on the resampled runs."""
    sub = runs.subset(idx)
    E, A, B, alpha, beta = consts
    theta = np.array([np.log(A), np.log(B), np.log(E), alpha, beta])
    return chinchilla_objective(theta, np.log(sub.params), np.log(sub.tokens), np.log(sub.loss),
                                sub.weights)[0]


def test_every_sample_matches_its_per_sample_refit(epoch):
    """Each batched sample's objective is within 1e-10 (relative) of the L-BFGS-B refit of
    ``runs.subset(idx)`` from the point estimate (today's path), and never worse by more."""
    runs, theta, draws = epoch
    with single_threaded_blas():
        fast = _bootstrap_chinchilla(runs, theta, draws)
        for k, idx in enumerate(draws):
            x, f_ref = _fit_chinchilla_theta(runs.subset(idx), 0, epoch_grid(), (theta,))
            f_fast = _objective(runs, idx, fast[k])
            assert abs(f_fast - f_ref) <= 1e-10 * f_ref, (k, f_fast, f_ref)
            # the constants themselves agree closely too (A, B lie along a flat valley)
            ref = np.array([np.exp(x[2]), np.exp(x[0]), np.exp(x[1]), x[3], x[4]])
            np.testing.assert_allclose(fast[k], ref, rtol=1e-4)


def test_samples_newton_does_not_converge_are_refitted_one_at_a_time(epoch):
    """With no Newton iterations the point estimate fails every sample's accept test, so each
    is refitted by L-BFGS-B (the fallback); the result matches the per-sample refits."""
    runs, theta, draws = epoch
    with single_threaded_blas():
        fallback = _bootstrap_chinchilla(runs, theta, draws[:4], max_iter=0)
        newton = _bootstrap_chinchilla(runs, theta, draws[:4])
    for k, idx in enumerate(draws[:4]):
        f_fb, f_nt = _objective(runs, idx, fallback[k]), _objective(runs, idx, newton[k])
        assert abs(f_fb - f_nt) <= 1e-10 * f_nt
        assert not np.allclose(fallback[k], [np.exp(theta[2]), np.exp(theta[0]),
                                             np.exp(theta[1]), theta[3], theta[4]], rtol=1e-6)


def test_standard_errors_equal_the_per_sample_path():
    """fit_law's two bootstrap solvers, same resamples: standard errors to 4 digits."""
    runs = read_runs(EPOCH, EPOCH_COLS, exclude="epoch_excluded")
    fast = fit_law(runs, starts=8, bootstrap=60, seed=3)
    slow = fit_law(runs, starts=8, bootstrap=60, seed=3, solver="lbfgs")
    for k in ("E", "A", "B", "alpha", "beta"):
        assert fast.stderr[k] == pytest.approx(slow.stderr[k], rel=1e-4), k
        assert fast.ci95[k] == pytest.approx(slow.ci95[k], rel=1e-4), k
    assert fast.constants == slow.constants


def test_gradient_and_hessian_against_finite_differences(epoch):
    """The batched objective, gradient and Hessian at perturbed points: the objective and
    gradient equal ``chinchilla_objective``'s; the Hessian equals central differences of it."""
    runs, theta, draws = epoch
    ln, ld, ll = np.log(runs.params), np.log(runs.tokens), np.log(runs.loss)
    W = np.stack([np.bincount(d, minlength=len(runs)) for d in draws[:3]]).astype(float)
    pts = theta + np.array([[0.0] * 5, [0.3, -0.2, 0.01, 0.02, -0.01], [-0.5, 0.4, -0.02,
                                                                        -0.03, 0.02]])
    f, g, H = objective_grad_hess(pts, ln, ld, ll, W)
    for s in range(3):
        f_ref, g_ref = chinchilla_objective(pts[s], ln, ld, ll, W[s])
        assert f[s] == pytest.approx(f_ref, rel=1e-12)
        np.testing.assert_allclose(g[s], g_ref, rtol=1e-9, atol=1e-14)
        h = 1e-6
        fd = np.empty((5, 5))
        for j in range(5):
            e = np.zeros(5)
            e[j] = h
            fd[:, j] = (chinchilla_objective(pts[s] + e, ln, ld, ll, W[s])[1]
                        - chinchilla_objective(pts[s] - e, ln, ld, ll, W[s])[1]) / (2 * h)
        np.testing.assert_allclose(H[s], fd, rtol=2e-4, atol=1e-6 * np.abs(fd).max())


def test_newton_solves_a_noise_free_problem_exactly():
    """Runs generated from known constants: Newton from a perturbed start recovers them and
    drives the objective to ~0 (an independent closed-form check, not the oracle)."""
    n = np.repeat(np.logspace(7.5, 10, 6), 5)
    d = n * np.tile([5, 10, 20, 40, 80], 6)
    loss = 1.8 + 400.0 * n ** -0.33 + 1500.0 * d ** -0.35
    truth = np.array([np.log(400.0), np.log(1500.0), np.log(1.8), 0.33, 0.35])
    start = truth + np.array([[0.05, -0.05, 0.01, 0.005, -0.005]])
    x, f, ok = newton_refine(start, np.log(n), np.log(d), np.log(loss), np.ones(len(n)))
    assert ok[0] and f[0] < 1e-20
    np.testing.assert_allclose(x[0], truth, rtol=1e-7)


LIMIT_PROBE = r"""
import json, sys
from threadpoolctl import threadpool_info
from planner.fit.law_fit import fit_law
from planner.fit.runs import read_runs
assert "scipy" not in sys.modules  # as in `planner fit`: scipy loads inside the fit
seen = []
runs = read_runs("tests/data/epoch_chinchilla_fig4.csv", "params=N_params,tokens=D_tokens,loss=loss",
                 exclude="epoch_excluded")
fit_law(runs, starts=2, bootstrap=2, progress=lambda i, n: seen.append(
    [(i["internal_api"], i["filepath"], i["num_threads"]) for i in threadpool_info()]))
print(json.dumps(seen[-1]))
"""


def test_blas_limit_holds_inside_the_fit_when_scipy_loads_late():
    """Issue 12: the limit was entered before scipy's OpenBLAS loaded and missed it.  In a
    fresh interpreter every BLAS pool (numpy's and scipy's) runs one thread inside the fit."""
    res = subprocess.run([sys.executable, "-c", LIMIT_PROBE], capture_output=True, text=True,
                         env=_env(), timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    pools = json.loads(res.stdout.strip().splitlines()[-1])
    blas = [p for p in pools if p[0] in ("openblas", "mkl", "blis")]
    assert any("scipy" in p[1] for p in blas), pools  # scipy's own BLAS was seen
    assert all(p[2] == 1 for p in pools), pools


def _env():
    import os

    env = dict(os.environ)
    env.pop("OPENBLAS_NUM_THREADS", None)
    env.pop("OMP_NUM_THREADS", None)
    env["PYTHONPATH"] = os.getcwd() + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_unknown_bootstrap_solver_is_an_input_error():
    from planner.errors import InputError

    runs = read_runs(EPOCH, EPOCH_COLS, exclude="epoch_excluded")
    with pytest.raises(InputError, match="--bootstrap-solver: unknown 'bfgs'"):
        fit_law(runs, starts=1, bootstrap=2, solver="bfgs")
