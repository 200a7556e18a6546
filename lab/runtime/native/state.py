"""What a native lab has started, on disk, so any later shell can find and end it.

``.lab/state.json`` is rewritten atomically after every process start or stop, so even
an orchestrator killed half-way through ``lab up`` leaves an exact list behind.
A process is ours only if its pid AND its start time match what we recorded: a reused
pid is never signalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

STATE_FILE = "state.json"


@dataclass
class ProcRecord:
    name: str  # "api-2", "postgres-1"
    service: str
    index: int
    pid: int | None = None
    create_time: float | None = None
    port: int | None = None  # the port it serves (API, metrics...)
    desired: str = "running"  # "running" or "stopped" (stopped on purpose)
    log: str = ""

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None if it is gone (or the pid was reused)."""
        if self.pid is None or self.create_time is None:
            return None
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


@dataclass
class NativeState:
    runtime: str = "native"
    started: float = field(default_factory=time.time)
    ports: dict[str, int] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    instances: dict[str, ProcRecord] = field(default_factory=dict)

    def of(self, service: str) -> list[ProcRecord]:
        return sorted(
            (r for r in self.instances.values() if r.service == service), key=lambda r: r.index
        )

    def any_alive(self) -> bool:
        return any(r.alive() for r in self.instances.values())


class StateStore:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.path = state_dir / STATE_FILE

    def load(self) -> NativeState | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:
            return None
        instances = {k: ProcRecord(**v) for k, v in raw.get("instances", {}).items()}
        return NativeState(
            runtime=raw.get("runtime", "native"),
            started=raw.get("started", 0.0),
            ports=dict(raw.get("ports", {})),
            replicas=dict(raw.get("replicas", {})),
            instances=instances,
        )

    def save(self, state: NativeState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        payload = asdict(state)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise changes to the lab across shells (``lab scale`` vs ``lab down``)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def recorded_runtime(state_dir: Path) -> str | None:
    """The runtime of a lab that is up in ``state_dir``, if any."""
    marker = state_dir / "runtime"
    if marker.exists():
        name = marker.read_text(encoding="utf-8").strip()
        if name == "compose":
            return "compose"
    state = StateStore(state_dir).load()
    if state is not None and state.any_alive():
        return "native"
    return None
