"""What a run found: checks, per-phase measures, the knee, the saturated resource.

The shape of ``verdict.json`` is fixed by docs/contracts.md; ``Verdict.to_json`` writes it
and ``Verdict.from_json`` reads it back, into the same typed objects (the scenario engine
writes them, the report reads them; neither imports the other).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.fsio import atomic_write_text
from lab.run.audit import Audit
from lab.run.capacity import CapacityRecord
from lab.run.scaling import Autoscaling


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    value: float | None
    threshold: str  # ">= 3"
    detail: str = ""


@dataclass(frozen=True)
class ClientView:
    """The load generator's view of a phase: Locust's stats (``rps`` … ``fail_ratio``)
    and the exact HDR percentiles over the phase's steady window (``hdr_*``; open loop:
    from the intended send time), with the count of answers they cover."""

    rps: float | None = None
    p50: float | None = None
    p95: float | None = None
    fail_ratio: float | None = None
    hdr_p50: float | None = None
    hdr_p95: float | None = None
    hdr_p99: float | None = None
    hdr_count: int | None = None
    hdr_seconds: float | None = None  # the seconds the HDR figures cover
    hdr_p95_early: float | None = None  # over the first third of the window
    hdr_p95_late: float | None = None  # over the last third
    mean_latency: float | None = None  # Locust's mean response time over the HDR window


@dataclass(frozen=True)
class PredictionResult:
    """A phase's prediction (from the knobs) against what the phase measured."""

    phase: str
    text: str  # "one replica: 4 slots / 40 ms = 100 req/s"
    measure: str
    predicted: float | None
    measured: float | None
    op: str  # "~" (within tolerance) or a bound: "<", "<=", ">", ">="
    tolerance: float
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Lesson:
    """What a phase teaches (CURRICULUM.md's template), as the scenario said it."""

    concept: str | None = None
    watch_rule: str | None = None
    watch_panel: str | None = None
    miss: str | None = None


@dataclass
class PhaseResult:
    name: str
    narrative: str
    start: float
    end: float = 0.0
    users: int = 0
    replicas: dict[str, int] = field(default_factory=dict)
    rps: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    error_ratio: float | None = None
    cpu_api: float | None = None
    window: tuple[float, float] | None = None  # the steady part that was measured
    client: ClientView = field(default_factory=ClientView)
    offered_rps: float | None = None  # open loop: the arrival rate asked for (None: closed)
    think_time: float | None = None  # closed loop: seconds between a user's requests
    late: int | None = None  # open-loop arrivals sent late / never sent, in the whole phase
    dropped: int | None = None
    in_flight: float | None = None  # requests inside the API, averaged (Little's L)
    mean_latency: float | None = None  # the API's mean latency (Little's W)
    service_time: float | None = None  # the API's mean time in a work slot (latency − slot wait)
    goodput: float | None = None  # answers < 500 within the SLO, per second
    shed: float | None = None  # requests refused by admission control, per second
    amplification: float | None = None  # dependency attempts per call (the most retried one)
    pool_use: float | None = None  # share of the API's DB pool connections in use, averaged
    slot_use: float | None = None  # share of the API's work slots busy, averaged
    saturated: str | None = None  # the first resource that ran full in it (scenario.checks)
    db_reads_per_read: float | None = None  # database product reads per product lookup
    loadgen_cpu: float | None = None  # share of a core of the busiest Locust process, phase mean
    loadgen_busiest: str | None = None  # that process (locust-master, locust-worker-N)
    lesson: Lesson = field(default_factory=Lesson)
    predictions: list[PredictionResult] = field(default_factory=list)

    def measure(self, name: str) -> float | None:
        if name.startswith("client_"):
            return self.client_measure(name.removeprefix("client_"))
        value = getattr(self, name, None)
        return float(value) if isinstance(value, int | float) else None

    def client_measure(self, name: str) -> float | None:
        """``p50|p95|p99`` exact (HDR) when there is one; ``rps``: answers per second."""
        c = self.client
        if name == "p95_rise":  # a growing queue: p95 late in the phase ÷ early in it
            if c.hdr_p95_early and c.hdr_p95_late is not None:
                return c.hdr_p95_late / c.hdr_p95_early
            return None
        if name == "p95_slope":  # the same thirds: their ends lie 2/3 of the window apart
            early, late = c.hdr_p95_early, c.hdr_p95_late
            if early is None or late is None or not c.hdr_seconds:
                return None
            return (late - early) / (2 / 3 * c.hdr_seconds)
        if name == "rps":
            if c.hdr_count is not None and c.hdr_seconds:
                return c.hdr_count / c.hdr_seconds
            return c.rps
        value = getattr(c, f"hdr_{name}", None)
        return value if value is not None else getattr(c, name, None)


