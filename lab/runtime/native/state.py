"""What a native lab has started, on disk, so any later shell can find and end it.

``.lab/state.json`` is rewritten atomically after every process start or stop, so even
an orchestrator killed half-way through ``lab up`` leaves an exact list behind.
A process is ours only if its pid AND its start time match what we recorded
(``ProcRecord``): a reused pid is never signalled. The native process exporter
(``lab.agents.process_exporter``) reads the same file on every scrape.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.fsio import atomic_write_json
from lab.process_groups import ProcRecord

STATE_FILE = "state.json"


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
        atomic_write_json(self.path, asdict(state))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
