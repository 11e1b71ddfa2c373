"""Strict YAML reading with line marks, and pydantic errors turned into ``file:line:col`` lines.

PyYAML's ``safe_load`` reads ``1.5e12`` as a string, ``no`` as False and keeps the last of two
duplicate keys (YAML 1.1 resolution rules).  This loader reads YAML 1.2-style floats and booleans,
rejects duplicate keys, and records where every value came from.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from planner.errors import InputError


class _Loader(yaml.SafeLoader):
    pass


_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != _BOOL] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

Marks = dict[tuple, tuple[int, int]]  # path -> (line, column), 1-based


def _construct(loader: _Loader, node, path: tuple, marks: Marks, where: str):
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float)):
                raise InputError(f"{where}:{key_node.start_mark.line + 1}:"
                                 f"{key_node.start_mark.column + 1}: keys must be plain names")
            key = str(key)
            if key in out:
                raise InputError(
                    f"{where}:{key_node.start_mark.line + 1}:{key_node.start_mark.column + 1}: "
                    f"duplicate key {key!r} (first at line {marks[path + (key,)][0]})"
                )
            marks[path + (key,) + ("__key__",)] = (key_node.start_mark.line + 1,
                                                   key_node.start_mark.column + 1)
            out[key] = _construct(loader, value_node, path + (key,), marks, where)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, v, path + (i,), marks, where) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def read_yaml(text: str, where: str = "<string>") -> tuple[Any, Marks]:
    """Parse YAML text; return ``(data, marks)``.  Raises ``InputError`` naming file:line:col."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError(f"{where}: the file is empty")
        marks: Marks = {}
        return _construct(loader, node, (), marks, where), marks
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = (exc.problem or exc.context or "malformed YAML").strip()
        raise InputError(f"{where}{pos}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: malformed YAML: {exc}") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path) -> tuple[Any, Marks]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read: {exc}") from None
    return read_yaml(text, str(p))


def _models_in(annotation) -> list:
    """Pydantic model classes named by an annotation (through Optional, Union, Annotated)."""
    import typing

    if hasattr(annotation, "model_fields"):
        return [annotation]
    out = []
    for arg in typing.get_args(annotation):
        out += _models_in(arg)
    return out


def _model_fields_at(model, loc: tuple) -> list[str]:
    """Field names of the pydantic model(s) reached by walking ``loc`` from ``model``."""
    current = [model]
    for part in loc:
        nxt = []
        for m in current:
            fields = getattr(m, "model_fields", {})
            if part in fields:
                nxt += _models_in(fields[part].annotation)
        current = nxt
    names: list[str] = []
    for m in current:
        names += [f for f in getattr(m, "model_fields", {}) if f not in names]
    return names


def format_validation_error(exc, marks: Marks, where: str, model=None) -> str:
    """First error of a pydantic ``ValidationError`` as ``file:line:col: field: message``."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    # pydantic adds union-member tags to loc; keep the parts that exist in the YAML
    path: tuple = ()
    for part in loc:
        if path + (part,) in marks:
            path = path + (part,)
    if err["type"] == "extra_forbidden":  # point at the offending key
        line, col = marks.get(path + ("__key__",), marks.get(path, (0, 0)))
    else:  # point at the offending value
        line, col = marks.get(path, (0, 0))
    field = ".".join(str(p) for p in loc) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        known = _model_fields_at(model, loc[:-1]) if model is not None else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        msg = f"unknown key {str(loc[-1])!r}"
        if close:
            msg += f" (did you mean {close[0]!r}?)"
        elif known:
            msg += f"; expected one of: {', '.join(known)}"
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif isinstance(err.get("input"), (int, float, str)) and not isinstance(err["input"], bool):
        msg = f"{msg} (got {err['input']!r})"
    pos = f":{line}:{col}" if line else ""
    return f"{where}{pos}: {field}: {msg}"