@dataclass(frozen=True)
class KneeStep:
    users: int
    rps: float | None  # answers per second over the step's measured window
    p95: float | None  # the worse of the server's and the client's p95
    server_p95: float | None
    client_p95: float | None  # exact (HDR)
    rate: float | None = None  # offered arrivals per second (a search by rate)
    kind: str = "step"  # step (up), bisect, drain, confirm
    good: bool | None = None  # p95 within the threshold (None: not judged, a drain)
    late: int | None = None  # open-loop arrivals sent late over the probe's seconds
    generator_late: bool = False  # the generator, not the system, ran late: server p95 judged


@dataclass(frozen=True)
class Knee:
    """The knee: the highest load found with p95 within the threshold (the last good
    step after bisecting), beside the capacity predicted from the knobs."""

    found: bool
    users: int
    rps: float | None
    p95: float | None
    steps: tuple[KneeStep, ...] = ()
    by: str = "users"  # "rate" or "users"
    rate: float | None = None  # offered req/s at the knee (a search by rate)
    predicted_rps: float | None = None
    prediction: str = ""  # "1 replica: 4 slots / 40 ms = 100 req/s"
    confirmed: bool | None = None  # the knee's load held within the threshold once more
    threshold: float | None = None  # p95 seconds
    replicas: int = 1  # API replicas the knee was searched on
    phase: str = ""  # the phase that searched it

    @property
    def prediction_error(self) -> float | None:
        if self.rps is None or not self.predicted_rps:
            return None
        return abs(self.rps - self.predicted_rps) / self.predicted_rps


@dataclass(frozen=True)
class Saturation:
    """The first resource that ran full (``resource`` None: none did), computed on every
    run from the peaks seen on each resource."""

    resource: str | None
    value: float | None  # its peak, as a share (0.95 = 95 %)
    threshold: float  # the share from which a resource counts as full
    phase: str | None  # where the peak was seen
    detail: str


@dataclass
class Verdict:
    scenario: str
    title: str
    concept: str
    profile: str
    runtime: str
    started: float
    slo_seconds: float
    ended: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    phases: list[PhaseResult] = field(default_factory=list)
    knee: Knee | None = None  # the run's first knee (scale-out's, latency-vs-load's)
    knees: list[Knee] = field(default_factory=list)  # every knee searched, in order
    saturation: Saturation | None = None
    aborted: str | None = None  # why the run stopped early (Ctrl-C, an error)
    audit: Audit | None = None  # the integrity audit at the run's end (lab.run.audit)
    autoscaling: Autoscaling | None = None  # what an autoscaler did (lab.run.scaling)
    capacity: CapacityRecord | None = None  # a capacity run's measurements (lab.run.capacity)
    try_next: str = ""  # the knob to change next (the scenario's try_next)
    next_lesson: str | None = None  # the scenario after this one on the learning path

    @property
    def passed(self) -> bool:
        return self.aborted is None and all(c.passed for c in self.checks)

    @property
    def latest_knee(self) -> Knee | None:
        """The knee searched last: the one a later load's ``knee_multiple`` and a phase's
        ``knee_rps`` refer to."""
        return self.knees[-1] if self.knees else self.knee

    def add_knee(self, knee: Knee) -> None:
        self.knees.append(knee)
        if self.knee is None:
            self.knee = knee

    def phase(self, name: str) -> PhaseResult | None:
        return next((p for p in self.phases if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        knee = None if self.knee is None else _knee_json(self.knee)
        phases = []
        for p in self.phases:
            data = asdict(p)
            data["window"] = list(p.window) if p.window else None
            phases.append(data)
        return {
            "scenario": self.scenario,
            "title": self.title,
            "concept": self.concept,
            "profile": self.profile,
            "runtime": self.runtime,
            "started": self.started,
            "ended": self.ended,
            "passed": self.passed,
            "slo_seconds": self.slo_seconds,
            "checks": [asdict(c) for c in self.checks],
            "phases": phases,
            "knee": knee,
            "knees": [_knee_json(k) for k in self.knees],
            "saturation": None if self.saturation is None else asdict(self.saturation),
            "aborted": self.aborted,
            "audit": None if self.audit is None else self.audit.to_json(),
            "autoscaling": None if self.autoscaling is None else self.autoscaling.to_json(),
            "capacity": None if self.capacity is None else self.capacity.to_json(),
            "try_next": self.try_next,
            "next_lesson": self.next_lesson,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Verdict:
        return _verdict(raw)

    def write(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), indent=2, allow_nan=False))


def _verdict(raw: Mapping[str, Any]) -> Verdict:
    """The reverse of ``Verdict.to_json`` (raises KeyError/TypeError/ValueError)."""
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
                value=optional_float(c.get("value")),
                threshold=str(c.get("threshold") or ""),
                detail=str(c.get("detail") or ""),
            )
            for c in raw.get("checks") or []
        ],
        phases=[_phase(p) for p in raw.get("phases") or []],
        knee=_knee(knee) if isinstance(knee, Mapping) else None,
        knees=[_knee(k) for k in raw.get("knees") or [] if isinstance(k, Mapping)],
        saturation=_saturation(raw.get("saturation")),
        aborted=raw.get("aborted"),
        audit=Audit.from_json(raw["audit"]) if isinstance(raw.get("audit"), Mapping) else None,
        autoscaling=(
            Autoscaling.from_json(raw["autoscaling"])
            if isinstance(raw.get("autoscaling"), Mapping)
            else None
        ),
        capacity=(
            CapacityRecord.from_json(raw["capacity"])
            if isinstance(raw.get("capacity"), Mapping)
            else None
        ),
        try_next=str(raw.get("try_next") or ""),
        next_lesson=None if raw.get("next_lesson") is None else str(raw["next_lesson"]),
    )


