"""The ``planner`` command line: thin typer commands that call the library and render.

Each command lives in its own module, which registers itself on ``app``; add a new command by
adding its module name to ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib

from planner.cli.app import app, main

_COMMAND_MODULES = (
    "planner.cli.core",
    "planner.cli.profiles",
    "planner.cli.fit",
    "planner.cli.bench",
    "planner.cli.review",
    "planner.cli.downstream",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name)

__all__ = ["app", "main"]
