"""The typer app, error handling and consoles shared by every command."""

from __future__ import annotations

import functools
import os
import sys
from enum import Enum

import typer
from rich.console import Console

from planner.errors import EXIT_INPUT, EXIT_SOLVER, EXIT_UNEXPECTED, PlannerError

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
    message = " ".join(str(message).split())  # one line, whatever the message held
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
        except (OverflowError, ZeroDivisionError, FloatingPointError) as exc:
            if os.environ.get("PLANNER_DEBUG"):
                raise
            # arithmetic beyond floating point that the input bounds did not foresee: a
            # solver-side failure with its reason, not a crash (exit 4)
            raise fail(f"numerical failure ({type(exc).__name__}: {exc}); no plan is printed",
                       EXIT_SOLVER) from None
        except Exception as exc:  # noqa: BLE001 - last line of defence
            if os.environ.get("PLANNER_DEBUG"):
                raise
            raise fail(f"unexpected {type(exc).__name__}: {exc} (set PLANNER_DEBUG=1 for the "
                       "traceback)", EXIT_UNEXPECTED) from None

    return wrapper


class SolverChoice(str, Enum):
    """``--solver`` values (``--help`` lists them; anything else exits 2)."""

    iso_loss = "iso_loss"
    gp = "gp"


class BackendChoice(str, Enum):
    """``planner bench --backend`` values."""

    auto = "auto"
    cuda = "cuda"
    cpu = "cpu"


class LawFormChoice(str, Enum):
    """``planner fit --law`` values."""

    chinchilla = "chinchilla"
    kaplan = "kaplan"
    data_constrained = "data-constrained"


class BootstrapSolverChoice(str, Enum):
    """``planner fit --bootstrap-solver`` values."""

    newton = "newton"
    lbfgs = "lbfgs"


class FormatsChoice(str, Enum):
    """``planner report --formats`` values."""

    png_svg = "png,svg"
    svg_png = "svg,png"
    png = "png"
    svg = "svg"
    none = "none"


def value_of(choice):
    """The plain string of an Enum option (None stays None)."""
    return None if choice is None else getattr(choice, "value", choice)


# typer vendors click: reach its exception classes through the public BadParameter
_UsageError = typer.BadParameter.__mro__[1]
_ClickException = _UsageError.__mro__[1]
_click_show = _UsageError.show


def _show_one_line(self, file=None) -> None:
    """Option errors (unknown option, value outside a choice, count out of range) as one line
    on stderr, like every other input error; exit 2 as click does."""
    if type(self).__name__ == "NoArgsIsHelpError":
        return _click_show(self, file)
    cmd = self.ctx.command_path if getattr(self, "ctx", None) is not None else "planner"
    message = " ".join(self.format_message().split()).replace("Value error, ", "")
    print(f"error: {message} (see {cmd} --help)", file=file or sys.stderr)


_UsageError.show = _show_one_line


def run_cli(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` and return the exit code (no ``SystemExit``).

    Option errors (an unknown option, a value outside a choice, a count below its minimum)
    are one line, exit 2, like every other input error.  numpy's RuntimeWarnings (overflow in
    an intermediate) are not shown: every plan is checked before it is printed
    (planner.optimize.checks), so they would only add lines to a one-line answer."""
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="planner")
    except _UsageError as exc:
        exc.show()
        return EXIT_INPUT
    except typer.Abort:
        err.print("error: aborted", markup=False)
        return EXIT_UNEXPECTED
    except _ClickException as exc:
        err.print(f"error: {' '.join(exc.format_message().split())}", markup=False)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001
        err.print(f"error: {' '.join(str(exc).split())}", markup=False)
        return EXIT_INPUT
    return rv if isinstance(rv, int) else 0


def main() -> None:  # console-script entry point
    """Run the command line and exit with its code.

    The cyclic garbage collector is tuned for a short run that builds many long-lived objects
    (a report's review, a sweep's plans) and few cycles: the objects of the imports so far are
    frozen (never scanned again), young collections run every 10,000 allocations instead of
    700, and at exit everything is frozen so that the interpreter's last full collection does
    not scan what the run built (about 0.1 s for a report; 0.6 s before configurations were
    built as one batch).  Reference counting frees everything else as usual."""
    import gc

    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    code = run_cli()
    gc.freeze()
    sys.exit(code)
