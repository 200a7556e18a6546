"""Start, signal and end the lab's local processes (each in its own process group)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from lab import proc
from lab.runtime.native.state import ProcRecord


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ignore Ctrl-C while cleaning up, so a second Ctrl-C cannot leave orphans."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def start(
    record: ProcRecord,
    argv: list[str],
    *,
    env: dict[str, str],
    log_dir: Path,
    user: str | None = None,
    cwd: Path | None = None,
) -> ProcRecord:
    """Spawn ``argv`` for ``record`` and fill in its pid, start time and log path."""
    log_path = log_dir / f"{record.name}.log"
    popen = proc.spawn(argv, log_path=log_path, env=env, cwd=cwd, user=user)
    record.pid = popen.pid
    try:
        record.create_time = psutil.Process(popen.pid).create_time()
    except psutil.Error:
        record.create_time = None  # died at once; readiness will report it with the log
    record.log = str(log_path)
    record.desired = "running"
    return record


def exit_reason(record: ProcRecord) -> str | None:
    """None while the process runs; otherwise a short reason naming its log."""
    if record.alive():
        return None
    return f"{record.name} exited; see {record.log}"


def signal_group(record: ProcRecord, sig: signal.Signals) -> bool:
    """Send ``sig`` to the record's process group (or the process alone). False if gone."""
    process = record.process()
    if process is None:
        return False
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except (ProcessLookupError, psutil.Error):
        return False
    return True


def terminate(
    record: ProcRecord, *, sig: signal.Signals = signal.SIGTERM, grace: float = 10.0
) -> None:
    """Ask politely with ``sig``; after ``grace`` seconds, SIGKILL the whole group."""
    process = record.process()
    if process is None:
        return
    family = _family(process)
    signal_group(record, sig)
    _, alive = psutil.wait_procs(family, timeout=grace)
    for leftover in alive:
        try:
            leftover.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(alive, timeout=5)
    _reap(process.pid)


def kill(record: ProcRecord) -> None:
    """SIGKILL the process and everything it started, at once."""
    process = record.process()
    if process is None:
        return
    family = _family(process)
    signal_group(record, signal.SIGKILL)
    for member in family:
        try:
            member.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(family, timeout=5)
    _reap(process.pid)


def _family(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return [process]


def _reap(pid: int) -> None:
    """Collect the exit status if the process was our own child (avoids zombies)."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            break
        if done:
            break
        time.sleep(0.01)
    proc.reap()


MARKER = "PRODLAB_HOME"


def sweep(state_dir: Path) -> int:
    """SIGKILL every process whose environment marks it as started by this lab home.

    A backstop for ``lab down`` after an orchestrator died between starting a process
    and recording it: only processes carrying ``PRODLAB_HOME=<this home>`` are touched.
    """
    mine = str(state_dir)
    me = os.getpid()
    found = []
    for process in psutil.process_iter(["pid"]):
        if process.pid == me:
            continue
        try:
            if process.environ().get(MARKER) == mine:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    for process in found:
        try:
            process.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(found, timeout=5)
    return len(found)
