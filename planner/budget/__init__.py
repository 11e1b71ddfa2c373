"""The budget file: its schema (pydantic models with cross-field validators), loading with
file:line:col errors, and editing helpers.  ``planner.budget.schema`` holds the models."""

from planner.budget.schema import (  # noqa: F401
    LAW_TAGS,
    SCHEMA_VERSION,
    Bounds,
    Budget,
    DataSpec,
    Inference,
    InlineChinchillaLaw,
    InlineKaplanLaw,
    LawFile,
    MatchTarget,
    ModelSpec,
    PresetLaw,
    ServeSpec,
    SpeculativeSpec,
    StrictModel,
    Target,
    TokensPerRequest,
    TrainSpec,
    UncertaintySpec,
    budget_from_data,
    budget_json_schema,
    load_budget,
)

__all__ = ["LAW_TAGS", "SCHEMA_VERSION", "Bounds", "Budget", "DataSpec", "Inference",
           "InlineChinchillaLaw", "InlineKaplanLaw", "LawFile", "MatchTarget", "ModelSpec",
           "PresetLaw", "ServeSpec", "SpeculativeSpec", "StrictModel", "Target",
           "TokensPerRequest", "TrainSpec", "UncertaintySpec", "budget_from_data",
           "budget_json_schema", "load_budget"]
