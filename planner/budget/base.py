"""Building blocks of the budget schema: the strict model base, quantity and finite-number
validators, the schema version."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from planner.budget.limits import (
    MAX_COUNT,
    MAX_FLOPS,
)
from planner.units import parse_quantity

SCHEMA_VERSION = 1


def _quantity(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return parse_quantity(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


Quantity = Annotated[float, BeforeValidator(_quantity), Field(ge=1, le=MAX_FLOPS)]
"""A count of at least 1: 13B, 2T, 1.5e12 (at most 1e32, planner.budget.limits)."""
NonNegQuantity = Annotated[float, BeforeValidator(_quantity), Field(ge=0, le=MAX_COUNT)]
PositiveFloat = Annotated[float, BeforeValidator(_finite),
                          Field(gt=0, le=MAX_FLOPS, allow_inf_nan=False)]
Fraction = Annotated[float, BeforeValidator(_finite), Field(gt=0, le=1, allow_inf_nan=False)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
