"""planner: size an LLM for lifetime cost (training + inference) at a target loss.

Library API (the CLI prints the same objects)::

    from planner import load_budget, optimize, optimize_batch
    result = optimize(load_budget("examples/chat-assistant.yaml"))
    result.plan.params, result.plan.train_tokens, result.to_dict()

Names are imported on first use, so ``planner --help`` does not pay for pydantic or numpy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"  # keep equal to pyproject.toml [project] version
__distribution__ = "llm-lifetime-planner"  # the name on the package index; imports stay planner

_EXPORTS = {
    "Budget": "planner.budget",
    "load_budget": "planner.budget",
    "InfeasibleError": "planner.errors",
    "InputError": "planner.errors",
    "PlannerError": "planner.errors",
    "SolverError": "planner.errors",
    "HardwareProfile": "planner.hardware",
    "list_profiles": "planner.hardware",
    "load_profile": "planner.hardware",
    "ChinchillaLaw": "planner.laws",
    "KaplanLaw": "planner.laws",
    "get_preset": "planner.laws",
    "LAW_PRESETS": "planner.laws",
    "optimize": "planner.optimize",
    "optimize_batch": "planner.optimize",
    "prepare": "planner.optimize",
    "PlanPoint": "planner.plan",
    "PlanResult": "planner.plan",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = getattr(module, "ALL_PRESETS" if name == "LAW_PRESETS" else name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
