"""Atomic writes leave the old file or the new one, and no temporary files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lab.fsio import atomic_write_bytes, atomic_write_json, atomic_write_text


def test_write_creates_parents_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "state.json"
    atomic_write_json(target, {"x": 1})
    assert json.loads(target.read_text()) == {"x": 1}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_replace_keeps_mode_requested(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new", mode=0o600)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic_write_text(target, "old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
