"""Writing output files without ever destroying data.

Every file the planner writes goes through :func:`atomic_write`: the bytes go to a temporary
file in the destination's directory, are flushed to disk, and the temporary file is renamed
over the destination (``os.replace``, atomic on POSIX and Windows).  A failure mid-write leaves
the old file untouched and no temporary file behind.  File-system errors become one-line
``InputError``s (exit 2) naming the path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Union

from planner.errors import InputError

PathLike = Union[str, os.PathLike]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_output_path(path: PathLike, inputs: Iterable[PathLike] = (), force: bool = True,
                      option: str = "output") -> Path:
    """Refuse an output path that is one of ``inputs``, a directory, or (without ``force``)
    an existing file.  Returns the path."""
    out = Path(path)
    for src in inputs:
        if src is not None and _same_file(out, Path(src)):
            raise InputError(f"{out}: {option}: is also an input of this command; "
                             "choose another output path")
    if out.is_dir():
        raise InputError(f"{out}: {option}: is a directory; give a file path")
    if not force and out.exists():
        raise InputError(f"{out}: {option}: exists; pass --force to replace it")
    return out


def _mode(path: Path) -> int:
    """The permissions the file should get: those of the file it replaces, else the usual
    ``0o666`` less the process umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: PathLike, data: Union[str, bytes], inputs: Iterable[PathLike] = (),
                 option: str = "output") -> Path:
    """Write ``data`` (str as UTF-8, or bytes) to ``path`` atomically.

    Refuses a path that is one of ``inputs``.  Raises ``InputError`` naming the path on any
    file-system error (missing or non-directory parent, permission, disk full).
    """
    out = check_output_path(path, inputs, option=option)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    parent = out.parent if str(out.parent) else Path(".")
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent)
        os.chmod(tmp_name, _mode(out))  # mkstemp's 0600 would hide the file from others
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, out)
        tmp_name = None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"{out}: {option}: cannot write: {reason}") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    return out


def check_output_dir(path: PathLike, inputs: Iterable[PathLike] = (), force: bool = False,
                     option: str = "--out") -> Path:
    """Refuse an output folder that is a file, contains an input, or (without ``force``) is
    not empty, so new files never mix silently with old ones."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: {option}: is a file, not a folder")
    for src in inputs:
        try:
            if src is not None and out.is_dir() and Path(src).resolve().parent == out.resolve():
                if not force:
                    raise InputError(f"{out}: {option}: holds the input {Path(src).name}; "
                                     "choose another folder")
        except OSError:
            pass
    if not force and out.is_dir() and any(out.iterdir()):
        raise InputError(f"{out}: {option}: exists and is not empty; pass --force to write "
                         "into it, or choose a new folder")
    return out
