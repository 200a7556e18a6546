"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file the lab rewrites while something may read it (state, scrape targets, pid
files, the run folder) goes through here: write a temporary file in the same directory,
flush it to disk, then ``os.replace`` it over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` in one step (parents are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(path: Path, data: object, *, mode: int | None = None) -> None:
    """``data`` as indented JSON with a final newline."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n", mode=mode)
