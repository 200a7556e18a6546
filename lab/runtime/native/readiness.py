"""Wait for a batch of freshly started instances to become ready, together."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import NotReadyError

if TYPE_CHECKING:
    from lab.process_groups import ProcRecord
    from lab.runtime.native.context import NativeContext
    from lab.runtime.native.launcher import Launcher


def wait_all_ready(
    ctx: NativeContext,
    batch: Sequence[tuple[Launcher, ProcRecord]],
    *,
    timeout: float,
    interval: float = 0.05,
) -> None:
    """Poll every instance's readiness check until all pass.

    Fails at once when an instance's process exits (with the end of its log), and at
    the timeout with the instance, its address and its log file in the message.
    """
    pending = list(batch)
    deadline = time.monotonic() + timeout
    last_error: dict[str, str] = {}
    while pending:
        still: list[tuple[Launcher, ProcRecord]] = []
        for launcher, rec in pending:
            try:
                if launcher.ready(ctx, rec):
                    continue
            except Exception as exc:  # not ready yet
                last_error[rec.name] = f"{type(exc).__name__}: {exc}"
            if not rec.alive():
                raise NotReadyError(
                    f"{rec.name} exited while starting: {_tail(rec.log)}",
                    hint=f"see {rec.log}",
                )
            still.append((launcher, rec))
        pending = still
        if not pending:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(rec.name for _, rec in pending)
            first = pending[0][1]
            detail = last_error.get(first.name, "no answer")
            raise NotReadyError(
                f"{names} not ready within {timeout:g} s ({detail})",
                hint=f"see {first.log}; a slow machine may need LAB_READY_TIMEOUT_S",
            )
        time.sleep(interval)


def _tail(log: str, lines: int = 3) -> str:
    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(text[-lines:]) if text else "empty log"
