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


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    value: float | None
    threshold: str  # ">= 3"
    detail: str = ""


@dataclass(frozen=True)
class ClientView:
    """The load generator's view of a phase (Locust's own stats)."""

    rps: float | None = None
    p50: float | None = None
    p95: float | None = None
    fail_ratio: float | None = None


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

    def measure(self, name: str) -> float | None:
        value = getattr(self, name, None)
        return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class KneeStep:
    users: int
    rps: float | None
    p95: float | None  # the worse of the server's and the client's p95
    server_p95: float | None
    client_p95: float | None


@dataclass(frozen=True)
class Knee:
    found: bool
    users: int
    rps: float | None
    p95: float | None
    steps: tuple[KneeStep, ...] = ()


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
    knee: Knee | None = None
    saturation: Saturation | None = None
    aborted: str | None = None  # why the run stopped early (Ctrl-C, an error)

    @property
    def passed(self) -> bool:
        return self.aborted is None and all(c.passed for c in self.checks)

    def phase(self, name: str) -> PhaseResult | None:
        return next((p for p in self.phases if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        knee = None
        if self.knee is not None and self.knee.found:
            knee = {
                "users": self.knee.users,
                "rps": self.knee.rps,
                "p95": self.knee.p95,
                "steps": [asdict(s) for s in self.knee.steps],
            }
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
            "saturation": None if self.saturation is None else asdict(self.saturation),
            "aborted": self.aborted,
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
        knee=None if not knee else _knee(knee),
        saturation=_saturation(raw.get("saturation")),
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
        ),
    )


def _knee(k: Mapping[str, Any]) -> Knee:
    steps = tuple(
        KneeStep(
            users=int(s["users"]),
            rps=optional_float(s.get("rps")),
            p95=optional_float(s.get("p95")),
            server_p95=optional_float(s.get("server_p95")),
            client_p95=optional_float(s.get("client_p95")),
        )
        for s in k.get("steps") or []
    )
    return Knee(
        True, int(k["users"]), optional_float(k.get("rps")), optional_float(k.get("p95")), steps
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
