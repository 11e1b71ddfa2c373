"""The ``law:`` and ``target:`` blocks of a budget: a preset, inline constants or a law file;
a loss, a reference model to match, or a downstream error."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from planner.budget.base import Quantity, StrictModel, _finite, _quantity
from planner.budget.limits import (
    KAPLAN_EXPONENT_RATIO,
    LAW_BOUNDS,
    MAX_LOSS_NATS,
)
from planner.errors import InputError


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

    E: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["E"][0],
                                                        le=LAW_BOUNDS["E"][1])]
    A: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["A"][0],
                                                        le=LAW_BOUNDS["A"][1])]
    B: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["B"][0],
                                                        le=LAW_BOUNDS["B"][1])]
    alpha: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["alpha"][0],
                                                            le=LAW_BOUNDS["alpha"][1])]
    beta: Annotated[float, BeforeValidator(_finite), Field(ge=LAW_BOUNDS["beta"][0],
                                                           le=LAW_BOUNDS["beta"][1])]
    name: str = "inline"
    source: str = "user-supplied"


class InlineKaplanLaw(StrictModel):
    """Inline Kaplan constants: ``L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D``."""

    form: Literal["kaplan"]
    alpha_N: Annotated[float, BeforeValidator(_finite), Field(
        ge=LAW_BOUNDS["alpha_N"][0], le=LAW_BOUNDS["alpha_N"][1])] = 0.076
    alpha_D: Annotated[float, BeforeValidator(_finite), Field(
        ge=LAW_BOUNDS["alpha_D"][0], le=LAW_BOUNDS["alpha_D"][1])] = 0.103
    N_c: Annotated[float, BeforeValidator(_quantity), Field(
        ge=LAW_BOUNDS["N_c"][0], le=LAW_BOUNDS["N_c"][1])] = 6.4e13
    D_c: Annotated[float, BeforeValidator(_quantity), Field(
        ge=LAW_BOUNDS["D_c"][0], le=LAW_BOUNDS["D_c"][1])] = 1.8e13
    name: str = "inline-kaplan"

    @model_validator(mode="after")
    def _ratio(self) -> "InlineKaplanLaw":
        lo, hi = KAPLAN_EXPONENT_RATIO
        if not lo <= self.alpha_N / self.alpha_D <= hi:
            raise ValueError(f"alpha_N/alpha_D = {self.alpha_N / self.alpha_D:.3g} is outside "
                             f"[{lo:g}, {hi:g}] (0.74 in Kaplan et al. 2020)")
        return self


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


class MappingFile(StrictModel):
    """A downstream mapping file written by ``planner fit-downstream`` (path relative to the
    budget file)."""

    file: str


def _mapping_spec(v: Any) -> Any:
    if isinstance(v, str) or (isinstance(v, dict) and set(v) == {"file"}) \
            or isinstance(v, MappingFile):
        return v
    raise ValueError("expected a preset name (planner downstream-presets) or {file: PATH}")


class DownstreamTarget(StrictModel):
    """Average top-1 error (a fraction) to reach, turned into a loss through a mapping
    ``Err(L) = ε − k·exp(−γ·L)`` (Gadre et al. 2024, arXiv 2403.08540): a preset name
    (``planner.laws.downstream.PRESET_NAMES``) or ``{file: mapping.yaml}``."""

    error: Annotated[float, BeforeValidator(_finite), Field(gt=0, lt=1, allow_inf_nan=False)]
    mapping: Annotated[Union[str, MappingFile], BeforeValidator(_mapping_spec)]


class Target(StrictModel):
    loss: Optional[Annotated[float, BeforeValidator(_finite),
                             Field(gt=0, le=MAX_LOSS_NATS)]] = None
    match: Optional[MatchTarget] = None
    downstream: Optional[DownstreamTarget] = None

    @model_validator(mode="after")
    def _one(self) -> "Target":
        if sum(x is not None for x in (self.loss, self.match, self.downstream)) != 1:
            raise ValueError("give exactly one of 'loss', 'match' or 'downstream'")
        return self
