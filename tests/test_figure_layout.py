"""The report's figures as drawn: every text inside the figure, the texts around the axes
(tick labels, axis labels, titles, colour bars, legends outside the axes) not overlapping
each other, PNGs of the figure's size, and the garbage collector's full passes kept off the
review's objects while drawing."""

import dataclasses
import gc
from types import SimpleNamespace

import pytest

from planner.analysis import curves
from planner.analysis.sensitivity import sensitivity
from planner.budget import load_budget
from planner.optimize import optimize, prepare
from planner.render import figures as plots

FLOPS = """schema_version: 1
law: epoch2024
target: {match: {params: 13B}}
inference: {requests: 10B, tokens_per_request: {input: 500, output: 300}}
objective: flops
"""
# as long as which-gpu's: clipped at both sides of the tornado when on the title's line
LONG_CONFIGURATION = ("8-bit weights, 8 GPU/replica, train on h100-sxm, serve on h100-sxm, "
                      "draft own-1pct")


@pytest.fixture(scope="module")
def review():
    """What ``draw_figures`` reads of a review: the figures' data and the sensitivity (its
    configuration replaced by a long one)."""
    b = load_budget(FLOPS)
    p, r = prepare(b), optimize(b)
    study = curves.demand_study(b, p, r)
    data = {"cost_vs_params": curves.cost_vs_params_data(study),
            "frontier": curves.frontier_data(p, r), "contours": curves.contour_data(study)}
    sens = dataclasses.replace(sensitivity(b), configuration=LONG_CONFIGURATION)
    return SimpleNamespace(data=data, sensitivity=sens)


def figures(review):
    return {"cost_vs_params": plots.cost_vs_params_figure(review.data["cost_vs_params"]),
            "frontier": plots.frontier_figure(review.data["frontier"]),
            "contours": plots.contour_figure(review.data["contours"]),
            "tornado": plots.tornado_figure(review.sensitivity)}


def drawn_texts(fig, out, stem, monkeypatch):
    """(string, pixel bbox) of every non-empty text the PNG drawing drew."""
    from matplotlib.text import Text

    drawn = []
    real = Text.draw

    def draw(text, renderer):
        real(text, renderer)
        if text.get_visible() and text.get_text().strip():
            drawn.append((text.get_text(), text.get_window_extent(renderer)))

    with monkeypatch.context() as m:
        m.setattr(Text, "draw", draw)
        (png,) = plots.save_figure(fig, out, stem)
    return png, drawn


def overlap(a, b, tol=0.5) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tol) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tol)


def test_texts_inside_the_figure_and_not_overlapping_around_the_axes(review, tmp_path,
                                                                    monkeypatch):
    for stem, fig in figures(review).items():
        png, texts = drawn_texts(fig, tmp_path, stem, monkeypatch)
        data = png.read_bytes()
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        w_in, h_in = fig.get_size_inches()
        assert (width, height) == (round(w_in * plots.DPI), round(h_in * plots.DPI)), stem
        frame = fig.bbox
        assert len(texts) > 10, stem
        for s, box in texts:  # half a pixel of rounding allowed
            assert box.x0 >= frame.x0 - 0.5 and box.x1 <= frame.x1 + 0.5, (stem, s, box)
            assert box.y0 >= frame.y0 - 0.5 and box.y1 <= frame.y1 + 0.5, (stem, s, box)
        axes = [ax.bbox for ax in fig.axes]
        around = [(s, b) for s, b in texts if not any(a.contains(b.x0 + b.width / 2,
                                                                b.y0 + b.height / 2)
                                                     for a in axes)]
        assert len(around) >= 5, stem  # tick labels, axis labels, title at least
        for i, (s, a) in enumerate(around):
            for t, b in around[i + 1:]:
                assert not overlap(a, b), (stem, s, t)
        for ax in fig.axes:  # a legend outside the axes keeps off every axes
            leg = ax.get_legend()
            box = leg.get_window_extent() if leg is not None else None
            if box is not None and not ax.bbox.contains((box.x0 + box.x1) / 2,
                                                        (box.y0 + box.y1) / 2):
                assert not any(overlap(box, a) for a in axes), stem


def test_the_tornado_title_keeps_the_configuration_on_lines_of_its_own():
    assert plots._tornado_title(20, None) == ("Sensitivity of the plan to ±20% in each input "
                                              "(bars clipped at ±100%)")
    title = plots._tornado_title(20, LONG_CONFIGURATION + ", " + LONG_CONFIGURATION)
    lines = title.split("\n")
    assert len(lines) == 3 and all(len(x) <= 110 for x in lines)
    assert " ".join(lines[1:]) == "configuration held: " + LONG_CONFIGURATION + ", " + \
        LONG_CONFIGURATION


def test_drawing_leaves_the_existing_objects_out_of_full_collections(review, tmp_path,
                                                                    monkeypatch):
    """While ``draw_figures`` draws, the objects that existed before are frozen (not scanned
    by the collector's full passes); afterwards they are given back."""
    from planner.render import review as report

    frozen_while_drawing = []
    real = plots.save_figure

    def save(*a, **k):
        frozen_while_drawing.append(gc.get_freeze_count())
        return real(*a, **k)

    monkeypatch.setattr(plots, "save_figure", save)
    before = gc.get_freeze_count()
    out = report.draw_figures(review, tmp_path)
    assert sorted(out) == ["contours", "cost_vs_params", "frontier", "tornado"]
    assert len(frozen_while_drawing) == 4 and min(frozen_while_drawing) > before + 1000
    assert gc.get_freeze_count() == before
