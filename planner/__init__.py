"""planner: size an LLM for lifetime cost (training + inference) at a target loss.

Library API (the CLI prints the same objects)::

    from planner import load_budget, optimize, optimize_batch
    result = optimize(load_budget("examples/chat-assistant.yaml"))
    result.plan.params, result.plan.train_tokens, result.to_dict()
"""

from planner.budget import Budget, load_budget
from planner.errors import InfeasibleError, InputError, PlannerError, SolverError
from planner.hardware import HardwareProfile, list_profiles, load_profile
from planner.laws import ALL_PRESETS as LAW_PRESETS
from planner.laws import ChinchillaLaw, KaplanLaw, get_preset
from planner.optimize import optimize, optimize_batch, prepare
from planner.plan import PlanPoint, PlanResult

__version__ = "0.1.0"

__all__ = [
    "Budget", "ChinchillaLaw", "HardwareProfile", "InfeasibleError", "InputError", "KaplanLaw",
    "LAW_PRESETS", "PlanPoint", "PlanResult", "PlannerError", "SolverError", "get_preset",
    "list_profiles", "load_budget", "load_profile", "optimize", "optimize_batch", "prepare",
]
