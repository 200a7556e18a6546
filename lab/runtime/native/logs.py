"""Read and follow the log files of a service's instances, prefixed with their names."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def follow_logs(files: list[Path], *, follow: bool, tail: int) -> Iterator[str]:
    handles: list[tuple[str, IO[str]]] = []
    try:
        for path in files:
            name = path.stem
            handle: IO[str] = path.open(encoding="utf-8", errors="replace")
            for line in deque(handle, maxlen=tail):
                yield f"{name} | {line.rstrip()}"
            handles.append((name, handle))
        while follow:
            quiet = True
            for name, handle in handles:
                for line in handle:
                    quiet = False
                    yield f"{name} | {line.rstrip()}"
            if quiet:
                time.sleep(0.2)
    finally:
        for _, handle in handles:
            handle.close()
