"""What an autoscaler did during a run: each scale it decided, each scale-up timed from
the breach to the first request the new capacity served, and what it cost.

Written by the controller (``lab.autoscale``) as it goes, kept in ``verdict.json``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scaling:
    """One decision that changed a service's desired replicas."""

    t: float
    service: str
    before: int
    after: int
    reason: str = ""


@dataclass
class ScaleUp:
    """One scale-up, timed (unix seconds) from the first sync that saw the breach."""

    service: str
    before: int
    after: int
    breach: float
    decided: float
    called: float | None = None
    ready: float | None = None  # Lab.scale returned: running, ready, in the balancer
    served: float | None = None  # a new replica's first request (API only)
    error: str | None = None

    @property
    def serving(self) -> float | None:
        """When the new capacity served: the API's first request; a worker once ready."""
        return self.served if self.service == "api" else self.ready

    @property
    def breach_to_served(self) -> float | None:
        return None if self.serving is None else round(self.serving - self.breach, 3)

    def line(self) -> str:
        def step(a: float | None, b: float | None) -> str:
            return "?" if a is None or b is None else f"{b - a:.1f} s"

        first = f", → first request {step(self.ready, self.served)}"
        return (
            f"{self.service} {self.before} → {self.after}: breach → decision "
            f"{step(self.breach, self.decided)}, → scale called {step(self.decided, self.called)}"
            f", → ready and in the balancer {step(self.called, self.ready)}"
            + (first if self.service == "api" else "")
            + f"; breach → serving {step(self.breach, self.serving)}"
            + (f" (error: {self.error})" if self.error else "")
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "breach_to_served_s": self.breach_to_served}


@dataclass
class Autoscaling:
    """The autoscaler's part of a run (``verdict.autoscaling``)."""

    initial: dict[str, int] = field(default_factory=dict)  # replicas when it was switched on
    scalings: list[Scaling] = field(default_factory=list)
    scale_ups: list[ScaleUp] = field(default_factory=list)
    replica_seconds: dict[str, float] = field(default_factory=dict)  # per service
    over_slo_s: float | None = None  # seconds with the API's p95 (10 s) above the SLO

    def events(self, service: str, start: float, end: float) -> int:
        return sum(1 for s in self.scalings if s.service == service and start <= s.t <= end)

    def to_json(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "scalings": [asdict(s) for s in self.scalings],
            "scale_ups": [s.to_json() for s in self.scale_ups],
            "replica_seconds": self.replica_seconds,
            "over_slo_s": self.over_slo_s,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Autoscaling:
        ups = []
        for r in raw.get("scale_ups") or []:
            fields = {k: v for k, v in r.items() if k != "breach_to_served_s"}
            ups.append(ScaleUp(**fields))
        return cls(
            initial={k: int(v) for k, v in (raw.get("initial") or {}).items()},
            scalings=[Scaling(**s) for s in raw.get("scalings") or []],
            scale_ups=ups,
            replica_seconds={k: float(v) for k, v in (raw.get("replica_seconds") or {}).items()},
            over_slo_s=None if raw.get("over_slo_s") is None else float(raw["over_slo_s"]),
        )
