"""What the runner tells the live view, about once a second."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    scenario: str
    phase: str
    phase_index: int  # 0-based
    phases: int
    narrative: str
    step: str
    users: int
    rps: float | None
    p95: float | None  # seconds, the load generator's current p95
    slo: float
    replicas: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    remaining: float = 0.0  # planned seconds left (an upper bound: the knee may come early)
