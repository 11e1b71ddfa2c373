"""Solver throughput, measured in one run (no targets asserted: read the ratios).

(a) vectorised 1-D iso-loss solver, FLOPs objective, 10^5 scenarios in one call;
(b) cvxpy DPP re-solves of one cached problem; (c) a fresh cvxpy problem per scenario;
(d) dollar objective (roofline, h100-sxm) through both solvers;
(e) the ``auto`` weight bits + ``auto`` draft length case, whole ``optimize()`` calls;
issue 12 rows, each timed as a CLI subprocess (wall, best of ``--repeat``) against the floor
``python -c "import numpy"`` measured in the same run, and as a library call against the
previous algorithm in the same run:
(f) ``planner optimize examples/chat-assistant.yaml``: the 216-configuration stacked solve vs
    ``planner.optimize.iso_loss_reference`` (the previous solver, kept as the oracle);
(g) the same with ``--uncertainty`` (1,000 law samples): the CLI's extra seconds over (f), and
    ``plan_uncertainty`` vs the same call on the previous solver;
(h) ``planner optimize --solver gp``: the exponential-cone GP handed to Clarabel
    (``planner.optimize.gp_conic``) against the previous path in the same run (the cvxpy
    log-form GP per candidate, each infeasible candidate's binding constraints named:
    ``previous_gp()``), as a CLI subprocess and as library calls (the 216 candidate solves,
    whole ``optimize()``), with the floors ``import numpy`` / ``import cvxpy`` and the
    default solver's CLI, and where the new path's time goes (import, cone programs, Clarabel);
    plus the 216 cvxpy solves (binding constraints unnamed) vs ``planner.optimize.gp_reference``
    (DGP mode), cold and warm.
Last line: one JSON object with the figures.

    python benchmarks/solvers.py [--quick] [--repeat N]
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from timing import best_cli  # noqa: E402

CHAT = "examples/chat-assistant.yaml"

from planner.budget import load_budget  # noqa: E402
from planner.laws import get_preset  # noqa: E402
from planner.optimize import optimize, prepare  # noqa: E402
from planner.optimize.build import flops_items  # noqa: E402
from planner.optimize.gp import solve_gp  # noqa: E402
from planner.optimize.iso_loss import solve_iso_loss  # noqa: E402
from planner.optimize.scenario import Scenario  # noqa: E402

DOLLAR = """schema_version: 1
law: epoch2024
target: {{loss: {loss}}}
inference: {{requests: {requests}, tokens_per_request: {{input: 1000, output: 250}}}}
train: {{hardware: h100-sxm, gpus: 1024, mfu: 0.4}}
serve: {{hardware: h100-sxm, batch_size: 64, weight_bits: {bits}{spec}}}
objective: usd
"""


def rate(fn, n, repeat=3):
    """Best-of-``repeat`` scenarios per second of ``fn`` solving ``n`` scenarios."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best, best


def cli_seconds(args: list[str], repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` (wall, CPU) seconds of ``python ARGS`` as a subprocess in the
    repository root, this tree first on the path (as ``python -m planner`` runs for a user)."""
    return best_cli(args, repeat)


def best_of(fn, repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` (wall, CPU) seconds of ``fn()``."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


@contextlib.contextmanager
def previous_iso_loss():
    """Route ``planner.optimize.iso_loss``'s solver and curve to the previous algorithm."""
    from planner.optimize import iso_loss, iso_loss_reference

    saved = iso_loss.solve_iso_loss, iso_loss._Curve
    iso_loss.solve_iso_loss, iso_loss._Curve = (iso_loss_reference.solve_iso_loss,
                                                iso_loss_reference._Curve)
    try:
        yield
    finally:
        iso_loss.solve_iso_loss, iso_loss._Curve = saved


# the previous `--solver gp` path in a CLI subprocess (``previous_gp`` in this process): every
# candidate through the cvxpy log-form GP, binding constraints named for each infeasible one
PREVIOUS_CLI = """
import sys
from planner.optimize import gp, gp_conic
gp_conic.solve_gp = lambda sc, retry_binding=True: gp.solve_gp(sc)
gp_conic.name_binding = lambda sc, sol: sol
from planner.cli.app import run_cli
sys.exit(run_cli(sys.argv[1:]))
"""


@contextlib.contextmanager
def previous_gp():
    """Route ``--solver gp`` to the previous path (as ``PREVIOUS_CLI`` does) in this process."""
    from planner.optimize import gp, gp_conic

    saved = gp_conic.solve_gp, gp_conic.name_binding
    gp_conic.solve_gp = lambda sc, retry_binding=True: gp.solve_gp(sc)
    gp_conic.name_binding = lambda sc, sol: sol
    try:
        yield
    finally:
        gp_conic.solve_gp, gp_conic.name_binding = saved


def gp_breakdown() -> dict:
    """Where the new path's 216 solves go: cone programs built, Clarabel's solves (Python
    wrapper included), and the import of Clarabel over numpy (a subprocess)."""
    from planner.optimize import gp_conic

    problem = prepare(load_budget(ROOT / CHAT))
    scs = [c.scenario for c in problem.candidates]
    t = time.perf_counter()
    progs = [gp_conic.cone_program(sc) for sc in scs]
    build = time.perf_counter() - t
    t = time.perf_counter()
    for A, b, c, kinds, _ in progs:
        gp_conic._clarabel(A, b, c, kinds)
    solve = time.perf_counter() - t
    code = ("import time, numpy; t = time.perf_counter(); import clarabel; "
            "print(time.perf_counter() - t)")
    imp = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True).stdout)
    return {"gp_import_clarabel_s": imp, "gp_cone_programs_216_s": build,
            "gp_clarabel_216_s": solve}


