"""The planning-review report: every example budget end to end, every section, stable files."""

import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.optimize import optimize
from planner.render.review import SECTIONS, report
from planner.units import format_count
from planner.yaml_io import read_yaml_file

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("cost_vs_params", "frontier", "contours", "tornado")


def example_budgets():
    """Budget files among examples/*.yaml (fitted-law files and scenario files skipped)."""
    out = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        data, _ = read_yaml_file(path)
        if isinstance(data, dict) and "schema_version" in data and "scenarios" not in data \
                and "target" in data:
            out.append(path)
    return out


def headings(md: str) -> list[str]:
    return re.findall(r"^## (.+)$", md, flags=re.M)


# the largest examples (216-600 serving configurations) take 3-12 s each: slow
LARGE = {"chat-assistant", "which-draft", "which-gpu", "on-device"}


@pytest.mark.parametrize("path", [pytest.param(p, marks=[pytest.mark.slow] if p.stem in LARGE
                                               else []) for p in example_budgets()],
                         ids=lambda p: p.stem)
def test_report_runs_end_to_end_on_every_example(path, tmp_path, request):
    if path.stem == "chinchilla-flops":  # shared with the other tests of this file
        from planner.render.review import write_report

        files = write_report(request.getfixturevalue("flops_review"), tmp_path / "review")
    else:
        files = report(path, tmp_path / "review")
    md = files.markdown.read_text()
    assert headings(md) == list(SECTIONS)
    result = optimize(path)
    plan = files.review.result.plan
    assert plan.params == pytest.approx(result.plan.params, rel=1e-12)
    assert f"| parameters | {format_count(result.plan.params)} |" in md
    assert result.law["name"] in md and "Source:" in md
    html = files.html.read_text()
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in html
    for name in FIGURES:  # PNG by default (SVG on request: test_plots checks SVG)
        png = files.markdown.parent / "figures" / f"{name}.png"
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, name
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 700 and height >= 400, name
        assert not png.with_suffix(".svg").exists(), name
        assert f"figures/{name}.png" in md and f"figures/{name}.png" in html
    if files.review.result.plan.costs:  # hardware budgets name their prices with dates
        assert "/GPU-hour, dated" in md
        # and their energy by phase, the decode row at the serving card's decode watts
        e = plan.extra["energy"]
        dec = e["phases"]["decode"]
        assert "| phase | hardware | power (W) | power from |" in md
        assert f"| decode | {dec['hardware']} | {dec['power_watts']:,.0f} | decode_watts |" in md
        assert f"| total |  |  |  |  |  | {format_count(plan.costs['energy_kwh'])} |" in md
        assert f"Power figures of {dec['hardware']}: " in md


def test_report_is_byte_stable_and_states_its_numbers(tmp_path):
    text = """schema_version: 1
name: stable
law: epoch2024
target: {loss: 2.05}
inference: {tokens: 5T}
constraints: {max_params: 6B}
objective: flops
"""
    (tmp_path / "b.yaml").write_text(text)
    from planner.render.review import write_report

    a = report(tmp_path / "b.yaml", tmp_path / "a")
    # the computation is deterministic (numpy, fixed seeds; test_sweep and test_solvers hold
    # repeated solves equal); what must not vary is the rendering: the review written again,
    # figures redrawn, gives the same bytes (no dates, fixed SVG hash salt)
    b = write_report(a.review, tmp_path / "b")
    for fa in [a.markdown, a.html, *a.figures]:
        fb = b.markdown.parent / fa.relative_to(a.markdown.parent)
        assert hashlib.sha256(fa.read_bytes()).digest() == \
            hashlib.sha256(fb.read_bytes()).digest(), fa.name
    md = a.markdown.read_text()
    r = a.review.result
    saving = r.savings["fraction"]
    assert f"{100 * saving:.1f}% less than the Chinchilla-optimal model" in md
    assert "| max_params | parameters ≤ max_params |" in md  # constraints with their slack
    c = r.plan.constraints["max_params"]
    assert f"{100 * c['slack']:.1f}%" in md
    assert "no MFU or price rows" in md  # a FLOPs budget says why the tornado is shorter
    assert "| max_params | parameters ≤ max_params | 6e+09 | 6e+09 | params | 0.0% | yes |" in md
    # nearby sizes: half the plan cannot reach the loss (N_min = (A/(L − E))^(1/α) = 3.4B),
    # larger models break the binding cap, a smaller one costs more
    rows = {x["label"]: x for x in a.review.nearby}
    assert [rows[f"plan × {f}"]["premium"] is None for f in ("0.5", "0.71", "1", "1.4", "2")] \
        == [True, False, False, True, True]
    assert rows["plan × 1"]["premium"] == pytest.approx(0.0, abs=1e-12)
    assert rows["plan × 0.71"]["premium"] > 0.01


