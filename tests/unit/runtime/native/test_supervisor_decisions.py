"""The supervisor's decisions on a recorded state, with a stand-in for the runtime's
respawn (the processes themselves: tests/procs/runtime/native/test_self_healing_native.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from lab.process_groups import ProcRecord
from lab.runtime.native.runtime import NativeRuntime
from lab.runtime.native.state import NativeState
from lab.runtime.native.supervisor import Supervisor
from lab.settings import Settings
from lab.topology import RestartPolicy

POLICIES = {"api": RestartPolicy("unless-stopped"), "secrets": RestartPolicy("no")}


class Respawner:
    """Records respawns; each one "starts" a process that dies again at once."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(home=tmp_path / ".lab")
        self.respawned: list[str] = []
        self.state = NativeState()

    def policy(self, service: str) -> RestartPolicy:
        return POLICIES.get(service, RestartPolicy())

    def respawn(self, name: str) -> ProcRecord | None:
        self.respawned.append(name)
        rec = self.state.instances[name]
        rec.create_time = (rec.create_time or 0.0) + 1.0  # a new process, dead again
        return rec


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Supervisor, Respawner, Any]:
    runtime = Respawner(tmp_path)
    clock = {"now": 1000.0}
    monkeypatch.setattr("lab.runtime.native.supervisor.time.monotonic", lambda: clock["now"])
    monkeypatch.setattr("lab.runtime.native.supervisor.time.time", lambda: clock["now"])
    supervisor = Supervisor(cast(NativeRuntime, runtime))
    return supervisor, runtime, clock


def dead(name: str, service: str, desired: str = "running") -> ProcRecord:
    # no pid: not alive; started "just now", so the backoff is never reset
    return ProcRecord(name, service, 1, pid=None, create_time=999.9, desired=desired)


def test_a_crash_is_restarted_after_a_doubling_delay(world: Any) -> None:
    supervisor, runtime, clock = world
    runtime.state.instances["api-1"] = dead("api-1", "api")
    supervisor.tick(runtime.state)
    assert runtime.respawned == []  # 100 ms first
    delays = []
    for _ in range(4):
        due = supervisor.due["api-1"]
        delays.append(round(due - clock["now"], 3))
        clock["now"] = due
        supervisor.tick(runtime.state)  # respawns; the new process is dead again
        supervisor.tick(runtime.state)  # the new exit is decided
    assert delays == [0.1, 0.2, 0.4, 0.8]
    assert runtime.respawned == ["api-1"] * 4


def test_a_stopped_instance_and_policy_no_are_left_alone(world: Any) -> None:
    supervisor, runtime, clock = world
    runtime.state.instances["api-2"] = dead("api-2", "api", desired="stopped")
    runtime.state.instances["secrets-1"] = dead("secrets-1", "secrets")
    for _ in range(10):
        supervisor.tick(runtime.state)
        clock["now"] += 1.0
    assert runtime.respawned == [] and supervisor.due == {}
