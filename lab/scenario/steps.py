"""Run one phase: each step kind has one handler, found in ``HANDLERS`` by its ``kind``.

Every change goes through the lab (journalled, annotated) and is remembered in
``RunContext.changes`` so the runner can put the lab back as it found it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from lab.errors import AlreadyRunning, LabError
from lab.load.traffic import Traffic
from lab.run.verdict import CheckResult, PhaseResult
from lab.scenario import autoscaling, predict
from lab.scenario.context import LoadSetting, RunContext, evaluate, record
from lab.scenario.knee import KneeSearch
from lab.scenario.model import Phase
from lab.scenario.phase import PhaseRun, pool_size
from lab.scenario.ports import Metrics
from lab.scenario.step_model import (
    AnnotateStep,
    AppFaultStep,
    CheckStep,
    FaultStep,
    FindKneeStep,
    HoldStep,
    LoadStep,
    NetFaultStep,
    ScaleStep,
    SetStep,
    WaitUntilStep,
)


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
    lesson(run)
    return run.result


def lesson(run: PhaseRun) -> None:
    """Compare the phase's predictions with what it measured; each is a check too."""
    ctx, result = run.ctx, run.result
    names = predict.names_for(
        ctx.scenario.topology, ctx.scenario.slo_seconds, result, ctx.verdict.latest_knee
    )
    for prediction in run.phase.predict:
        found = predict.evaluate(prediction, names, result)
        result.predictions.append(found)
        measured = "no data" if found.measured is None else f"{found.measured:g}"
        wanted = "no data" if found.predicted is None else f"{found.predicted:g}"
        name = f"{result.name}: {prediction.text}"
        record(
            ctx,
            CheckResult(
                name,
                found.passed,
                found.measured,
                f"{found.op} {wanted}",
                f"{prediction.measure} measured {measured}, predicted {wanted}; {found.detail}",
            ),
        )


def load(run: PhaseRun, step: LoadStep) -> None:
    scenario, knee = run.ctx.scenario, run.ctx.verdict.latest_knee
    previous = run.ctx.load_now.traffic
    traffic = Traffic(
        think_time=step.think_time or 0.0,
        mix=step.mix.model_dump() if step.mix else previous.mix,
        skew=previous.skew if step.skew is None else step.skew,
        ramp_s=step.ramp or 0.0,
        arrivals=step.arrivals or previous.arrivals,
    )
    rate, users = step.rate, step.users
    if step.knee_multiple is not None:
        if knee is not None and knee.by == "rate":
            base = knee.rate if knee.found and knee.rate else (knee.predicted_rps or 0.0)
            rate = round(base * step.knee_multiple, 1)
        else:
            base_users = knee.users if knee is not None else 0
            users = max(1, math.ceil(base_users * step.knee_multiple))
    if rate is not None and users is None:
        users = pool_size(rate, scenario.topology.work_ms, scenario.slo_seconds)
    assert users is not None  # the model asks for rate, users or knee_multiple
    run.set_load(LoadSetting(users, rate, traffic, step.spawn_rate))


def hold(run: PhaseRun, step: HoldStep) -> None:
    run.hold(step.duration)


def scale(run: PhaseRun, step: ScaleStep) -> None:
    lab = run.ctx.lab
    run.ctx.changes.replicas.setdefault(step.service, lab.replicas().get(step.service, 0))
    lab.scale(step.service, step.replicas)
    run.changed()


def set_knobs(run: PhaseRun, step: SetStep) -> None:
    """A rolling restart with new knobs. The value each knob had before the run is kept
    first, so a Ctrl-C in the middle of the restart still puts it back."""
    lab = run.ctx.lab
    for name in step.knobs:
        run.ctx.changes.knobs.setdefault(name, getattr(lab.settings, name))
    lab.set(step.knobs)
    run.changed()


def fault(run: PhaseRun, step: FaultStep) -> None:
    lab, target, changes = run.ctx.lab, step.target, run.ctx.changes
    if step.action == "start":
        try:
            lab.start(target)
        except AlreadyRunning:  # a crash its restart policy already healed
            lab.events.emit(
                "start", f"{target} already running (restarted by its policy)", instance=target
            )
        changes.down.pop(target, None)
    elif step.action == "restart":
        lab.restart(target)
    elif step.action == "resume":
        lab.resume(target)
        changes.down.pop(target, None)
    elif step.action == "pause":
        lab.pause(target)
        changes.down.setdefault(target, "pause")
    else:
        (lab.stop if step.action == "stop" else lab.kill)(target)
        changes.down.setdefault(target, step.action)
    run.changed()


def app_fault(run: PhaseRun, step: AppFaultStep) -> None:
    """Switch the fault on; the replicas are remembered so the run clears them at its end."""
    touched = run.ctx.lab.app_fault(step.as_fault(), step.replicas)
    run.ctx.changes.app_faults.update(touched)


def net_fault(run: PhaseRun, step: NetFaultStep) -> None:
    """Inject; with ``duration``, hold it that long and take it away. It is in
    ``changes`` while in place, so the run's end (or Ctrl-C) takes it away otherwise."""
    fault, lab, changes = step.net_fault(), run.ctx.lab, run.ctx.changes
    changes.net_faults.append(fault)
    lab.net_fault(fault)
    run.changed()
    if step.duration is None:
        return
    run.hold(step.duration)
    lab.end_net_fault(fault)
    changes.net_faults.remove(fault)
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
    scenario = run.ctx.scenario
    replicas = run.ctx.lab.replicas().get("api", 1)
    search = KneeSearch(
        step,
        step.threshold or scenario.slo_seconds,
        predict.capacity(scenario.topology, replicas),
        scenario.topology.work_ms,
    )
    run.ctx.verdict.add_knee(
        dataclasses.replace(search.run(run), replicas=replicas, phase=run.phase.name)
    )
    run.ctx.planned_left -= search.skipped_seconds()


# kind -> handler; each handler takes the step of its kind (see model.STEP_KINDS).
HANDLERS: dict[str, Callable[[PhaseRun, Any], None]] = {
    "load": load,
    "hold": hold,
    "scale": scale,
    "fault": fault,
    "net_fault": net_fault,
    "wait_until": wait_until,
    "check": check,
    "annotate": annotate,
    "find_knee": find_knee,
    "app_fault": app_fault,
    "set": set_knobs,
    "autoscale": lambda run, step: autoscaling.autoscale(run.ctx, step),
}
