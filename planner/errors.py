"""Exceptions with the exit code the CLI maps them to (see README, "Exit codes")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_SOLVER = 4
EXIT_NO_GPU = 5


class PlannerError(Exception):
    """Base class: a one-line, user-facing message plus an exit code."""

    exit_code = EXIT_UNEXPECTED


class InputError(PlannerError, ValueError):
    """Bad input: a budget file, CSV, option or profile that does not validate (exit 2)."""

    exit_code = EXIT_INPUT


class InfeasibleError(PlannerError):
    """The target or constraints cannot all hold (exit 3). ``binding`` names the culprits."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, message: str, binding: tuple[str, ...] = ()):
        super().__init__(message)
        self.binding = tuple(binding)


class SolverError(PlannerError):
    """A numerical solver failed to return an answer (exit 4)."""

    exit_code = EXIT_SOLVER


class NoGPUError(PlannerError):
    """A GPU was required and none is present (exit 5)."""

    exit_code = EXIT_NO_GPU
