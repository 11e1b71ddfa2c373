"""The ``inference:`` block: lifetime demand as tokens, requests, or a rate × lifetime, with
the request shape."""

from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import (
    model_validator,
)

from planner.budget.base import NonNegQuantity, PositiveFloat, StrictModel
from planner.units import parse_quantity

# ---- inference demand -----------------------------------------------------------------------
DEFAULT_TOKENS_PER_REQUEST = (1000.0, 250.0)
"""Request shape assumed for demand given as a token total (4:1 input:output, an assumption
stated in the plan; give ``tokens_per_request`` to replace it)."""


class TokensPerRequest(StrictModel):
    input: NonNegQuantity = 0.0
    output: NonNegQuantity = 0.0


class Inference(StrictModel):
    """Lifetime inference demand: total tokens, or requests × tokens per request, where
    requests may be a rate × lifetime (``requests_per_month`` × ``months``)."""

    tokens: Optional[NonNegQuantity] = None
    requests: Optional[NonNegQuantity] = None
    requests_per_month: Optional[NonNegQuantity] = None
    months: Optional[PositiveFloat] = None
    tokens_per_request: Optional[TokensPerRequest] = None

    @model_validator(mode="before")
    @classmethod
    def _rate(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k not in cls.model_fields for k in data):
            return data  # an unknown key (a typo such as 'request_per_month'): reported with
            # its line and a did-you-mean hint by the schema, before any pairing rule
        if isinstance(data, dict) and ("requests_per_month" in data or "months" in data):
            if "requests" in data:
                raise ValueError("give 'requests' or 'requests_per_month' with 'months', "
                                 "not both")
            if "requests_per_month" not in data or "months" not in data:
                raise ValueError("'requests_per_month' and 'months' go together")
            try:
                rpm = parse_quantity(data["requests_per_month"], what="requests_per_month")
                months = parse_quantity(data["months"], what="months")
            except ValueError as exc:
                raise ValueError(str(exc)) from None
            data = {**data, "requests": rpm * months}
        return data

    @property
    def requests_per_second(self) -> Optional[float]:
        """Average request rate (requests/s, 30-day months) when a rate was given."""
        if self.requests_per_month is None:
            return None
        return self.requests_per_month / (30.0 * 86400.0)

    @model_validator(mode="after")
    def _shape(self) -> "Inference":
        if self.tokens is not None and self.requests is not None:
            raise ValueError("give either 'tokens' (optionally with 'tokens_per_request', the "
                             "request shape) or 'requests' with 'tokens_per_request'")
        if self.tokens is None and self.requests is None and self.tokens_per_request is None:
            raise ValueError("give 'tokens' or 'requests' with 'tokens_per_request'")
        if self.tokens is None and (self.requests is None or self.tokens_per_request is None):
            raise ValueError("'requests' and 'tokens_per_request' go together")
        if self.tokens is not None and self.tokens_per_request is not None and (
                self.tokens_per_request.input + self.tokens_per_request.output) <= 0:
            raise ValueError("'tokens_per_request' must have input + output > 0")
        return self

    @property
    def request_shape(self) -> tuple[float, float, str]:
        """(input, output) tokens per request and where the split came from: given, or for a
        token total without ``tokens_per_request`` the documented default
        ``DEFAULT_TOKENS_PER_REQUEST`` (docs/serving-model.md)."""
        if self.tokens_per_request is not None:
            return (self.tokens_per_request.input, self.tokens_per_request.output, "given")
        i, o = DEFAULT_TOKENS_PER_REQUEST
        return (i, o, f"default split: {i:g} input + {o:g} output tokens per request")

    @property
    def lifetime_requests(self) -> float:
        """Requests over the lifetime (a token total divided by the request shape)."""
        if self.tokens is None:
            return self.requests
        i, o, _ = self.request_shape
        return self.tokens / (i + o)

    @property
    def input_tokens(self) -> float:
        """Lifetime prompt tokens (a token total split by the request shape)."""
        return self.lifetime_requests * self.request_shape[0]

    @property
    def output_tokens(self) -> float:
        return self.lifetime_requests * self.request_shape[1]

    @property
    def total_tokens(self) -> float:
        if self.tokens is not None:
            return self.tokens
        return self.input_tokens + self.output_tokens

    @property
    def by_request(self) -> bool:
        """True when demand is requests with a shape (latency SLOs need it)."""
        return self.tokens is None and self.tokens_per_request is not None


HardwareRef = Union[str, dict]
"""A profile name (``h100-sxm``), a YAML file path, or inline fields (may ``extends:``)."""