def _knee_json(knee: Knee) -> dict[str, Any]:
    data = asdict(knee)
    data["steps"] = list(data["steps"])  # as JSON reads it back
    return data


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
        rps=optional_float(p.get("rps")),
        p50=optional_float(p.get("p50")),
        p95=optional_float(p.get("p95")),
        p99=optional_float(p.get("p99")),
        error_ratio=optional_float(p.get("error_ratio")),
        cpu_api=optional_float(p.get("cpu_api")),
        window=(float(window[0]), float(window[1])) if window else None,
        client=ClientView(
            rps=optional_float(client.get("rps")),
            p50=optional_float(client.get("p50")),
            p95=optional_float(client.get("p95")),
            fail_ratio=optional_float(client.get("fail_ratio")),
            hdr_p50=optional_float(client.get("hdr_p50")),
            hdr_p95=optional_float(client.get("hdr_p95")),
            hdr_p99=optional_float(client.get("hdr_p99")),
            hdr_count=optional_int(client.get("hdr_count")),
            hdr_seconds=optional_float(client.get("hdr_seconds")),
            hdr_p95_early=optional_float(client.get("hdr_p95_early")),
            hdr_p95_late=optional_float(client.get("hdr_p95_late")),
            mean_latency=optional_float(client.get("mean_latency")),
        ),
        offered_rps=optional_float(p.get("offered_rps")),
        think_time=optional_float(p.get("think_time")),
        late=optional_int(p.get("late")),
        dropped=optional_int(p.get("dropped")),
        in_flight=optional_float(p.get("in_flight")),
        mean_latency=optional_float(p.get("mean_latency")),
        service_time=optional_float(p.get("service_time")),
        goodput=optional_float(p.get("goodput")),
        shed=optional_float(p.get("shed")),
        amplification=optional_float(p.get("amplification")),
        pool_use=optional_float(p.get("pool_use")),
        slot_use=optional_float(p.get("slot_use")),
        saturated=None if p.get("saturated") is None else str(p["saturated"]),
        db_reads_per_read=optional_float(p.get("db_reads_per_read")),
        loadgen_cpu=optional_float(p.get("loadgen_cpu")),
        loadgen_busiest=None if p.get("loadgen_busiest") is None else str(p["loadgen_busiest"]),
        lesson=Lesson(**{k: v for k, v in (p.get("lesson") or {}).items() if v is not None}),
        predictions=[
            PredictionResult(
                phase=str(r["phase"]),
                text=str(r["text"]),
                measure=str(r["measure"]),
                predicted=optional_float(r.get("predicted")),
                measured=optional_float(r.get("measured")),
                op=str(r.get("op") or "~"),
                tolerance=float(r.get("tolerance") or 0.0),
                passed=bool(r["passed"]),
                detail=str(r.get("detail") or ""),
            )
            for r in p.get("predictions") or []
        ],
    )


def _knee(k: Mapping[str, Any]) -> Knee:
    steps = tuple(
        KneeStep(
            users=int(s["users"]),
            rps=optional_float(s.get("rps")),
            p95=optional_float(s.get("p95")),
            server_p95=optional_float(s.get("server_p95")),
            client_p95=optional_float(s.get("client_p95")),
            rate=optional_float(s.get("rate")),
            kind=str(s.get("kind") or "step"),
            good=None if s.get("good") is None else bool(s["good"]),
            late=None if s.get("late") is None else int(s["late"]),
            generator_late=bool(s.get("generator_late", False)),
        )
        for s in k.get("steps") or []
    )
    confirmed = k.get("confirmed")
    return Knee(
        found=bool(k.get("found", True)),
        users=int(k["users"]),
        rps=optional_float(k.get("rps")),
        p95=optional_float(k.get("p95")),
        steps=steps,
        by=str(k.get("by") or "users"),
        rate=optional_float(k.get("rate")),
        predicted_rps=optional_float(k.get("predicted_rps")),
        prediction=str(k.get("prediction") or ""),
        confirmed=None if confirmed is None else bool(confirmed),
        threshold=optional_float(k.get("threshold")),
        replicas=int(k.get("replicas") or 1),
        phase=str(k.get("phase") or ""),
    )


def _saturation(raw: Any) -> Saturation | None:
    if not isinstance(raw, Mapping):
        return None
    resource, phase = raw.get("resource"), raw.get("phase")
    return Saturation(
        resource=None if resource is None else str(resource),
        value=optional_float(raw.get("value")),
        threshold=float(raw.get("threshold") or 0.0),
        phase=None if phase is None else str(phase),
        detail=str(raw.get("detail") or ""),
    )


def optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
