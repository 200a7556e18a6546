"""The lab's journal: every event (up, scale, kill, phase, check) as one JSON line.

Listeners (Grafana annotations, a run folder's events.jsonl, the live view) subscribe with
``EventLog.subscribe``. A failing listener is logged and never stops the lab.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    kind: str  # "up", "down", "scale", "stop", "kill", "start", "phase", "check", "annotate", ...
    message: str
    t: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def to_json(self) -> str:
        payload = asdict(self)
        payload["tags"] = list(self.tags)
        return json.dumps(payload, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, line: str) -> Event:
        raw = json.loads(line)
        return cls(
            kind=raw["kind"],
            message=raw["message"],
            t=float(raw["t"]),
            data=dict(raw.get("data") or {}),
            tags=tuple(raw.get("tags") or ()),
        )


Listener = Callable[[Event], None]


class EventLog:
    """Appends events to a JSONL file and fans them out to listeners."""

    def __init__(self, path: Path, *, now: Callable[[], float] = time.time) -> None:
        self.path = path
        self._now = now  # the clock events are stamped with (a fake one in unit tests)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, kind: str, message: str, *, tags: tuple[str, ...] = (), **data: Any) -> Event:
        event = Event(kind=kind, message=message, t=self._now(), data=data, tags=tags)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(event.to_json() + "\n")
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.warning("event listener %r failed on %s", listener, kind, exc_info=True)
        return event
