"""Loss laws: presets by name, and lookup for budgets."""

from __future__ import annotations

from typing import Union

from planner.errors import InputError
from planner.laws.chinchilla import (
    DEFAULT_LAW,
    PRESETS,
    ChinchillaLaw,
    LawInfo,
    PosyLoss,
)
from planner.laws.data_constrained import DataConstrainedLaw
from planner.laws.kaplan import KaplanLaw

Law = Union[ChinchillaLaw, KaplanLaw, DataConstrainedLaw]

ALL_PRESETS: dict[str, Law] = {**PRESETS, "kaplan2020": KaplanLaw(),
                               "muennighoff2023": DataConstrainedLaw()}


def get_preset(name: str) -> Law:
    """The preset called ``name``; an ``InputError`` with a did-you-mean hint otherwise."""
    try:
        return ALL_PRESETS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(ALL_PRESETS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(
            f"unknown law preset {name!r}{hint}; known: {', '.join(ALL_PRESETS)}"
        ) from None


__all__ = [
    "ALL_PRESETS",
    "DEFAULT_LAW",
    "PRESETS",
    "ChinchillaLaw",
    "DataConstrainedLaw",
    "KaplanLaw",
    "Law",
    "LawInfo",
    "PosyLoss",
    "get_preset",
]
