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
    """SafeLoader with YAML 1.2 scalars and a nesting-depth limit while composing (PyYAML's
    composer recurses; a 10,000-deep ``[[[...]]]`` would raise RecursionError)."""

    _depth = 0
    max_depth = 32

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise _TooDeep(mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _TooDeep(Exception):
    def __init__(self, mark):
        super().__init__("too deep")
        self.mark = mark


# C0 control characters other than tab, newline and carriage return; DEL; C1 controls
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


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


class _Budget:
    """Counts values built again through aliases against ``MAX_YAML_ALIAS_VALUES``."""

    def __init__(self, limit: int, depth: int):
        self.left = limit
        self.limit = limit
        self.depth = depth
        self.seen: set[int] = set()


def _construct(loader: _Loader, node, path: tuple, marks: Marks, where: str,
               budget: "_Budget | None" = None):
    if budget is not None:
        if id(node) in budget.seen:  # built again through an alias: counts against the limit
            budget.left -= 1
        else:
            budget.seen.add(id(node))
        if budget.left < 0:
            raise InputError(f"{where}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: "
                             f"YAML aliases expand to more than {budget.limit:,} "
                             "values; refused")
        if len(path) > budget.depth:  # an alias cycle (&a [*a]) or an alias-built tower
            raise InputError(f"{where}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: "
                             f"nested deeper than {budget.depth} levels (a YAML alias that "
                             "refers to itself?); refused")
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
            out[key] = _construct(loader, value_node, path + (key,), marks, where, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, v, path + (i,), marks, where, budget)
                for i, v in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp out of range
        raise InputError(f"{where}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: "
                         f"cannot read value: {' '.join(str(exc).split())}") from None


def check_text(text: str, where: str) -> None:
    """Refuse control characters (NUL, escape, ...) with ``file:line:col``; tab, newline and
    carriage return are fine."""
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise InputError(f"{where}:{line}:{col}: control character U+{ord(bad.group()):04X} "
                         "is not allowed in a text file")


def decode_utf8(raw: bytes, where: str) -> str:
    """UTF-8 text of ``raw`` (a leading byte-order mark dropped); ``InputError`` naming the
    byte offset, line and column of the first byte that is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"{where}:{line}:{col}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at "
                         f"byte offset {exc.start}") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_yaml(text: str, where: str = "<string>") -> tuple[Any, Marks]:
    """Parse YAML text; return ``(data, marks)``.  Raises ``InputError`` naming file:line:col.

    Refuses control characters, nesting deeper than ``MAX_YAML_DEPTH`` and alias expansion
    beyond ``MAX_YAML_ALIAS_VALUES`` values (planner.budget.limits)."""
    from planner.budget.limits import (
        MAX_INPUT_BYTES,
        MAX_YAML_ALIAS_VALUES,
        MAX_YAML_DEPTH,
    )

    if len(text) > MAX_INPUT_BYTES:
        raise InputError(f"{where}: {len(text):,} characters; at most {MAX_INPUT_BYTES:,} "
                         "are read")
    if text.startswith("\ufeff"):
        text = text[1:]
    check_text(text, where)
    loader = _Loader(text)
    loader.max_depth = MAX_YAML_DEPTH
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError(f"{where}:1:1: the file is empty")
        marks: Marks = {}
        data = _construct(loader, node, (), marks, where,
                          _Budget(MAX_YAML_ALIAS_VALUES, MAX_YAML_DEPTH))
        return data, marks
    except _TooDeep as exc:
        raise InputError(f"{where}:{exc.mark.line + 1}:{exc.mark.column + 1}: nested deeper "
                         f"than {MAX_YAML_DEPTH} levels; refused") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = " ".join((exc.problem or exc.context or "malformed YAML").split())
        raise InputError(f"{where}{pos}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: malformed YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise InputError(f"{where}: nested too deeply; refused") from None
    finally:
        loader.dispose()


def c_loader_safe(text: str, where: str) -> bool:
    """True when libyaml's C composer may build ``text``: no control characters (refused here
    with ``file:line:col``), nesting within ``MAX_YAML_DEPTH`` and no aliases, checked on the
    C parser's events (iterative, so a 10,000-deep document cannot exhaust the C stack).
    False sends the caller to :func:`read_yaml`, which refuses or words the problem."""
    from planner.budget.limits import MAX_INPUT_BYTES, MAX_YAML_DEPTH

    if len(text) > MAX_INPUT_BYTES:
        return False
    check_text(text, where)
    depth = 0
    try:
        for ev in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    return False
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(ev, yaml.AliasEvent):
                return False
    except yaml.YAMLError:
        return False
    return True


def read_text_file(path: str | Path) -> str:
    """A text file's UTF-8 contents, size-limited; one-line ``InputError`` naming the path."""
    from planner.budget.limits import MAX_INPUT_BYTES

    p = Path(path)
    try:
        if p.is_dir():
            raise InputError(f"{p}: is a directory, not a file")
        with p.open("rb") as fh:
            raw = fh.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(f"{p}: larger than {MAX_INPUT_BYTES:,} bytes; refused")
    return decode_utf8(raw, str(p))


def read_yaml_file(path: str | Path) -> tuple[Any, Marks]:
    p = Path(path)
    return read_yaml(read_text_file(p), str(p))


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
        if isinstance(err["input"], str):
            from planner.units import quantity_hint

            msg += quantity_hint(err["input"])
    if not line:  # a place the YAML has no value for (a missing key): its parent mapping
        line, col = marks.get(path, (1, 1)) if marks else (0, 0)
    pos = f":{line}:{col}" if line else ""
    return " ".join(f"{where}{pos}: {field}: {msg}".split())


def merge_mappings(base: dict, over: dict) -> dict:
    """``base`` with ``over`` merged in: nested mappings merge key by key, a ``None`` value
    deletes the key, anything else replaces it.  Neither input is modified.  The one merge of
    the planner: profiles' ``extends:`` and budget overrides (``planner.budget.edit.merge``)."""
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_mappings(out[k], v)
        else:
            out[k] = v
    return out
