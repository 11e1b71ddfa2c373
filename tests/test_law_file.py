"""Law files (version 2): bootstrap samples as one flow-style row each, read with numpy;
exact round trip, plain YAML for any other reader, version-1 files still load, damage and
edits caught with the line named; ``planner fit`` never overwrites its input and leaves no law
file when ``--plot`` fails."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import InputError
from planner.fit.law_fit import fit_law
from planner.fit.runs import from_arrays
from planner.laws.io import load_law_file, save_law_file

COLS = ("E", "A", "B", "alpha", "beta")


@pytest.fixture(scope="module")
def fit():
    """A small real fit (noise-free runs from known constants) carrying 4,000 samples of
    awkward floats (full-precision, tiny and huge) to test the storage."""
    n = np.repeat(np.logspace(7.5, 10, 6), 5)
    d = n * np.tile([5, 10, 20, 40, 80], 6)
    loss = 1.8 + 400.0 * n ** -0.33 + 1500.0 * d ** -0.35
    result = fit_law(from_arrays(n, d, loss), starts=4)
    rng = np.random.default_rng(0)
    samples = np.array([1.8, 400.0, 1500.0, 0.33, 0.35]) * np.exp(rng.normal(0, 0.3, (4000, 5)))
    samples[0] = [6e-9, 1e-300, 2.5e300, 1 / 3, np.nextafter(0.35, 1)]
    return replace(result, samples=samples)


def test_round_trip_is_exact_and_the_file_is_plain_yaml(tmp_path, fit):
    path = tmp_path / "law.yaml"
    save_law_file(fit, path)
    law = load_law_file(path)
    assert law.samples.shape == (4000, 5) and np.array_equal(law.samples, fit.samples)
    # any YAML reader sees the same numbers (independent parser: PyYAML's safe_load)
    doc = yaml.safe_load(path.read_text())
    assert np.array_equal(np.array(doc["bootstrap_samples"]), fit.samples)
    assert doc["bootstrap_count"] == 4000 and doc["bootstrap_columns"] == list(COLS)
    lines = path.read_text().splitlines()
    assert len(lines) < 4100  # one line per sample: diffable
    assert lines[-1].startswith("- [") and lines[-1].count(",") == 4


def test_version_1_files_still_load(tmp_path, fit):
    """The layout written before (block lists, no count or checksum)."""
    path = tmp_path / "v1.yaml"
    save_law_file(replace(fit, samples=fit.samples[:50]), path)
    doc = yaml.safe_load(path.read_text())
    doc["law_file_version"] = 1
    del doc["bootstrap_count"], doc["bootstrap_sha256"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
    assert "- - " in path.read_text()
    law = load_law_file(path)
    assert np.array_equal(law.samples, fit.samples[:50]) and law.A == fit.constants["A"]


def _saved(tmp_path, fit, k=20):
    path = tmp_path / "law.yaml"
    save_law_file(replace(fit, samples=fit.samples[:k]), path)
    return path, path.read_text().splitlines()


def test_an_edited_sample_fails_the_checksum(tmp_path, fit):
    path, lines = _saved(tmp_path, fit)
    parts = lines[-3][3:-1].split(", ")
    parts[0] = repr(float(parts[0]) * 1.01)  # a plausible hand edit: E up by 1%
    lines[-3] = "- [" + ", ".join(parts) + "]"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"law\.yaml:\d+: bootstrap_sha256: does not match"):
        load_law_file(path)


def test_a_missing_row_fails_the_count(tmp_path, fit):
    path, lines = _saved(tmp_path, fit)
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(InputError, match="bootstrap_count: says 20, the file has 19 rows"):
        load_law_file(path)


@pytest.mark.parametrize("bad", ["nan", "-1.0", "inf"])
def test_a_bad_value_is_named_with_its_line(tmp_path, fit, bad):
    path, lines = _saved(tmp_path, fit)
    row = len(lines) - 5  # 0-based index of the row edited; its line number is row + 1
    lines[row] = "- [1.8, " + bad + ", 1500.0, 0.33, 0.35]"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"law\.yaml:{row + 1}: bootstrap_samples\[15\]: "
                                         "expected finite constants"):
        load_law_file(path)


def test_a_short_row_and_a_key_after_the_samples_fall_back_to_yaml(tmp_path, fit):
    path, lines = _saved(tmp_path, fit)
    path.write_text("\n".join(lines) + "\nnote: reviewed\n")  # still valid, still loads
    assert np.array_equal(load_law_file(path).samples, fit.samples[:20])
    lines[-2] = "- [1.8, 400.0, 1500.0, 0.33]"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"law\.yaml:{len(lines) - 1}: bootstrap_samples\[18\]: "
                                         "expected a row of 5 numbers"):
        load_law_file(path)


def test_a_file_without_samples_loads(tmp_path, fit):
    path = tmp_path / "plain.yaml"
    save_law_file(replace(fit, samples=None), path)
    assert "bootstrap_samples: []" in path.read_text()
    assert load_law_file(path).samples is None


EPOCH = "tests/data/epoch_chinchilla_fig4.csv"
FIT = ["fit", EPOCH, "--columns", "params=N_params,tokens=D_tokens,loss=loss", "--exclude",
       "epoch_excluded", "--starts", "2"]


def test_fit_refuses_to_overwrite_its_input(tmp_path):
    runs = tmp_path / "runs.csv"
    runs.write_bytes(Path(EPOCH).read_bytes())
    before = runs.read_bytes()
    res = CliRunner().invoke(app, ["fit", str(runs), *FIT[2:], "-o", str(runs)])
    assert res.exit_code == 2, res.output
    assert "--output: is also an input" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert runs.read_bytes() == before


def test_a_plot_of_unknown_format_leaves_no_law_file(tmp_path):
    law = tmp_path / "law.yaml"
    res = CliRunner().invoke(app, [*FIT, "-o", str(law), "--plot", str(tmp_path / "fit.xyz")])
    assert res.exit_code == 2, res.output
    assert "--plot: a figure file ends in .png or .svg" in res.stderr  # refused before fitting
    assert list(tmp_path.iterdir()) == []


def test_a_failing_plot_leaves_no_law_file(tmp_path):
    law = tmp_path / "law.yaml"
    res = CliRunner().invoke(app, [*FIT, "-o", str(law), "--plot",
                                   str(tmp_path / "missing-dir" / "fit.png")])
    assert res.exit_code == 2, res.output
    assert "--plot: cannot write" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not law.exists() and list(tmp_path.iterdir()) == []
