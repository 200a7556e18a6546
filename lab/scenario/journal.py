"""A run's folder, ``runs/<YYYYmmdd-HHMMSS>-<scenario>/`` (layout in docs/contracts.md).

The runner writes ``scenario.yaml`` first, appends every event to ``events.jsonl`` as it
happens, and at the end writes ``timeseries.csv`` and ``verdict.json`` and renders the
report. Each of those final pieces is attempted even when another fails: a run that
ends badly still leaves what it measured.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab.events import Event
from lab.lab import Lab
from lab.scenario.verdict import Verdict

log = logging.getLogger(__name__)
MAX_POINTS = 10_000  # Prometheus refuses range queries of more than 11,000 points


@dataclass
class RunBundle:
    dir: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, runs_path: Path, scenario: str) -> RunBundle:
        stamp = time.strftime("%Y%m%d-%H%M%S")
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
        return self.dir / "events.jsonl"

    def write_scenario(self, text: str) -> None:
        (self.dir / "scenario.yaml").write_text(text, encoding="utf-8")

    def journal(self, event: Event) -> None:
        """An ``EventLog`` listener: append the event to this run's timeline."""
        with self._lock, self.events_path.open("a", encoding="utf-8") as out:
            out.write(event.to_json() + "\n")

    def finish(self, lab: Lab, verdict: Verdict) -> tuple[Path | None, str | None]:
        """Write timeseries.csv and verdict.json, render the report: (report, error)."""
        problems: list[str] = []
        try:
            self.write_timeseries(lab, verdict.started, verdict.ended or time.time())
        except Exception as exc:  # a run's numbers are kept even if Prometheus is gone
            log.warning("timeseries.csv not written", exc_info=True)
            problems.append(f"timeseries.csv: {exc}")
        verdict.write(self.dir / "verdict.json")
        try:
            from lab.report import render_run

            report: Path | None = render_run(self.dir)
        except Exception as exc:  # the bundle is complete; the report can be re-rendered
            log.warning("report not rendered", exc_info=True)
            problems.append(f"report: {exc} (retry with `lab report {self.dir.name}`)")
            report = None
        return report, "; ".join(problems) or None

    def write_timeseries(self, lab: Lab, start: float, end: float) -> None:
        from lab.report.timeseries import collect

        step = max(lab.settings.scrape_interval_s, math.ceil((end - start) / MAX_POINTS))
        collect(lab.prometheus, start, end, step, self.dir / "timeseries.csv")
