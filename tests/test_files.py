"""Atomic writes: the old file survives a failed write, inputs are never overwritten."""

import errno
import os

import pytest

from planner.errors import InputError
from planner.files import atomic_write


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "law.yaml"
    out.write_text("old")
    atomic_write(out, "new contents\n")
    assert out.read_text() == "new contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["law.yaml"]


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("good report")

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(InputError, match="No space left on device"):
        atomic_write(out, "x" * 1000)
    assert out.read_text() == "good report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_output_equal_to_input_is_refused(tmp_path):
    runs = tmp_path / "runs.csv"
    runs.write_text("params,tokens,loss\n")
    with pytest.raises(InputError, match="also an input"):
        atomic_write(runs, "law", inputs=[tmp_path / "." / "runs.csv"])
    assert runs.read_text() == "params,tokens,loss\n"


def test_directory_and_missing_parent_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        atomic_write(tmp_path, "x")
    with pytest.raises(InputError, match="cannot write") as info:
        atomic_write(tmp_path / "no" / "such" / "file.csv", "x")
    assert "\n" not in str(info.value)


def test_new_files_get_the_usual_permissions_and_replacements_keep_theirs(tmp_path):
    umask = os.umask(0o022)
    try:
        new = atomic_write(tmp_path / "plan.csv", "a,b\n")
        assert new.stat().st_mode & 0o777 == 0o644
        old = tmp_path / "law.yaml"
        old.write_text("x")
        old.chmod(0o640)
        atomic_write(old, "y")
        assert old.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)
