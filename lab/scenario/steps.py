"""Run one phase: each step kind has one handler, found in ``HANDLERS`` by its ``kind``.

Every change goes through the lab (journalled, annotated) and is remembered in
``RunContext.changes`` so the runner can put the lab back as it found it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lab.errors import LabError
from lab.run.verdict import CheckResult, PhaseResult
from lab.scenario.context import RunContext, evaluate, record
from lab.scenario.knee import KneeSearch
from lab.scenario.model import (
    AnnotateStep,
    CheckStep,
    FaultStep,
    FindKneeStep,
    HoldStep,
    LoadStep,
    Phase,
    ScaleStep,
    WaitUntilStep,
)
from lab.scenario.phase import PhaseRun
from lab.scenario.ports import Metrics


def run_phase(ctx: RunContext, phase: Phase, index: int) -> PhaseResult:
    run = PhaseRun(ctx, phase, index)
    ctx.verdict.phases.append(run.result)
    ctx.lab.events.emit(
        "phase",
        f"phase {phase.name}: {phase.narrative}",
        name=phase.name,
        index=index,
        tags=("phase", phase.name),
    )
    for step in phase.steps:
        run.step_label = step.kind
        HANDLERS[step.kind](run, step)
    run.measure(run.steady_window())
    return run.result


def load(run: PhaseRun, step: LoadStep) -> None:
    users = step.users
    if step.knee_multiple is not None:
        knee = run.ctx.verdict.knee
        base = knee.users if knee is not None else 0
        users = max(1, math.ceil(base * step.knee_multiple))
    if users is None:  # open loop with no pool size given: enough users to reach the rate
        users = max(10, math.ceil((step.target_rps or 0) / 10))
    run.set_users(users, step.spawn_rate, step.target_rps)


def hold(run: PhaseRun, step: HoldStep) -> None:
    run.hold(step.duration)


def scale(run: PhaseRun, step: ScaleStep) -> None:
    lab = run.ctx.lab
    run.ctx.changes.replicas.setdefault(step.service, lab.replicas().get(step.service, 0))
    lab.scale(step.service, step.replicas)
    run.changed()


def fault(run: PhaseRun, step: FaultStep) -> None:
    lab, target, changes = run.ctx.lab, step.target, run.ctx.changes
    if step.action == "start":
        lab.start(target)
        changes.down.pop(target, None)
    else:
        (lab.stop if step.action == "stop" else lab.kill)(target)
        changes.down.setdefault(target, step.action)
    run.changed()


def wait_until(run: PhaseRun, step: WaitUntilStep) -> None:
    """Tick until ``expr`` holds or ``timeout`` passes; a named wait (or a timeout) is a
    check in the verdict."""
    clock, metrics = run.ctx.clock, run.ctx.metrics
    started = clock.monotonic()
    name = step.name or f"wait until {step.expr}"
    while True:
        run.tick()
        if _holds(metrics, step.expr):
            passed, detail = True, f"held after {clock.monotonic() - started:.1f} s"
            break
        if clock.monotonic() - started >= step.timeout:
            passed, detail = False, f"did not hold within {step.timeout:g} s"
            break
        clock.sleep(run.ctx.tick_s)
    if step.name is not None or not passed:
        waited = clock.monotonic() - started
        result = CheckResult(name, passed, waited, f"within {step.timeout:g} s", detail)
        record(run.ctx, result)


def _holds(metrics: Metrics, expr: str) -> bool:
    try:
        return metrics.holds(expr)
    except LabError:  # Prometheus hiccuped: "not yet", the timeout decides
        return False


def check(run: PhaseRun, step: CheckStep) -> None:
    run.measure(run.steady_window())
    record(run.ctx, evaluate(run.ctx, step, run.result, run.stats))


def annotate(run: PhaseRun, step: AnnotateStep) -> None:
    run.ctx.lab.events.emit("annotate", step.message, tags=("annotate",))


def find_knee(run: PhaseRun, step: FindKneeStep) -> None:
    search = KneeSearch(step, step.threshold or run.ctx.scenario.slo_seconds)
    knee = search.run(run)
    run.ctx.verdict.knee = knee
    run.ctx.planned_left -= search.skipped_seconds(knee)


# kind -> handler; each handler takes the step of its kind (see model.STEP_KINDS).
HANDLERS: dict[str, Callable[[PhaseRun, Any], None]] = {
    "load": load,
    "hold": hold,
    "scale": scale,
    "fault": fault,
    "wait_until": wait_until,
    "check": check,
    "annotate": annotate,
    "find_knee": find_knee,
}
