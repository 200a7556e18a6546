"""Processes the lab starts and owns, each in its own process group.

Used by the native runtime (every service), the load driver (Locust) and the native
process exporter. ``lab.proc`` runs commands; this module keeps track of the long-lived
ones: a ``ProcRecord`` names a process by pid AND start time (a reused pid is never
signalled), ``start`` spawns one, ``terminate``/``kill`` end it with its group, ``sweep``
ends whatever carries this lab home's marker, ``shielded`` keeps Ctrl-C out of cleanup.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from lab import proc

MARKER = "PRODLAB_HOME"  # environment variable: the lab home a process belongs to


@dataclass
class ProcRecord:
    name: str  # "api-2", "postgres-1", "locust-master"
    service: str
    index: int
    pid: int | None = None
    create_time: float | None = None
    port: int | None = None  # the port it serves (API, metrics...)
    admin_port: int | None = None  # an API replica's loopback-only admin endpoint
    desired: str = "running"  # "running" or "stopped" (stopped on purpose)
    log: str = ""

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None if it is gone (or the pid was reused)."""
        if self.pid is None or self.create_time is None:
            return None
        try:
            found = psutil.Process(self.pid)
            if abs(found.create_time() - self.create_time) > 0.01:
                return None
            if found.status() == psutil.STATUS_ZOMBIE:
                return None
            return found
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


def records_from_json(items: Iterable[Mapping[str, Any]]) -> list[ProcRecord]:
    """Records from their JSON form (``dataclasses.asdict`` of each)."""
    return [ProcRecord(**dict(item)) for item in items]


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
    record: ProcRecord,
    *,
    sig: signal.Signals = signal.SIGTERM,
    grace: float = 10.0,
    reaped: bool = True,
) -> list[psutil.Process]:
    """Ask politely with ``sig``; after ``grace`` seconds, SIGKILL the whole group.
    Returns the group's processes.

    With ``reaped=False`` it returns once they have exited, zombies or not: one whose
    parent is init stays a zombie until init reaps it (1-2 s on these VMs), and a caller
    stopping many (``lab down``) waits for that once, for all of them (``wait_reaped``),
    not 2 s per process. A zombie holds no port or socket, but it still answers
    ``kill(pid, 0)``, so PostgreSQL's lock file would see a killed postmaster alive:
    whoever starts again must wait for the reaping first."""
    family = terminate_together([(record, sig)], grace=grace)
    if reaped:
        wait_reaped(family)
    return family


def terminate_together(
    records: Iterable[tuple[ProcRecord, signal.Signals]], *, grace: float = 10.0
) -> list[psutil.Process]:
    """``terminate(reaped=False)`` for processes that may stop at the same time (nothing
    among them needs another to go first): each gets its signal at once, and the grace
    is one for all, so stopping a tier of the lab costs its slowest process, not the sum."""
    started: list[psutil.Process] = []
    family: list[psutil.Process] = []
    for record, sig in records:
        process = record.process()
        if process is None:
            continue
        family += _family(process)
        started.append(process)
        signal_group(record, sig)
    alive = wait_gone(family, timeout=grace)
    for leftover in alive:
        try:
            leftover.kill()
        except psutil.Error:
            continue
    wait_gone(alive, timeout=5)
    for process in started:
        _reap(process.pid)
    return family


def wait_reaped(processes: Iterable[psutil.Process], timeout: float = 5.0) -> None:
    """Wait until every process has left the process table (reaped by its parent)."""
    psutil.wait_procs(list(processes), timeout=timeout)


def wait_gone(family: list[psutil.Process], *, timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` s for every process to exit; return those still running.
    A zombie has exited (see ``terminate``)."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        alive = [p for p in family if _running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # ZombieProcess too
        return False
    except psutil.AccessDenied:
        return True


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
    """The process and what it started, but for a descendant that leads a process group
    of its own, and that one's own descendants: another instance with its own record (the
    supervisor's respawns). Counted in, it held the supervisor's stop for the whole grace,
    10 s, then was SIGKILLed, where its own tier would have stopped it politely."""
    try:
        children = process.children(recursive=True)
    except psutil.Error:
        return [process]
    parent: dict[int, int] = {}
    leaders: set[int] = set()
    for child in children:
        try:
            parent[child.pid] = child.ppid()
            if os.getpgid(child.pid) == child.pid:
                leaders.add(child.pid)
        except (ProcessLookupError, psutil.Error):
            continue

    def apart(pid: int) -> bool:  # it, or an ancestor below ``process``, leads a group
        while pid in parent:
            if pid in leaders:
                return True
            pid = parent[pid]
        return False

    return [process, *(child for child in children if not apart(child.pid))]


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
