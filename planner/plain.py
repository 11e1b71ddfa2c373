"""Records as plain data: a dataclass as a dict of its fields, recursively."""

from __future__ import annotations

import dataclasses
from typing import Any


def as_plain(obj: Any) -> Any:
    """``dataclasses.asdict`` for records whose leaves are immutable (numbers, strings,
    None): dataclasses become dicts, dicts, lists and tuples are copied, leaves are shared
    instead of deep-copied (a sweep converts thousands of training plans)."""
    t = type(obj)
    if t is dict:
        return {k: as_plain(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return t(as_plain(v) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    return obj
