"""The background autoscaler's pid file, in the lab's state dir (``.lab/autoscale/``):
started by ``lab autoscale on``, stopped by ``lab autoscale off`` and by ``lab down``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from lab.errors import LabStateError
from lab.settings import Settings
from lab.wait import wait_for

PID = "pid"
STOP_TIMEOUT_S = 150.0  # a scale under way finishes: replicas start within the ready timeout


def folder(settings: Settings) -> Path:
    return settings.state_dir / "autoscale"


def write_pid(where: Path) -> None:
    (where / PID).write_text(f"{os.getpid()}\n")


def clear_pid(where: Path) -> None:
    (where / PID).unlink(missing_ok=True)


def running(where: Path) -> int | None:
    """The pid of a live background autoscaler, or None (a stale pid file is removed)."""
    try:
        pid = int((where / PID).read_text())
    except (OSError, ValueError):
        return None
    try:
        alive = psutil.Process(pid).is_running() and "autoscale" in " ".join(
            psutil.Process(pid).cmdline()
        )
    except psutil.Error:
        alive = False
    if not alive:
        clear_pid(where)
        return None
    return pid


def wait_started(where: Path, popen: subprocess.Popen[bytes]) -> None:
    def dead() -> str | None:
        code = popen.poll()
        return None if code is None else f"the autoscaler exited with {code}"

    wait_for(
        "the autoscaler did not start",
        lambda: running(where) == popen.pid,
        timeout=30,
        hint=f"see {where / 'autoscaler.log'}",
        alive=dead,
    )


def stop(where: Path) -> bool:
    """Stop the background autoscaler; False if none ran."""
    pid = running(where)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if running(where) is None:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    clear_pid(where)
    raise LabStateError(f"the autoscaler (pid {pid}) did not stop in time: killed")
