"""A run folder read back into typed objects: the report reads nothing else.

``verdict.json`` becomes the ``Verdict`` the engine wrote (lab.run.verdict); folders
written before some keys existed (``p99``, ``client``, ``aborted``...) load with their
defaults. ``events.jsonl``, ``timeseries.csv`` and the Locust CSVs are optional: the
report says "no data" where one is missing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from lab import rules
from lab.errors import LabError
from lab.events import Event
from lab.run.folder import EVENTS_FILE, TIMESERIES_FILE, VERDICT_FILE
from lab.run.locust import LocustData, read_locust
from lab.run.timeseries import TimeSeries, read_timeseries
from lab.run.verdict import Verdict

log = logging.getLogger(__name__)
# events drawn on plots
MARKED = ("scale", "kill", "stop", "start", "restart", "set", "restore", "annotate")


@dataclass(frozen=True)
class Span:
    """A phase on the time axis, in seconds since the run started."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class Marker:
    """An event worth a vertical line on the plots (scale, kill, ...)."""

    t: float  # seconds since the run started
    kind: str
    label: str


@dataclass(frozen=True)
class RunRecord:
    """One run folder, read."""

    dir: Path
    verdict: Verdict
    events: tuple[Event, ...]
    series: TimeSeries | None
    locust: LocustData

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def duration(self) -> float:
        v = self.verdict
        if v.ended > v.started:
            return v.ended - v.started
        last = max((e.t for e in self.events), default=v.started)
        return max(last - v.started, 0.0)

    def since_start(self, t: float) -> float:
        return t - self.verdict.started

    def spans(self) -> list[Span]:
        """Every phase, from its start to its end (or the next phase's start, if it
        never ended: an aborted run)."""
        phases = self.verdict.phases
        spans = []
        for i, phase in enumerate(phases):
            if phase.end > phase.start:
                end = phase.end
            elif i + 1 < len(phases):
                end = phases[i + 1].start
            else:
                end = self.verdict.started + self.duration
            spans.append(Span(phase.name, self.since_start(phase.start), self.since_start(end)))
        return spans

    def markers(self) -> list[Marker]:
        return [
            Marker(self.since_start(e.t), e.kind, e.message.removeprefix("scale "))
            for e in self.events
            if e.kind in MARKED
        ]

    def peak_rps(self) -> float | None:
        measured = [p.rps for p in self.verdict.phases if p.rps is not None]
        if measured:
            return max(measured)
        return self.series.peak(rules.API_RPS) if self.series else None


def read_run(run_dir: Path) -> RunRecord:
    return RunRecord(
        dir=run_dir,
        verdict=read_verdict(run_dir / VERDICT_FILE),
        events=tuple(read_events(run_dir / EVENTS_FILE)),
        series=_series(run_dir / TIMESERIES_FILE),
        locust=read_locust(run_dir),
    )


def read_verdict(path: Path) -> Verdict:
    if not path.is_file():
        raise LabError(
            f"{path.parent.name} has no verdict.json",
            hint="the run did not finish writing its run folder; nothing to render",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Verdict.from_json(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LabError(
            f"{path} is not a valid verdict: {type(exc).__name__}: {exc}",
            hint="see docs/contracts.md for its shape",
        ) from exc


def read_events(path: Path) -> list[Event]:
    """Every well-formed line; a torn last line (a crash mid-write) is skipped."""
    if not path.is_file():
        return []
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(Event.from_json(line))
        except (ValueError, KeyError, TypeError):
            log.warning("%s:%d: not an event, skipped", path, number)
    return events


def _series(path: Path) -> TimeSeries | None:
    if not path.is_file():
        return None
    try:
        return read_timeseries(path)
    except (OSError, ValueError) as exc:
        log.warning("timeseries ignored: %s", exc)
        return None
