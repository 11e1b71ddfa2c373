"""The typer app, error handling and consoles shared by every command."""

from __future__ import annotations

import functools
import os
import sys

import typer
from rich.console import Console

from planner.errors import EXIT_INPUT, EXIT_UNEXPECTED, PlannerError

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 unexpected error, 2 invalid input, 3 infeasible, 4 solver failure, "
    "5 GPU required but absent."
)

app = typer.Typer(
    name="planner",
    help="Size an LLM for lifetime cost (training + inference) at a target loss. "
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# pipes and CI logs get 120 columns rather than rich's 80-column fallback
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False)


def version_string() -> str:
    """``<distribution> <version>``: installed metadata, else ``planner.__version__``."""
    from importlib import metadata

    import planner

    try:
        version = metadata.version(planner.__distribution__)
    except metadata.PackageNotFoundError:  # a source checkout on PYTHONPATH, not installed
        version = planner.__version__
    return f"{planner.__distribution__} {version}"


def _print_version(value: bool) -> None:
    if value:
        print(version_string())
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True,
                                       callback=_print_version,
                                       help="Print the distribution name and version.")) -> None:
    """Size an LLM for lifetime cost (training + inference) at a target loss."""


def fail(message: str, code: int) -> "typer.Exit":
    """Print one line to stderr and return the Exit to raise."""
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(code)


def guarded(fn):
    """Turn planner errors into one-line messages and exit codes; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except PlannerError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", EXIT_UNEXPECTED) from None
        except Exception as exc:  # noqa: BLE001 - last line of defence
            if os.environ.get("PLANNER_DEBUG"):
                raise
            raise fail(f"unexpected {type(exc).__name__}: {exc} (set PLANNER_DEBUG=1 for the "
                       "traceback)", EXIT_UNEXPECTED) from None

    return wrapper


def main() -> None:  # console-script entry point
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_INPUT)
