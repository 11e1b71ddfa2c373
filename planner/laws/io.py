"""Fitted-law files: what ``planner fit -o law.yaml`` writes and ``law: {file: ...}`` reads.

The file records the form, the constants, their standard errors and 95% intervals, the fitted
ranges, the fit's objective and source, and the bootstrap samples (one row of constants each).

Version 2 writes the samples last, one flow-style row per sample (``- [E, A, B, alpha, beta]``,
shortest round-trip decimals), after ``bootstrap_count`` and ``bootstrap_sha256`` (SHA-256 of
the samples as little-endian float64, row-major).  The file stays plain YAML (readable,
diffable, loadable by any YAML parser), but the loader parses the small head with the strict
YAML reader and the sample rows with numpy, so 4,000 samples load in milliseconds instead of a
second.  Files that do not have this layout (version 1, hand edits) are read as YAML; both
paths check the count, the checksum, and that every sample is finite and in range.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io as _io
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import yaml

from planner.errors import InputError
from planner.files import atomic_write
from planner.laws import ChinchillaLaw, KaplanLaw, LawInfo
from planner.yaml_io import read_yaml

LAW_FILE_VERSION = 2
_NAMES = {"chinchilla": ("E", "A", "B", "alpha", "beta"),
          "kaplan": ("alpha_N", "alpha_D", "N_c", "D_c"),
          "data-constrained": ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")}
_SAMPLES_KEY = "\nbootstrap_samples:\n"


def samples_sha256(samples: np.ndarray) -> str:
    """SHA-256 (hex) of the samples as a row-major little-endian float64 array."""
    return hashlib.sha256(np.ascontiguousarray(samples, dtype="<f8").tobytes()).hexdigest()


def law_file_text(fit, name: str) -> str:
    """The law file of a ``FitResult`` as text (version 2)."""
    info = fit.law.info
    samples = np.zeros((0, len(_NAMES[fit.form]))) if fit.samples is None else \
        np.asarray(fit.samples, dtype=float)
    doc = {
        "law_file_version": LAW_FILE_VERSION,
        "form": fit.form,
        "name": name,
        "constants": {k: float(v) for k, v in fit.constants.items()},
        "stderr": {k: float(v) for k, v in fit.stderr.items()},
        "ci95": {k: [float(a), float(b)] for k, (a, b) in fit.ci95.items()},
        "objective": float(fit.objective),
        "n_runs": int(fit.n_runs),
        "fitted_params": [float(x) for x in info.fitted_params or ()],
        "fitted_tokens": [float(x) for x in info.fitted_tokens or ()],
        "fitted_tokens_per_param": [float(x) for x in info.fitted_tokens_per_param or ()],
        "source": info.source,
        "runs_file": fit.source,
        "date": _dt.date.today().isoformat(),
        "holdout": None if fit.holdout is None else {
            k: v for k, v in fit.holdout.items() if k != "runs"},
        "bootstrap_count": int(len(samples)),
        "bootstrap_sha256": samples_sha256(samples),
    }
    head = yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
    cols = "bootstrap_columns: [" + ", ".join(_NAMES[fit.form]) + "]\n"
    if not len(samples):
        return head + cols + "bootstrap_samples: []\n"
    rows = "\n".join("- [" + ", ".join(map(_yaml_float, row)) + "]" for row in samples)
    return (head + cols + "# one row per bootstrap sample, columns as bootstrap_columns\n"
            "bootstrap_samples:\n" + rows + "\n")


def _yaml_float(x) -> str:
    """Shortest round-trip decimal, with a '.' in the mantissa so that YAML 1.1 readers
    (PyYAML's safe_load) read ``6.0e-09`` as a float, not the string ``6e-09``."""
    r = repr(float(x))
    if "e" in r and "." not in r:
        m, e = r.split("e")
        r = f"{m}.0e{e}"
    return r


def save_law_file(fit, path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Write a ``FitResult`` as a law file (atomically; refuses a path among ``inputs``)."""
    return atomic_write(path, law_file_text(fit, Path(path).stem), inputs=inputs)


def _read_text(p: Path) -> str:
    from planner.yaml_io import read_text_file  # size limit, UTF-8 with the byte offset

    return read_text_file(p)


def _read_yaml_fast(text: str, where: str):
    """``planner.yaml_io.read_yaml`` (same strict rules and line marks) on libyaml's C parser
    where PyYAML has it: the pure-Python scanner alone costs ~10 ms on a law file's head."""
    from planner import yaml_io

    if not getattr(yaml, "__with_libyaml__", False) or not yaml_io.c_loader_safe(text, where):
        return read_yaml(text, where)  # nesting, aliases, odd text: the checked reader

    class _CLoader(yaml.CSafeLoader):
        yaml_implicit_resolvers = yaml_io._Loader.yaml_implicit_resolvers

    loader = _CLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError(f"{where}: the file is empty")
        marks: dict = {}
        return yaml_io._construct(loader, node, (), marks, where), marks
    except yaml.YAMLError:
        return read_yaml(text, where)  # the pure-Python reader words the error
    finally:
        loader.dispose()


def _fast_rows(text: str) -> Optional[tuple[str, np.ndarray, int]]:
    """(head, rows, line of ``bootstrap_samples:``) when the samples are the file's last key in
    version-2 layout; None otherwise (then the whole file is read as YAML)."""
    pos = text.find(_SAMPLES_KEY)
    if pos < 0:
        return None
    head, body = text[:pos + 1], text[pos + len(_SAMPLES_KEY):]
    if not body.startswith("- ["):
        return None
    try:
        rows = np.loadtxt(_io.StringIO(body.replace("- [", "").replace("]", "")),
                          delimiter=",", ndmin=2, dtype=float)
    except ValueError:
        return None
    return head, rows, head.count("\n") + 1


def load_law_file(path: str | Path):
    """A law from a law file; ``InputError`` naming the file and field otherwise."""
    p = Path(path)
    text = _read_text(p)
    fast = _fast_rows(text)
    if fast is not None:
        head, rows, samples_line = fast
        data, marks = _read_yaml_fast(head, str(p))
        if isinstance(data, dict) and "bootstrap_samples" in data:
            fast = None  # a second bootstrap_samples key: let the YAML reader say so
    if fast is None:
        data, marks = _read_yaml_fast(text, str(p))
    from planner.budget.limits import check_law_file_data  # shapes and bounds first

    check_law_file_data(data, marks, str(p))
    if not isinstance(data, dict) or "constants" not in data or "form" not in data:
        raise InputError(f"{p}: not a law file (needs 'form' and 'constants'; write one with "
                         "planner fit -o)")
    form = data["form"]
    if form not in _NAMES:
        raise InputError(f"{p}: form: unknown law form {form!r}")
    consts = data["constants"]
    values = {}
    for k in _NAMES[form]:
        v = consts.get(k) if isinstance(consts, dict) else None
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or (
                k != "E" and v <= 0) or v < 0:
            line = marks.get(("constants", k), marks.get(("constants",), (0, 0)))[0]
            raise InputError(f"{p}:{line}: constants.{k}: expected a positive number, got {v!r}")
        values[k] = float(v)
    if fast is not None:
        samples = rows
        row_line = lambda i: samples_line + 1 + i  # noqa: E731
    else:
        samples, row_line = _yaml_samples(p, data, marks, len(_NAMES[form]))
    samples = _check_samples(p, data, marks, form, samples, row_line)
    rng = lambda key: tuple(data[key]) if data.get(key) else None  # noqa: E731
    info = LawInfo(source=str(data.get("source", f"law file {p}")),
                   provenance="fitted", fitted_params=rng("fitted_params"),
                   fitted_tokens=rng("fitted_tokens"),
                   fitted_tokens_per_param=rng("fitted_tokens_per_param"),
                   note=f"law file {p}")
    name = str(data.get("name", p.stem))
    if form == "kaplan":
        return KaplanLaw(name=name, info=info, **values)
    if form == "data-constrained":
        from planner.laws import DataConstrainedLaw

        return DataConstrainedLaw(name=name, info=info, **values)
    return ChinchillaLaw(name=name, info=info, samples=samples, **values)


def _yaml_samples(p: Path, data: dict, marks, width: int):
    """Samples from a parsed YAML ``bootstrap_samples`` list (version 1, or hand-edited)."""
    raw = data.get("bootstrap_samples")
    base = marks.get(("bootstrap_samples",), (0, 0))[0]
    row_line = lambda i: marks.get(("bootstrap_samples", i), (base, 0))[0]  # noqa: E731
    if not raw:
        return np.zeros((0, width)), row_line
    if not isinstance(raw, list):
        raise InputError(f"{p}:{base}: bootstrap_samples: expected a list of rows")
    for i, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != width or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in row):
            raise InputError(f"{p}:{row_line(i)}: bootstrap_samples[{i}]: expected a row of "
                             f"{width} numbers")
    return np.asarray(raw, dtype=float), row_line


def _check_samples(p: Path, data: dict, marks, form: str, samples: np.ndarray, row_line):
    """Shape, count, checksum, finite and in range (E ≥ 0, every other constant > 0)."""
    names = _NAMES[form]
    line = lambda key: marks.get((key,), (0, 0))[0]  # noqa: E731
    cols = data.get("bootstrap_columns")
    if cols is not None and list(cols) != list(names):
        raise InputError(f"{p}:{line('bootstrap_columns')}: bootstrap_columns: expected "
                         f"{list(names)}, got {cols!r}")
    if samples.ndim != 2 or (len(samples) and samples.shape[1] != len(names)):
        raise InputError(f"{p}:{line('bootstrap_samples')}: bootstrap_samples: expected rows "
                         f"of {len(names)} numbers ({', '.join(names)})")
    version = data.get("law_file_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(f"{p}:{line('law_file_version')}: law_file_version: expected 1 or "
                         f"{LAW_FILE_VERSION}, got {version!r}")
    count = data.get("bootstrap_count")
    if version >= 2 and count is None:
        raise InputError(f"{p}: bootstrap_count: missing (law_file_version {version})")
    if count is not None and count != len(samples):
        raise InputError(f"{p}:{line('bootstrap_count')}: bootstrap_count: says {count}, "
                         f"the file has {len(samples)} rows of bootstrap_samples")
    bad = ~np.all(np.isfinite(samples), axis=1)
    low = np.zeros(len(names), dtype=bool)
    low[[k for k, nm in enumerate(names) if nm != "E"]] = True
    bad |= np.any(samples < 0, axis=1) | np.any((samples <= 0) & low, axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{p}:{row_line(i)}: bootstrap_samples[{i}]: expected finite "
                         f"constants, E ≥ 0 and the others > 0 ({', '.join(names)}), got "
                         f"{samples[i].tolist()}")
    digest = data.get("bootstrap_sha256")
    if version >= 2 and digest is None:
        raise InputError(f"{p}: bootstrap_sha256: missing (law_file_version {version})")
    if digest is not None and str(digest) != samples_sha256(samples):
        raise InputError(f"{p}:{line('bootstrap_sha256')}: bootstrap_sha256: does not match "
                         "the bootstrap_samples (edited or damaged; refit with planner fit -o)")
    return samples if len(samples) else None
