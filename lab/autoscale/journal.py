"""Where the autoscaler's decisions go: every sync to ``decisions.jsonl`` (what ``lab
autoscale status`` and the replay read), each timed scale-up to ``reactions.jsonl``, and
to the lab's timeline (events, Grafana annotations, the report's marks) every decision
that scales or whose arithmetic changed — not one per second of "stays 1"."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from lab.autoscale.hpa import Decision
from lab.autoscale.policy import Policy
from lab.events import EventLog
from lab.fsio import atomic_write_text
from lab.run.scaling import ScaleUp

DECISIONS = "decisions.jsonl"
REACTIONS = "reactions.jsonl"
POLICY = "policy.json"


class FileJournal:
    def __init__(self, folder: Path, events: EventLog, policy: Policy) -> None:
        self.folder = folder
        self.events = events
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / POLICY, json.dumps(policy.model_dump(mode="json"), indent=2))
        self._last: dict[str, tuple[int, int, int, int]] = {}
        self._lock = threading.Lock()

    def decision(self, decision: Decision) -> None:
        self._append(DECISIONS, decision.to_json())
        shape = (decision.current, decision.raw, decision.stabilised, decision.result)
        if decision.scales or self._last.get(decision.service) != shape:
            self._last[decision.service] = shape
            self.events.emit(
                "autoscaler",
                decision.line(),
                tags=("autoscaler", decision.service),
                **decision.to_json(),
            )

    def reaction(self, reaction: ScaleUp) -> None:
        self._append(REACTIONS, reaction.to_json())
        self.events.emit(
            "autoscaler",
            reaction.line(),
            tags=("autoscaler", reaction.service, "reaction"),
            **reaction.to_json(),
        )

    def _append(self, name: str, record: dict[str, object]) -> None:
        with self._lock, (self.folder / name).open("a") as f:
            f.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")


def read_records(folder: Path, name: str) -> list[dict[str, object]]:
    """The records of one journal file (a torn last line, from a kill, is skipped)."""
    path = folder / name
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
