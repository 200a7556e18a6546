"""What every step of a run shares: the lab, the load, the verdict being written, and
what was changed (to undo). ``evaluate`` and ``record`` turn a check into a journalled result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from lab.lab import Lab
from lab.scenario import checks
from lab.scenario.measure import Measurer, Window
from lab.scenario.model import Check, Scenario
from lab.scenario.progress import Progress
from lab.scenario.verdict import CheckResult, PhaseResult, Verdict


class Stats(Protocol):
    users: int
    rps: float
    fail_ratio: float
    p50: float | None
    p95: float | None
    p99: float | None


class Load(Protocol):
    """What the runner needs of ``lab.load.driver.LoadDriver``."""

    def swarm(self, users: int, spawn_rate: float, *, target_rps: float | None = None) -> None: ...

    def stats(self) -> Stats: ...


@dataclass
class Changes:
    """What the scenario changed, to undo at the end."""

    replicas: dict[str, int] = field(default_factory=dict)  # service -> count before the run
    down: dict[str, str] = field(default_factory=dict)  # instance -> "stop" | "kill"


@dataclass
class RunContext:
    lab: Lab
    scenario: Scenario
    load: Load
    measurer: Measurer
    verdict: Verdict
    changes: Changes
    peaks: checks.ResourcePeaks
    on_progress: Callable[[Progress], None]
    load_cpu: Callable[[], float | None]
    planned_left: float


def evaluate(
    ctx: RunContext, check: Check, current: PhaseResult | None, stats: Stats | None = None
) -> CheckResult:
    """Evaluate ``check`` now, within phase ``current`` (None: a final check)."""
    stats = stats or ctx.load.stats()
    client: dict[str, float | None] = {
        "rps": stats.rps,
        "p50": stats.p50,
        "p95": stats.p95,
        "p99": stats.p99,
        "users": float(stats.users),
        "fail_ratio": stats.fail_ratio,
    }
    return checks.evaluate(
        check,
        ctx.verdict,
        ctx.measurer,
        current=current,
        run_window=Window(ctx.verdict.started, time.time()),
        client=client,
    )


def record(ctx: RunContext, result: CheckResult) -> None:
    """Add a check's result to the verdict and journal it."""
    ctx.verdict.checks.append(result)
    mark = "passed" if result.passed else "FAILED"
    ctx.lab.events.emit(
        "check",
        f"check {mark}: {result.name} ({result.detail})",
        name=result.name,
        passed=result.passed,
        value=result.value,
        threshold=result.threshold,
        tags=("check", "pass" if result.passed else "fail"),
    )
