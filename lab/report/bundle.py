"""A run bundle loaded into typed objects: the report reads nothing else.

``verdict.json`` becomes the scenario runner's own ``Verdict`` (lab.scenario.verdict);
bundles written before some keys existed (``p99``, ``client``, ``aborted``...) load with
their defaults. ``events.jsonl``, ``timeseries.csv`` and the Locust CSVs are optional:
the report says "no data" where one is missing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.events import Event
from lab.report.locust import LocustData, read_locust
from lab.report.timeseries import TimeSeries, read_timeseries
from lab.scenario.verdict import CheckResult, ClientView, Knee, KneeStep, PhaseResult, Verdict

log = logging.getLogger(__name__)
MARKED = ("scale", "kill", "stop", "start", "restore", "annotate")  # events drawn on plots


@dataclass(frozen=True)
class Saturation:
    """Which resource ran full first (``verdict.json`` → ``saturation``)."""

    resource: str | None
    value: float | None
    phase: str | None
    detail: str


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
class Bundle:
    dir: Path
    verdict: Verdict
    saturation: Saturation | None
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
        return self.series.peak("lab:api_requests:rate10s") if self.series else None


def load_bundle(run_dir: Path) -> Bundle:
    verdict, saturation = load_verdict(run_dir / "verdict.json")
    return Bundle(
        dir=run_dir,
        verdict=verdict,
        saturation=saturation,
        events=tuple(read_events(run_dir / "events.jsonl")),
        series=_series(run_dir / "timeseries.csv"),
        locust=read_locust(run_dir),
    )


def load_verdict(path: Path) -> tuple[Verdict, Saturation | None]:
    if not path.is_file():
        raise LabError(
            f"{path.parent.name} has no verdict.json",
            hint="the run did not finish writing its bundle; nothing to render",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return _verdict(raw), _saturation(raw.get("saturation"))
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


def _verdict(raw: Mapping[str, Any]) -> Verdict:
    knee = raw.get("knee")
    return Verdict(
        scenario=str(raw["scenario"]),
        title=str(raw.get("title") or raw["scenario"]),
        concept=str(raw.get("concept") or ""),
        profile=str(raw.get("profile") or ""),
        runtime=str(raw.get("runtime") or ""),
        started=float(raw["started"]),
        ended=float(raw.get("ended") or 0.0),
        slo_seconds=float(raw["slo_seconds"]),
        checks=[
            CheckResult(
                name=str(c["name"]),
                passed=bool(c["passed"]),
                value=_opt(c.get("value")),
                threshold=str(c.get("threshold") or ""),
                detail=str(c.get("detail") or ""),
            )
            for c in raw.get("checks") or []
        ],
        phases=[_phase(p) for p in raw.get("phases") or []],
        knee=None if not knee else _knee(knee),
        saturation=raw.get("saturation"),
        aborted=raw.get("aborted"),
    )


def _phase(p: Mapping[str, Any]) -> PhaseResult:
    window = p.get("window")
    client = p.get("client") or {}
    return PhaseResult(
        name=str(p["name"]),
        narrative=str(p.get("narrative") or ""),
        start=float(p["start"]),
        end=float(p.get("end") or 0.0),
        users=int(p.get("users") or 0),
        replicas={str(k): int(v) for k, v in (p.get("replicas") or {}).items()},
        rps=_opt(p.get("rps")),
        p50=_opt(p.get("p50")),
        p95=_opt(p.get("p95")),
        p99=_opt(p.get("p99")),
        error_ratio=_opt(p.get("error_ratio")),
        cpu_api=_opt(p.get("cpu_api")),
        window=(float(window[0]), float(window[1])) if window else None,
        client=ClientView(
            rps=_opt(client.get("rps")),
            p50=_opt(client.get("p50")),
            p95=_opt(client.get("p95")),
            fail_ratio=_opt(client.get("fail_ratio")),
        ),
    )


def _knee(k: Mapping[str, Any]) -> Knee:
    steps = tuple(
        KneeStep(
            users=int(s["users"]),
            rps=_opt(s.get("rps")),
            p95=_opt(s.get("p95")),
            server_p95=_opt(s.get("server_p95")),
            client_p95=_opt(s.get("client_p95")),
        )
        for s in k.get("steps") or []
    )
    return Knee(True, int(k["users"]), _opt(k.get("rps")), _opt(k.get("p95")), steps)


def _saturation(raw: Any) -> Saturation | None:
    if not isinstance(raw, dict):
        return None
    return Saturation(
        resource=raw.get("resource"),
        value=_opt(raw.get("value")),
        phase=raw.get("phase"),
        detail=str(raw.get("detail") or ""),
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
