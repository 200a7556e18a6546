"""A run folder, ``runs/<YYYYmmdd-HHMMSS>-<scenario>/``: its names and its writer.

The scenario engine writes ``scenario.yaml`` first, appends every event to
``events.jsonl`` as it happens, and at the end writes ``timeseries.csv`` and
``verdict.json``. Each final piece is attempted even when another fails: a run that ends
badly still leaves what it measured. The layout is docs/contracts.md's; the report reads
it back with ``lab.run.reader``.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab.events import Event
from lab.fsio import atomic_write_text
from lab.run.timeseries import Table, write_timeseries
from lab.run.verdict import Verdict

SCENARIO_FILE = "scenario.yaml"
EVENTS_FILE = "events.jsonl"
TIMESERIES_FILE = "timeseries.csv"
VERDICT_FILE = "verdict.json"
LOCUST_FILES = ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv")
RUN_NAME = re.compile(r"^(?P<stamp>\d{8}-\d{6})-(?P<scenario>.+?)(?:-(?P<n>\d{1,2}))?$")


def run_dirs(runs_dir: Path) -> list[Path]:
    """Run folders in ``runs_dir``, oldest first (their names start with a timestamp)."""
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and RUN_NAME.match(p.name))


@dataclass
class RunFolder:
    """Writes one run folder; ``append_event`` is an ``EventLog`` listener."""

    dir: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, runs_path: Path, scenario: str, now: float | None = None) -> RunFolder:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        runs_path.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 100):
            name = f"{stamp}-{scenario}" if attempt == 1 else f"{stamp}-{scenario}-{attempt}"
            try:
                (runs_path / name).mkdir()
            except FileExistsError:
                continue
            return cls(runs_path / name)
        raise FileExistsError(f"no free run folder for {stamp}-{scenario} in {runs_path}")

    @property
    def events_path(self) -> Path:
        return self.dir / EVENTS_FILE

    def write_scenario(self, text: str) -> None:
        atomic_write_text(self.dir / SCENARIO_FILE, text)

    def append_event(self, event: Event) -> None:
        """An ``EventLog`` listener: append the event to this run's timeline."""
        with self._lock, self.events_path.open("a", encoding="utf-8") as out:
            out.write(event.to_json() + "\n")

    def write_timeseries(self, table: Table) -> None:
        write_timeseries(self.dir / TIMESERIES_FILE, table.t, table.columns)

    def write_verdict(self, verdict: Verdict) -> None:
        verdict.write(self.dir / VERDICT_FILE)
