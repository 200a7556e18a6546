"""What every step of a run shares: the lab, the load, the metrics, the clock, the
verdict being written, and what was changed (to undo). ``evaluate`` and ``record`` turn a
check into a journalled result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab.faults.net import NetFault
from lab.load.traffic import Traffic
from lab.run.verdict import CheckResult, PhaseResult, Verdict
from lab.scenario import checks
from lab.scenario.measure import Window
from lab.scenario.model import Scenario
from lab.scenario.ports import Autoscaler, Clock, Lab, Load, Metrics, Stats
from lab.scenario.progress import Progress
from lab.scenario.step_model import Check

TICK_S = 1.0  # how often a waiting step reads live numbers and tells the live view


@dataclass(frozen=True)
class LoadSetting:
    """One setting of the load: closed loop (``rate`` None) or open loop."""

    users: int
    rate: float | None = None
    traffic: Traffic = field(default_factory=Traffic)
    spawn_rate: float = 50.0

    def describe(self) -> str:
        if self.rate is None:
            think = f", think {self.traffic.think_time:g} s" if self.traffic.think_time else ""
            return f"closed loop: {self.users} users{think}"
        ramp = f" (ramp {self.traffic.ramp_s:g} s)" if self.traffic.ramp_s else ""
        return f"open loop: {self.rate:g} req/s{ramp} from a pool of {self.users} users"


@dataclass
class Changes:
    """What the scenario changed, to undo at the end."""

    replicas: dict[str, int] = field(default_factory=dict)  # service -> count before the run
    down: dict[str, str] = field(default_factory=dict)  # instance -> "stop" | "kill" | "pause"
    app_faults: set[str] = field(default_factory=set)  # API replicas given an app fault
    net_faults: list[NetFault] = field(default_factory=list)  # in place, to take away
    knobs: dict[str, object] = field(default_factory=dict)  # live knob -> value before the run
    autoscaler: Autoscaler | None = None  # running: stopped before anything is scaled back


@dataclass
class RunContext:
    lab: Lab
    scenario: Scenario
    load: Load
    metrics: Metrics
    clock: Clock
    verdict: Verdict
    changes: Changes
    peaks: checks.ResourcePeaks
    on_progress: Callable[[Progress], None]
    planned_left: float
    tick_s: float = TICK_S
    load_now: LoadSetting = field(default_factory=lambda: LoadSetting(0))
    workdir: Path | None = None  # the run folder (an autoscaler journals into it)


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
        ctx.metrics,
        current=current,
        run_window=Window(ctx.verdict.started, ctx.clock.time()),
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
