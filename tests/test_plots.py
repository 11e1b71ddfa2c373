"""Figure data (numbers along the iso-loss curve) and the drawings (PNG, byte-stable SVG)."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from planner.analysis import curves
from planner.budget import load_budget
from planner.optimize import optimize, prepare
from planner.render import figures as plots

FLOPS = """schema_version: 1
law: epoch2024
target: {match: {params: 13B}}
inference: {requests: 10B, tokens_per_request: {input: 500, output: 300}}
objective: flops
"""

DOLLAR = """schema_version: 1
law: epoch2024
target: {loss: 2.1}
inference: {requests: 5B, tokens_per_request: {input: 1000, output: 250}}
train: {hardware: h100-sxm, gpus: 1024, mfu: 0.4}
serve: {hardware: h100-sxm, batch_size: 64, weight_bits: auto}
objective: usd
"""


@pytest.fixture(scope="module")
def flops():
    b = load_budget(FLOPS)
    p, r = prepare(b), optimize(b)
    return b, p, r, curves.demand_study(b, p, r)


def test_curve_costs_follow_the_iso_loss_curve(flops):
    b, p, r, _ = flops
    n = np.logspace(9.5, 11, 50)
    c = curves.curve_costs(p, n)
    law = p.law
    assert np.allclose(law.loss(n, c["tokens"]), p.target_loss, rtol=1e-12)
    t = b.inference.total_tokens
    assert np.allclose(c["objective"], 6 * n * c["tokens"] + 2 * n * t, rtol=1e-12)
    assert np.allclose(c["train"], 6 * n * c["tokens"], rtol=1e-12)
    # below the smallest N that can reach the target: NaN
    assert np.isnan(curves.curve_costs(p, np.array([curves.min_params(p) * 0.9]))["objective"][0])


def test_cost_curves_have_their_minima_at_the_solver_plans(flops):
    d = curves.cost_vs_params_data(flops[3])
    assert [round(c["multiplier"], 6) for c in d["curves"]] == [0.01, 0.1, 1.0, 10.0, 100.0]
    for c in d["curves"]:
        m = np.nanmin(c["objective"])
        # the grid minimum cannot beat the optimum, and the grid comes close to it
        assert c["opt_objective"] <= m * (1 + 1e-12)
        assert m / c["opt_objective"] - 1 < 2e-3
        j = np.nanargmin(c["objective"])
        assert abs(np.log(d["params"][j] / c["opt_params"])) < 0.05
    opt_n = [c["opt_params"] for c in d["curves"]]
    assert opt_n == sorted(opt_n, reverse=True)  # more demand, smaller optimum


def test_frontier_is_the_non_dominated_branch(flops):
    b, p, r, _ = flops
    d = curves.frontier_data(p, r)
    (br,) = d["branches"]  # FLOPs: one configuration
    assert len(br["train"]) > 50
    assert np.all(np.diff(br["train"]) > 0) and np.all(np.diff(br["inference"]) < 0)
    # every frontier model is at most the Chinchilla size: larger ones cost more on both axes
    assert br["params"].max() <= r.baseline.params * 1.01
    # the Chinchilla point has the least training cost; the plan minimises train + inference
    ct, _ = d["chinchilla"]
    assert ct <= br["train"].min() * (1 + 1e-9)
    pt, pi = d["plan"]
    assert pt + pi <= np.min(br["train"] + br["inference"]) * (1 + 1e-12)


def test_frontier_of_a_quantised_plan_has_two_configurations():
    b = load_budget(DOLLAR)
    p, r = prepare(b), optimize(b)
    d = curves.frontier_data(p, r)
    assert [x["who"] for x in d["branches"]] == ["plan", "baseline"]
    assert d["branches"][0]["configuration"] == r.plan.extra["configuration"]
    assert d["branches"][1]["configuration"].startswith("16-bit")


def test_contour_data_path_moves_to_smaller_longer_trained_models(flops):
    d = curves.contour_data(flops[3])
    assert d["loss"].shape == (len(d["tokens"]), len(d["params"]))
    order = np.argsort(d["path_demand"])
    assert np.all(np.diff(d["path_params"][order]) < 0)
    assert np.all(np.diff(d["path_tokens"][order]) > 0)
    law = flops[1].law
    assert np.allclose(law.loss(d["path_params"], d["path_tokens"]), d["target"], rtol=1e-9)
    c = d["iso_flops"]
    assert np.allclose(np.diff(np.log10(c)), 1.0)


def _draw_all(flops, out, formats=("png", "svg")):
    from planner.analysis.sensitivity import sensitivity

    b, p, r, study = flops
    figs = {"cost": plots.cost_vs_params_figure(curves.cost_vs_params_data(study)),
            "frontier": plots.frontier_figure(curves.frontier_data(p, r)),
            "contours": plots.contour_figure(curves.contour_data(study)),
            "tornado": plots.tornado_figure(sensitivity(b))}
    return {k: plots.save_figure(f, out, k, formats) for k, f in figs.items()}


def test_figures_are_byte_stable_svg_without_pyplot(flops, tmp_path):
    """Two drawings of every figure give the same SVG bytes (PNGs: tests/test_report.py)."""
    first = _draw_all(flops, tmp_path / "a", ("svg",))
    second = _draw_all(flops, tmp_path / "b", ("svg",))
    for key, paths in first.items():
        (svg,) = paths
        assert svg.suffix == ".svg"
        text = svg.read_text()
        assert "<svg" in text and len(text) > 20_000 and "<dc:date>" not in text
        digest = hashlib.sha256(svg.read_bytes()).hexdigest()
        assert digest == hashlib.sha256(second[key][0].read_bytes()).hexdigest(), key
    assert "matplotlib.pyplot" not in sys.modules


def test_importing_plots_does_not_import_matplotlib():
    code = ("import sys, planner.render.figures, planner.render.review, planner.cli; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_one_layout_pass_draws_what_a_full_layout_draw_drew(flops, tmp_path):
    """``save_figure`` runs the layout pass alone (no throw-away draw before the real one):
    the PNG and SVG bytes equal those of the previous path, which drew the whole figure once
    without rendering to lay it out."""
    import io

    import matplotlib

    from planner.analysis.sensitivity import sensitivity

    b, p, r, study = flops
    makers = [lambda: plots.contour_figure(curves.contour_data(study)),
              lambda: plots.tornado_figure(sensitivity(b))]
    for k, make in enumerate(makers):
        (png, svg) = plots.save_figure(make(), tmp_path, f"f{k}", ("png", "svg"))
        old = make()
        old.draw_without_rendering()
        old.set_layout_engine("none")
        with matplotlib.rc_context({"svg.hashsalt": plots.SVG_SALT, "svg.fonttype": "path"}):
            for path, kw in ((png, {"format": "png", "dpi": plots.DPI, "pil_kwargs": {
                    "compress_level": plots.PNG_COMPRESS_LEVEL}}),
                             (svg, {"format": "svg", "metadata": {"Date": None}})):
                buf = io.BytesIO()
                old.savefig(buf, **kw)
                assert path.read_bytes() == buf.getvalue(), path.name


def test_each_figure_is_drawn_once_per_format(flops, tmp_path, monkeypatch):
    """``save_figure`` draws every figure exactly once per file written: no throw-away draw
    (savefig draws a figure that still has a layout engine, even a placeholder, twice)."""
    from matplotlib.figure import Figure

    draws = []
    real = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, r: (draws.append(fig), real(fig, r))[1])
    for formats in (("png",), ("png", "svg")):
        draws.clear()
        paths = _draw_all(flops, tmp_path / "-".join(formats), formats)
        assert len(draws) == 4 * len(formats) == sum(len(p) for p in paths.values())
        assert len({id(f) for f in draws}) == 4


def test_demand_study_levels_equal_optimize_of_each_levels_budget():
    """The study solves every demand level in one stacked call and makes a full PlanResult of
    the budget's own level only; each level's optimum is ``optimize()`` of a budget with that
    demand (24 serving configurations: 6 weight bits × 4 GPU counts), to 1e-9, and the
    budget's own result is optimize()'s (but for the batch's solver diagnostics)."""
    from planner.budget.edit import budget_data, set_field

    b = load_budget(DOLLAR)
    study = curves.demand_study(b, prepare(b))
    assert len(study["base_problem"].candidates) == 24
    data, _, _ = budget_data(b)
    assert len(study["optima"]) == len(curves.DEMAND_MULTIPLIERS) == 7
    for i, (level, opt) in enumerate(zip(study["levels"], study["optima"])):
        ref = optimize(set_field(data, "inference.tokens", float(level), b))
        assert ref.ok and opt is not None
        got = dict(zip(("params", "train_tokens", "objective"), opt))
        for key, value in got.items():
            assert abs(value / getattr(ref.plan, key) - 1) < 1e-9, (level, key)
        if i == study["base_index"]:
            mine, ref = study["results"][i].to_dict(), optimize(b).to_dict()
            assert mine.pop("diagnostics")["batched"] and "batched" not in ref.pop("diagnostics")
            assert mine == ref
        else:
            assert study["results"][i] is None  # no PlanResult made for the other levels
    opt_n = [o[0] for o in study["optima"]]
    assert opt_n == sorted(opt_n, reverse=True)  # more demand, a smaller model