def issue12_rows(repeat: int) -> dict:
    """Rows (f)–(h): CLI subprocess and library timings with same-run baselines."""
    from planner.analysis.uncertainty import plan_uncertainty
    from planner.optimize import gp, gp_reference, iso_loss_reference, solve_candidates

    floor = cli_seconds(["-c", "import numpy"], repeat)
    floor_cvxpy = cli_seconds(["-c", "import cvxpy"], repeat)
    cli = cli_seconds(["-m", "planner", "optimize", CHAT], repeat)
    cli_unc = cli_seconds(["-m", "planner", "optimize", CHAT, "--uncertainty"], repeat)
    cli_gp = cli_seconds(["-m", "planner", "optimize", CHAT, "--solver", "gp"], repeat)
    cli_gp_old = cli_seconds(["-c", PREVIOUS_CLI, "optimize", CHAT, "--solver", "gp"], repeat)

    problem = prepare(load_budget(ROOT / CHAT))
    sc = problem.stackable
    lib = best_of(lambda: solve_iso_loss(sc), max(repeat, 3))
    lib_old = best_of(lambda: iso_loss_reference.solve_iso_loss(sc), repeat)
    lib_opt = best_of(lambda: optimize(ROOT / CHAT), repeat)

    sol, k = solve_candidates(problem)
    unc = best_of(lambda: plan_uncertainty(problem, sol, 1000, 0, k), max(repeat, 3))
    new_report = plan_uncertainty(problem, sol, 1000, 0, k)
    with previous_iso_loss():
        unc_old = best_of(lambda: plan_uncertainty(problem, sol, 1000, 0, k), repeat)
        old_report = plan_uncertainty(problem, sol, 1000, 0, k)
    same = (new_report["n_samples"] == old_report["n_samples"] and all(
        abs(new_report[key][q] / old_report[key][q] - 1.0) < 1e-9
        for key in ("params", "train_tokens", "objective") for q in ("p10", "p50", "p90")))

    from planner.optimize import gp_conic

    def new_gp():  # the 216 configurations as --solver gp solves them, nothing remembered
        gp_conic._solve_memo.cache_clear()
        gp_conic._binding_memo.cache_clear()
        return solve_candidates(problem, "gp")

    def old_gp():
        gp._CACHE.clear()
        with previous_gp():
            return solve_candidates(problem, "gp")

    def opt_gp(fn):
        def run():
            gp_conic._solve_memo.cache_clear()
            gp_conic._binding_memo.cache_clear()
            gp._CACHE.clear()
            return fn()
        return run

    lib_gp = best_of(new_gp, repeat)
    lib_gp_old = best_of(old_gp, repeat)
    (a, ka), (b, kb) = new_gp(), old_gp()
    gp_same = ka == kb and abs(a.objective / b.objective - 1.0) < 1e-6
    opt_new = best_of(opt_gp(lambda: optimize(ROOT / CHAT, solver="gp")), repeat)

    def opt_old():
        with previous_gp():
            return optimize(ROOT / CHAT, solver="gp")

    opt_prev = best_of(opt_gp(opt_old), repeat)
    breakdown = gp_breakdown()

    def all_gp(module):  # the 216 configurations through one cvxpy GP module (the DGP-mode
        # solver fails numerically naming some binding constraints: solves only)
        return [module.solve_gp(c.scenario, retry_binding=False) for c in problem.candidates]

    gp._CACHE.clear()
    gp_cold = best_of(lambda: all_gp(gp), 1)  # builds one problem per structure
    structures = len(gp._CACHE)
    gp_warm = best_of(lambda: all_gp(gp), repeat)
    gp_reference._CACHE.clear()
    gp_cold_old = best_of(lambda: all_gp(gp_reference), 1)
    gp_warm_old = best_of(lambda: all_gp(gp_reference), repeat)

    rows = {"floor_import_numpy": floor, "floor_import_cvxpy": floor_cvxpy,
            "cli_optimize": cli, "cli_optimize_uncertainty": cli_unc, "cli_optimize_gp": cli_gp,
            "cli_optimize_gp_previous": cli_gp_old, "gp_candidates_216": lib_gp,
            "gp_candidates_216_previous": lib_gp_old, "optimize_gp_call": opt_new,
            "optimize_gp_call_previous": opt_prev,
            "solve_216": lib, "solve_216_previous": lib_old, "optimize_call": lib_opt,
            "uncertainty_call": unc, "uncertainty_previous": unc_old,
            "gp_216_cold": gp_cold, "gp_216_warm": gp_warm, "gp_216_previous_cold": gp_cold_old,
            "gp_216_previous_warm": gp_warm_old}
    out = {f"{key}_{kind}_s": val[i] for key, val in rows.items()
           for i, kind in enumerate(("wall", "cpu"))}
    out.update(uncertainty_same_percentiles=same, gp_structures=structures,
               gp_same_plan=gp_same, **breakdown)

    def pair(x, unit=1.0, fmt="{:.2f}"):
        return f"{fmt.format(x[0] * unit)} wall / {fmt.format(x[1] * unit)} CPU"

    def ratio(a, b):
        return f"{a[0] / b[0]:.1f}x wall / {a[1] / b[1]:.1f}x CPU"

    ms = dict(unit=1e3, fmt="{:.0f}")
    print(f"floor, CLI subprocess, best of {repeat}: python -c 'import numpy' {pair(floor)} s; "
          f"'import cvxpy' {pair(floor_cvxpy)} s")
    print(f"(f) planner optimize {CHAT}: CLI {pair(cli)} s = {ratio(cli, floor)} the floor; "
          f"optimize() {pair(lib_opt)} s; solve of 216 configurations {pair(lib, **ms)} ms vs "
          f"{pair(lib_old, **ms)} ms previous ({ratio(lib_old, lib)})")
    extra = (cli_unc[0] - cli[0], cli_unc[1] - cli[1])
    print(f"(g) + --uncertainty (1,000 samples): CLI {pair(cli_unc)} s, +{pair(extra)} s; "
          f"plan_uncertainty {pair(unc, **ms)} ms vs {pair(unc_old, **ms)} ms previous "
          f"({ratio(unc_old, unc)}; same percentiles: {same})")
    print(f"(h) --solver gp: CLI {pair(cli_gp)} s vs {pair(cli_gp_old)} s previous "
          f"({ratio(cli_gp_old, cli_gp)}); = {ratio(cli_gp, cli)} the default solver's CLI, "
          f"{ratio(cli_gp, floor)} the numpy floor ('import cvxpy' alone: {pair(floor_cvxpy)} s)")
    print(f"    216 candidate solves {pair(lib_gp, **ms)} ms vs {pair(lib_gp_old, **ms)} ms "
          f"previous ({ratio(lib_gp_old, lib_gp)}; same plan: {gp_same}); optimize() "
          f"{pair(opt_new, **ms)} ms vs {pair(opt_prev, **ms)} ms previous "
          f"({ratio(opt_prev, opt_new)})")
    print(f"    breakdown: import clarabel {breakdown['gp_import_clarabel_s'] * 1e3:.0f} ms, "
          f"216 cone programs {breakdown['gp_cone_programs_216_s'] * 1e3:.0f} ms, 216 Clarabel "
          f"solves {breakdown['gp_clarabel_216_s'] * 1e3:.0f} ms")
    print(f"    cvxpy oracle: 216 solves {pair(gp_cold)} s cold ({structures} problem structures "
          f"built) vs {pair(gp_cold_old)} s DGP mode ({ratio(gp_cold_old, gp_cold)}); warm "
          f"{pair(gp_warm)} s vs {pair(gp_warm_old)} s ({ratio(gp_warm_old, gp_warm)})")
    return out


