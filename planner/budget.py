"""The budget file: YAML schema (pydantic) and loader with ``file:line:col`` errors.

Quantities accept ``13B``, ``2T``, ``1.5e12``, ``2_000_000`` (planner.units).  Unknown keys are
errors with a did-you-mean hint.  ``planner schema`` prints this model's JSON Schema.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from planner.errors import InputError
from planner.units import parse_quantity
from planner.yaml_io import Marks, format_validation_error, read_yaml, read_yaml_file

SCHEMA_VERSION = 1


def _quantity(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return parse_quantity(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


Quantity = Annotated[float, BeforeValidator(_quantity), Field(gt=0)]
"""A positive count: 13B, 2T, 1.5e12."""
NonNegQuantity = Annotated[float, BeforeValidator(_quantity), Field(ge=0)]
PositiveFloat = Annotated[float, BeforeValidator(_finite), Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, BeforeValidator(_finite), Field(gt=0, le=1, allow_inf_nan=False)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- law ------------------------------------------------------------------------------------
class PresetLaw(StrictModel):
    preset: str

    @field_validator("preset")
    @classmethod
    def _known(cls, v: str) -> str:
        from planner.laws import get_preset

        try:
            get_preset(v)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return v


class InlineChinchillaLaw(StrictModel):
    """Inline Chinchilla-form constants: ``L = E + A·N^-alpha + B·D^-beta``."""

    E: Annotated[float, BeforeValidator(_finite), Field(ge=0, allow_inf_nan=False)]
    A: PositiveFloat
    B: PositiveFloat
    alpha: PositiveFloat
    beta: PositiveFloat
    name: str = "inline"
    source: str = "user-supplied"


class InlineKaplanLaw(StrictModel):
    """Inline Kaplan constants: ``L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D``."""

    form: Literal["kaplan"]
    alpha_N: PositiveFloat = 0.076
    alpha_D: PositiveFloat = 0.103
    N_c: Quantity = 6.4e13
    D_c: Quantity = 1.8e13
    name: str = "inline-kaplan"


class LawFile(StrictModel):
    """A law file written by ``planner fit`` (path relative to the budget file)."""

    file: str


def _law_kind(v: Any) -> str:
    if isinstance(v, str):
        return "preset"
    if isinstance(v, dict):
        if "file" in v:
            return "file"
        if v.get("form") == "kaplan":
            return "kaplan"
        if "preset" in v:
            return "preset"
        return "chinchilla"
    if isinstance(v, BaseModel):
        return {PresetLaw: "preset", LawFile: "file", InlineKaplanLaw: "kaplan"}.get(
            type(v), "chinchilla")
    return "chinchilla"


def _law_from_str(v: Any) -> Any:
    return {"preset": v} if isinstance(v, str) else v


LawSpec = Annotated[
    Union[
        Annotated[PresetLaw, Tag("preset")],
        Annotated[InlineChinchillaLaw, Tag("chinchilla")],
        Annotated[InlineKaplanLaw, Tag("kaplan")],
        Annotated[LawFile, Tag("file")],
    ],
    Discriminator(_law_kind),
    BeforeValidator(_law_from_str),
]
LAW_TAGS = {"preset", "chinchilla", "kaplan", "file"}


# ---- target ---------------------------------------------------------------------------------
class MatchTarget(StrictModel):
    """Quality of a reference model: its loss under the budget's law."""

    params: Quantity
    tokens: Optional[Quantity] = None  # absent: the compute-optimal model of that size


class Target(StrictModel):
    loss: Optional[PositiveFloat] = None
    match: Optional[MatchTarget] = None

    @model_validator(mode="after")
    def _one(self) -> "Target":
        if (self.loss is None) == (self.match is None):
            raise ValueError("give exactly one of 'loss' or 'match'")
        return self


# ---- inference demand -----------------------------------------------------------------------
class TokensPerRequest(StrictModel):
    input: NonNegQuantity = 0.0
    output: NonNegQuantity = 0.0


class Inference(StrictModel):
    """Lifetime inference demand: total tokens, or requests × tokens per request."""

    tokens: Optional[NonNegQuantity] = None
    requests: Optional[NonNegQuantity] = None
    tokens_per_request: Optional[TokensPerRequest] = None

    @model_validator(mode="after")
    def _shape(self) -> "Inference":
        by_requests = self.requests is not None or self.tokens_per_request is not None
        if self.tokens is not None and by_requests:
            raise ValueError("give either 'tokens' or 'requests' with 'tokens_per_request'")
        if self.tokens is None and not by_requests:
            raise ValueError("give 'tokens' or 'requests' with 'tokens_per_request'")
        if by_requests and (self.requests is None or self.tokens_per_request is None):
            raise ValueError("'requests' and 'tokens_per_request' go together")
        return self

    @property
    def input_tokens(self) -> float:
        """Lifetime prompt tokens (all of ``tokens`` when demand is given as a total)."""
        if self.tokens is not None:
            return self.tokens
        return self.requests * self.tokens_per_request.input

    @property
    def output_tokens(self) -> float:
        if self.tokens is not None:
            return 0.0
        return self.requests * self.tokens_per_request.output

    @property
    def total_tokens(self) -> float:
        return self.input_tokens + self.output_tokens


