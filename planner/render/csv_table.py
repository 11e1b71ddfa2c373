"""CSV text from flat rows (sweeps, comparisons): one column per key in first-seen order,
floats written exactly (``repr``), non-finite values as empty cells."""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Iterable


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    return v


def csv_text(rows: Iterable[dict[str, Any]]) -> str:
    """The rows as CSV text (header first)."""
    rows = list(rows)
    columns: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                columns.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(v) for k, v in r.items()})
    return buf.getvalue()
