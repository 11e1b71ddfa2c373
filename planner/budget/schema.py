"""The budget file: YAML schema (pydantic) and loader with ``file:line:col`` errors.

Quantities accept ``13B``, ``2T``, ``1.5e12``, ``2_000_000`` (planner.units).  Unknown keys are
errors with a did-you-mean hint.  ``planner schema`` prints this model's JSON Schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from planner.budget.base import SCHEMA_VERSION, StrictModel
from planner.budget.demand import Inference
from planner.budget.law_target import (
    LAW_TAGS,
    InlineChinchillaLaw,
    InlineKaplanLaw,
    LawFile,
    LawSpec,
    PresetLaw,
    Target,
)
from planner.budget.limits import (
    check_numbers,
)
from planner.budget.specs import (
    Bounds,
    DataSpec,
    ModelSpec,
    ServeSpec,
    TrainSpec,
    UncertaintySpec,
    _model_from_str,
    _uncertainty,
)
from planner.errors import InputError
from planner.yaml_io import Marks, format_validation_error, read_yaml, read_yaml_file


class Budget(StrictModel):
    """A planning budget (``schema_version: 1``)."""

    schema_version: Literal[1]
    name: Optional[str] = None
    description: Optional[str] = None
    law: LawSpec = Field(default_factory=lambda: PresetLaw(preset="epoch2024"))
    target: Target
    inference: Inference = Field(default_factory=lambda: Inference(tokens=0.0))
    objective: Literal["flops", "usd", "gpu_hours", "energy_kwh"] = "flops"
    constraints: Bounds = Field(default_factory=Bounds)
    train: Optional[TrainSpec] = None
    serve: Optional[ServeSpec] = None
    model: Annotated[Optional[ModelSpec], BeforeValidator(_model_from_str)] = None
    solver: Literal["auto", "gp", "iso_loss"] = "auto"
    data: Optional[DataSpec] = None
    uncertainty: Annotated[Optional[UncertaintySpec], BeforeValidator(_uncertainty)] = None

    @model_validator(mode="after")
    def _cross(self) -> "Budget":
        """Checks across blocks that need no law file, profile or solver."""
        if (self.uncertainty is not None and not isinstance(self.law, LawFile)
                and getattr(self.target, "downstream", None) is None):  # a mapping may have it
            from planner.analysis.uncertainty import PUBLISHED_SE

            name = self.law.preset if isinstance(self.law, PresetLaw) else self.law.name
            form = _law_form(self.law)
            if not (name in PUBLISHED_SE and form is not None and form[0] == "chinchilla"):
                raise ValueError(f"@uncertainty: law {name} has no uncertainty information: "
                                 "fit it with planner fit --bootstrap N and use law: {file: ...}"
                                 f" (or a law with published standard errors: "
                                 f"{', '.join(sorted(PUBLISHED_SE))})")
        serve = self.serve
        if serve is None:
            return self
        if not self.inference.by_request:
            for fld in ("max_time_per_output_token_ms", "max_time_to_first_token_ms"):
                if getattr(serve, fld) is not None:
                    raise ValueError(f"@serve.{fld}: needs inference demand as requests with "
                                     "tokens_per_request")
        if serve.quantization_penalty != "none" and serve.weight_bits != 16:
            form = _law_form(self.law)
            if form is not None and not form[1]:
                raise ValueError(f"@serve.quantization_penalty: the {form[0]} law cannot take an "
                                 "additive loss penalty; use quantization_penalty: none or a "
                                 "Chinchilla-form law")
        return self

    _source: Optional[str] = PrivateAttr(default=None)
    _marks: Optional[Marks] = PrivateAttr(default=None)  # default_factory costs ~40 µs

    @property
    def uses_hardware(self) -> bool:
        """True when costs go through hardware profiles (train/serve given, or a non-FLOPs
        objective or dollar limit)."""
        return (self.train is not None or self.serve is not None or self.objective != "flops"
                or self.constraints.max_total_usd is not None)

    @property
    def source(self) -> Optional[str]:
        """The file the budget was read from (None for dicts)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        return Path(self._source).parent if self._source else Path.cwd()

    def where(self, *path) -> str:
        """``file:line:col`` of a field, for messages about it."""
        line, col = (self._marks or {}).get(tuple(path), (0, 0))
        name = self._source or "<budget>"
        return f"{name}:{line}:{col}" if line else name


def _law_form(spec: Any) -> Optional[tuple[str, bool]]:
    """``(form, takes a quantisation penalty)`` of a budget's law when known without reading
    files (None for law files)."""
    from planner.laws import ALL_PRESETS, ChinchillaLaw, KaplanLaw

    if isinstance(spec, InlineKaplanLaw):
        law = KaplanLaw
    elif isinstance(spec, InlineChinchillaLaw):
        law = ChinchillaLaw
    elif isinstance(spec, PresetLaw):
        law = ALL_PRESETS.get(spec.preset)
    else:
        return None
    if law is None:
        return None
    return law.form, bool(getattr(law, "takes_quantization_penalty", law.form == "chinchilla"))


def budget_from_data(data: Any, marks: Marks | None = None, where: str = "<budget>") -> Budget:
    """Validate a parsed budget (dict) into a ``Budget``; ``InputError`` on anything wrong.

    Numbers beyond ``planner.budget.limits.MAX_ABS_NUMBER`` are refused first, so nothing
    overflows while validating."""
    marks = marks or {}
    if not isinstance(data, dict):
        line, col = marks.get((), (1, 1))
        raise InputError(f"{where}:{line}:{col}: (top level): a budget is a mapping of keys "
                         f"(schema_version, law, ...), got {_kind(data)}")
    check_numbers(data, marks, where)
    if "schema_version" not in data:
        raise InputError(f"{where}:1:1: schema_version: required key is missing (use 1)")
    if data.get("schema_version") != SCHEMA_VERSION:
        line, col = marks.get(("schema_version",), (1, 1))
        raise InputError(f"{where}:{line}:{col}: schema_version: this planner reads "
                         f"schema_version {SCHEMA_VERSION}, got {data.get('schema_version')!r}")
    if "scenarios" in data:
        line, col = marks.get(("scenarios", "__key__"), marks.get(("scenarios",), (1, 1)))
        raise InputError(f"{where}:{line}:{col}: scenarios: this is a scenario file (a budget "
                         "with named overrides); plan it with 'planner compare', or one "
                         "scenario at a time from a budget without 'scenarios:'")
    try:
        base_dir = Path(where).parent if where not in ("<budget>", "<string>") else None
        budget = Budget.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise InputError(_format(exc, marks, where)) from None
    budget._source = None if where == "<budget>" else where
    budget._marks = marks
    return budget


def _kind(data: Any) -> str:
    if isinstance(data, list):
        return "a list"
    if data is None:
        return "nothing"
    return f"a {type(data).__name__} value"


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
                msg = e.get("msg", "")
                if msg.startswith("Value error, @"):  # a cross-field check names its field
                    sub, _, rest = msg[len("Value error, @"):].partition(": ")
                    e["loc"] = e["loc"] + tuple(sub.split("."))
                    e["msg"] = rest
                if e["loc"][:2] == ("model", "pins"):  # partial pins are written in model:
                    e["loc"] = ("model",) + e["loc"][2:]
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
    """Draft 2020-12 JSON Schema of the budget file as people write it
    (planner.budget.json_schema)."""
    from planner.budget.json_schema import budget_schema

    return budget_schema()
