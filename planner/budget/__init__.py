"""The budget file: its schema (pydantic models with cross-field validators, one module per
block: ``base``, ``law_target``, ``demand``, ``specs``; the whole budget and its loader in
``schema``), limits, the editor JSON Schema, and editing helpers (``edit``, ``scenarios``)."""

from planner.budget.base import SCHEMA_VERSION, StrictModel
from planner.budget.demand import Inference, TokensPerRequest
from planner.budget.law_target import (
    LAW_TAGS,
    InlineChinchillaLaw,
    InlineKaplanLaw,
    LawFile,
    MatchTarget,
    PresetLaw,
    Target,
)
from planner.budget.schema import (
    Budget,
    budget_from_data,
    budget_json_schema,
    load_budget,
)
from planner.budget.specs import (
    Bounds,
    DataSpec,
    ModelSpec,
    ServeSpec,
    SpeculativeSpec,
    TrainSpec,
    UncertaintySpec,
)

__all__ = ["LAW_TAGS", "SCHEMA_VERSION", "Bounds", "Budget", "DataSpec", "Inference",
           "InlineChinchillaLaw", "InlineKaplanLaw", "LawFile", "MatchTarget", "ModelSpec",
           "PresetLaw", "ServeSpec", "SpeculativeSpec", "StrictModel", "Target",
           "TokensPerRequest", "TrainSpec", "UncertaintySpec", "budget_from_data",
           "budget_json_schema", "load_budget"]