@pytest.fixture(scope="module")
def flops_review():
    """The chinchilla-flops review, computed once and written by several tests."""
    from planner.analysis.review import build_review

    return build_review(ROOT / "examples" / "chinchilla-flops.yaml")


def test_markdown_only_without_figures(tmp_path, flops_review):
    from planner.render.review import write_report

    files = write_report(flops_review, tmp_path, formats=(), html_too=False)
    md = files.markdown.read_text()
    assert headings(md) == list(SECTIONS) and files.html is None and not files.figures
    assert md.count("Not drawn") == 3


runner = CliRunner()


def test_cli_report_prints_plan_alternatives_and_paths(tmp_path):
    out = tmp_path / "review"
    r = runner.invoke(app, ["report", str(ROOT / "examples" / "chinchilla-flops.yaml"), "-o",
                            str(out), "--formats", "png"])
    assert r.exit_code == 0, r.output
    assert "Chinchilla-optimal" in r.stdout and "Top alternatives" in r.stdout
    assert str(out / "report.md") in r.stdout and "figures:" in r.stdout
    assert (out / "figures" / "tornado.png").exists()
    assert not (out / "figures" / "tornado.svg").exists()
    r = runner.invoke(app, ["report", str(ROOT / "examples" / "chinchilla-flops.yaml"), "-o",
                            str(out), "--formats", "none", "--json", "--force"])
    doc = json.loads(r.stdout)
    assert doc["report"] == str(out / "report.md") and doc["figures"] == []
    assert doc["result"]["plan"]["params"] == pytest.approx(
        optimize(ROOT / "examples" / "chinchilla-flops.yaml").plan.params, rel=1e-12)
    r = runner.invoke(app, ["report", str(ROOT / "examples" / "chinchilla-flops.yaml"), "-o",
                            str(out), "--formats", "gif", "--force"])
    assert r.exit_code == 2 and "--formats" in r.stderr


def test_report_reports_progress_of_every_stage_to_completion(tmp_path):
    """The CLI's progress bar is fed by the library: each stage counts up to its total."""
    from planner.render.review import report

    seen: list[tuple[str, int, int]] = []
    files = report(ROOT / "examples" / "chinchilla-flops.yaml", tmp_path, formats=("png",),
                   progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = list(dict.fromkeys(s for s, _, _ in seen))
    assert stages == ["prepare", "solve", "sensitivity", "figures"]
    for stage in stages:
        counts = [(d, t) for s, d, t in seen if s == stage]
        assert [d for d, _ in counts] == sorted(d for d, _ in counts), stage
        assert counts[-1][0] == counts[-1][1] > 0, stage
    prepare = [(d, t) for s, d, t in seen if s == "prepare"]
    assert prepare == [(0, 1), (1, 1)]  # the other demand levels, set up together
    figures = [d for s, d, t in seen if s == "figures"]
    assert figures == [0, 1, 2, 3, 4] and len(files.figures) == 4
