"""Packaging: our own distribution name, ``planner --version``, ``py.typed``, the LICENSE."""

import subprocess
import sys
import tomllib
from pathlib import Path

from typer.testing import CliRunner

import planner
from planner.cli import app

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_distribution_name_is_not_the_unrelated_planner():
    # "planner" on PyPI is an unrelated 2018 project (docs/packaging.md)
    assert PROJECT["name"] == "llm-lifetime-planner" == planner.__distribution__
    assert PROJECT["version"] == planner.__version__


def test_version_option_prints_name_and_version():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    name, version = res.stdout.split()
    assert name == "llm-lifetime-planner"
    # the installed metadata when this distribution is installed, else the package's own
    assert version in {PROJECT["version"], planner.__version__}


def test_version_from_a_subprocess_exits_0():
    proc = subprocess.run([sys.executable, "-m", "planner", "--version"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"llm-lifetime-planner {PROJECT['version']}"


def test_py_typed_and_license_ship():
    assert (ROOT / "planner" / "py.typed").is_file()
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert PROJECT["license"] == {"text": "Apache-2.0"}
