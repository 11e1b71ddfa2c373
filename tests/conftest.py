"""Shared fixtures: paths inside the repository (tests read nothing outside it)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` (whole reports of the largest examples, exhaustive cross-checks of
    hundreds of GP solves, documented commands that take minutes) run only with
    ``-m slow``; ``.ci/run`` runs them after the main suite."""
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with pytest -m slow (.ci/run does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