def main(quick: bool = False, repeat: int = 3) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one core, as the issue asks
    law = get_preset("epoch2024")
    rng = np.random.default_rng(0)
    n = 10**5
    demand = 10 ** rng.uniform(6, 15, n)
    loss = law.E + rng.uniform(0.1, 0.6, n)
    sc = Scenario(loss=law.posynomial(loss), objective=flops_items(demand))
    one_d, t_one_d = rate(lambda: solve_iso_loss(sc), n)

    k = 50 if quick else 300
    scalars = [Scenario(loss=law.posynomial(float(loss[i])),
                        objective=flops_items(float(demand[i]))) for i in range(k)]
    solve_gp(scalars[0])  # build + cache the parametrised problem (and import cvxpy)
    dpp, _ = rate(lambda: [solve_gp(s) for s in scalars], k, repeat=1)
    kf = 10 if quick else 30
    fresh, _ = rate(lambda: [solve_gp(s, cache=False) for s in scalars[:kf]], kf, repeat=1)

    # dollar objective: one configuration (16-bit weights), many demands/targets
    kd = 10**4
    problem = prepare(load_budget(DOLLAR.format(loss=2.1, requests="1B", bits=16, spec="")))
    cand = problem.candidates[0].scenario
    reqs = 10 ** rng.uniform(7, 12, kd)
    # scale the serving items by demand: every serving term is ∝ requests
    base_req = 1e9
    objective = []
    for item in cand.objective:
        scale = 1.0 if item.name in ("train", "draft_train") else reqs / base_req
        objective.append(item.scaled(scale))
    dollar_batch = replace(cand, objective=tuple(objective),
                           loss=law.posynomial(law.E + rng.uniform(0.15, 0.5, kd)))
    usd_1d, _ = rate(lambda: solve_iso_loss(dollar_batch), kd)
    ks = 50 if quick else 200
    singles = [replace(cand, objective=tuple(it.scaled(1.0 if it.name in ("train",
                                                                          "draft_train")
                                                       else r / base_req)
                                             for it in cand.objective))
               for r in reqs[:ks]]
    solve_gp(singles[0])
    usd_gp, _ = rate(lambda: [solve_gp(s) for s in singles], ks, repeat=1)

    # auto bits × auto γ (6 × 9 configurations × 4 GPU counts), whole optimize() calls
    auto = load_budget(DOLLAR.format(
        loss=2.1, requests="10B", bits="auto",
        spec=", speculative: {acceptance: 0.8, draft_params: 100M, gamma: auto}"))
    n_cand = len(prepare(auto).candidates)
    ka = 2 if quick else 5
    auto_1d, t_auto_1d = rate(lambda: [optimize(auto) for _ in range(ka)], ka, repeat=1)
    kg = 1
    auto_gp, t_auto_gp = rate(lambda: [optimize(auto, solver="gp") for _ in range(kg)], kg,
                              repeat=1)
    out = {
        "one_d_per_s": one_d,
        "one_d_batch": n,
        "one_d_batch_seconds": t_one_d,
        "dpp_per_s": dpp,
        "fresh_per_s": fresh,
        "dpp_over_fresh": dpp / fresh,
        "one_d_over_dpp": one_d / dpp,
        "usd_one_d_per_s": usd_1d,
        "usd_gp_dpp_per_s": usd_gp,
        "auto_bits_gamma_candidates": n_cand,
        "auto_optimize_iso_loss_seconds": 1.0 / auto_1d,
        "auto_optimize_gp_seconds": 1.0 / auto_gp,
    }
    print(f"(a) 1-D solver, FLOPs objective: {one_d:,.0f} scenarios/s "
          f"({n:,} in {t_one_d * 1e3:.1f} ms, one core)")
    print(f"(b) cvxpy DPP re-solves:         {dpp:,.0f} scenarios/s")
    print(f"(c) fresh cvxpy problem each:    {fresh:,.1f} scenarios/s "
          f"(DPP is {dpp / fresh:.1f}x faster; the 1-D solver {one_d / dpp:,.0f}x faster "
          "than DPP)")
    print(f"(d) dollar objective: 1-D {usd_1d:,.0f} scenarios/s, GP (DPP) {usd_gp:,.0f}/s")
    print(f"(e) auto bits + auto gamma ({n_cand} configurations): optimize() "
          f"{1 / auto_1d:.2f} s with the 1-D solver, {1 / auto_gp:.2f} s with the GP")
    out.update(issue12_rows(1 if quick else repeat))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    argv = sys.argv[1:]
    reps = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 3
    main(quick="--quick" in argv, repeat=reps)