class Bounds(StrictModel):
    """Hard limits on the plan (all optional)."""

    max_params: Optional[Quantity] = None
    min_params: Optional[Quantity] = None
    max_train_tokens: Optional[Quantity] = None
    max_train_flops: Optional[Quantity] = None
    max_total_flops: Optional[Quantity] = None


class DataSpec(StrictModel):
    """Training data available: unique tokens (repeated epochs allowed by a data-constrained
    law; a hard cap on training tokens under any other law)."""

    unique_tokens: Quantity


class UncertaintySpec(StrictModel):
    """Propagate the law's uncertainty (bootstrap samples of a fitted law) into the plan."""

    samples: Annotated[int, Field(gt=0, le=100_000)] = 1000
    seed: int = 0


def _uncertainty(v: Any) -> Any:
    if v is True:
        return {}
    if v is False:
        return None
    return v


class Budget(StrictModel):
    """A planning budget (``schema_version: 1``)."""

    schema_version: Literal[1]
    name: Optional[str] = None
    description: Optional[str] = None
    law: LawSpec = Field(default_factory=lambda: PresetLaw(preset="epoch2024"))
    target: Target
    inference: Inference = Field(default_factory=lambda: Inference(tokens=0.0))
    objective: Literal["flops"] = "flops"
    constraints: Bounds = Field(default_factory=Bounds)
    solver: Literal["auto", "gp", "iso_loss"] = "auto"
    data: Optional[DataSpec] = None
    uncertainty: Annotated[Optional[UncertaintySpec], BeforeValidator(_uncertainty)] = None

    _source: Optional[str] = PrivateAttr(default=None)
    _marks: Marks = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Optional[str]:
        """The file the budget was read from (None for dicts)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        return Path(self._source).parent if self._source else Path.cwd()

    def where(self, *path) -> str:
        """``file:line:col`` of a field, for messages about it."""
        line, col = self._marks.get(tuple(path), (0, 0))
        name = self._source or "<budget>"
        return f"{name}:{line}:{col}" if line else name


def budget_from_data(data: Any, marks: Marks | None = None, where: str = "<budget>") -> Budget:
    """Validate a parsed budget (dict) into a ``Budget``; ``InputError`` on anything wrong."""
    marks = marks or {}
    if not isinstance(data, dict):
        raise InputError(f"{where}: a budget is a mapping of keys (schema_version, law, ...)")
    if "schema_version" not in data:
        raise InputError(f"{where}:1:1: schema_version: required key is missing (use 1)")
    if data.get("schema_version") != SCHEMA_VERSION:
        line, col = marks.get(("schema_version",), (1, 1))
        raise InputError(f"{where}:{line}:{col}: schema_version: this planner reads "
                         f"schema_version {SCHEMA_VERSION}, got {data.get('schema_version')!r}")
    try:
        budget = Budget.model_validate(data)
    except ValidationError as exc:
        raise InputError(_format(exc, marks, where)) from None
    budget._source = None if where == "<budget>" else where
    budget._marks = marks
    return budget


def _format(exc: ValidationError, marks: Marks, where: str) -> str:
    # drop discriminator tags from locations so messages read like the YAML
    errs = exc.errors(include_url=False)

    class _Shim:
        def errors(self, include_url=False):
            out = []
            for e in errs:
                e = dict(e)
                e["loc"] = tuple(p for p in e["loc"] if p not in LAW_TAGS
                                 and not (isinstance(p, str) and p.startswith("function-")))
                out.append(e)
            return out

    return format_validation_error(_Shim(), marks, where, Budget)


def load_budget(source: str | Path | dict) -> Budget:
    """Load a budget from a YAML file path, YAML text (contains a newline) or a dict."""
    if isinstance(source, dict):
        return budget_from_data(source)
    if isinstance(source, Path) or "\n" not in str(source):
        data, marks = read_yaml_file(source)
        return budget_from_data(data, marks, str(source))
    data, marks = read_yaml(str(source))
    return budget_from_data(data, marks, "<string>")


def budget_json_schema() -> dict:
    """JSON Schema of the budget file."""
    return Budget.model_json_schema()
