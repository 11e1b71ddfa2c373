"""Known models by name (``model: llama-3-8b``) or by a Hugging Face ``config.json`` on disk.

``resolve_model(data, base_dir)`` turns the ``model:`` block of a budget into the fields of
``planner.budget.ModelSpec`` (params, n_layer, d_model, n_heads, n_kv_heads, vocab), so the cost
model uses a known shape unchanged.  Nothing is downloaded.  See docs/models.md.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Any, Optional

from planner.models.catalog import KNOWN_MODELS, KnownModel
from planner.models.shape import (
    ConfigError,
    TransformerShape,
    read_config,
    shape_from_config,
)

SHAPE_FIELDS = ("params", "n_layer", "d_model", "n_heads", "n_kv_heads", "vocab")


def known_shape(name: str) -> TransformerShape:
    """The shipped shape called ``name``; ``ConfigError`` with a did-you-mean hint otherwise."""
    try:
        model = KNOWN_MODELS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(KNOWN_MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint}; known: "
                          f"{', '.join(KNOWN_MODELS)}") from None
    return shape_from_config(model.config, name)


@functools.lru_cache(maxsize=64)
def _read_cached(path: str, mtime_ns: int, size: int) -> TransformerShape:
    return read_config(path)


def config_shape(path: str | Path, base_dir: Optional[Path] = None) -> tuple[TransformerShape, str]:
    """Shape from a ``config.json`` (relative paths: to ``base_dir``) and the path as shown."""
    p = Path(path)
    full = p if p.is_absolute() or base_dir is None else Path(base_dir) / p
    try:
        st = full.stat()
    except OSError:
        raise ConfigError(f"{full}: no such file") from None
    return _read_cached(str(full), st.st_mtime_ns, st.st_size), str(full)


def resolve_model(data: dict[str, Any], base_dir: Optional[Path] = None) -> dict[str, Any]:
    """Fill a ``model:`` mapping that names a ``preset`` or a ``config`` with the shape's fields.

    Fields given beside them must agree with the shape (a pinned ``params`` that differs is an
    error, not an override).  Raises ``ConfigError`` (a ``ValueError``) with a one-line message.
    """
    preset, config = data.get("preset"), data.get("config")
    if preset is None and config is None:
        return data
    if preset is not None and config is not None:
        raise ConfigError("give 'preset' or 'config', not both")
    if preset is not None:
        if not isinstance(preset, str):
            raise ConfigError(f"preset: expected a model name, got {preset!r}")
        shape, label = known_shape(preset), preset
    else:
        if not isinstance(config, str):
            raise ConfigError(f"config: expected a path to a config.json, got {config!r}")
        shape, label = config_shape(config, base_dir)
    fields = shape.model_fields()
    out = dict(data)
    for key, value in fields.items():
        given = out.get(key)
        if given is None:
            out[key] = value
            continue
        try:
            same = float(given) == float(value) if key == "params" else given == value
        except (TypeError, ValueError):
            same = False
        if not same:
            raise ConfigError(f"{key}: {given!r} disagrees with {label} ({value:g}); leave it "
                              "out to use the shape's value")
    return out


def describe(spec) -> str:
    """One sentence on a budget's ``model:`` (a ``ModelSpec``): N, and where its shape came
    from (a shipped model's source, a config file, or the budget itself)."""
    from planner.units import format_count

    n = f"{format_count(spec.params)} parameters"
    if getattr(spec, "preset", None) in KNOWN_MODELS:
        return (f"`{spec.preset}`, {n} counted from its shape "
                f"(source: {KNOWN_MODELS[spec.preset].source})")
    if getattr(spec, "config", None):
        return f"{n} counted from `{spec.config}` (a Hugging Face config.json)"
    return f"{n}, as given in the budget"


__all__ = ["KNOWN_MODELS", "SHAPE_FIELDS", "ConfigError", "KnownModel", "TransformerShape",
           "config_shape", "describe", "known_shape", "read_config", "resolve_model", "shape_from_config"]
