"""Run one phase: each step kind is one method of ``PhaseRunner``.

Every change goes through ``Lab`` (journalled, annotated) and is remembered in
``RunContext.changes`` so the runner can put the lab back as it found it.
"""

from __future__ import annotations

import math
import time

import psutil

from lab.errors import NotReadyError
from lab.scenario.context import RunContext, Stats, evaluate, record
from lab.scenario.knee import find_knee
from lab.scenario.measure import RULE_WINDOW_S, Window, steady_window
from lab.scenario.model import (
    AnnotateStep,
    Check,
    CheckStep,
    FaultStep,
    FindKneeStep,
    HoldStep,
    LoadStep,
    Phase,
    ScaleStep,
    Step,
    WaitUntilStep,
)
from lab.scenario.progress import Progress
from lab.scenario.verdict import CheckResult, ClientView, PhaseResult
from lab.wait import wait_for

TICK_S = 1.0


class PhaseRunner:
    def __init__(self, ctx: RunContext, phase: Phase, index: int) -> None:
        self.ctx = ctx
        self.phase = phase
        self.index = index
        self.result = PhaseResult(name=phase.name, narrative=phase.narrative, start=time.time())
        self.last_change = self.result.start
        self.step_label = ""
        self.stats: Stats | None = None

    def run(self) -> PhaseResult:
        ctx = self.ctx
        ctx.verdict.phases.append(self.result)
        ctx.lab.events.emit(
            "phase",
            f"phase {self.phase.name}: {self.phase.narrative}",
            name=self.phase.name,
            index=self.index,
            tags=("phase", self.phase.name),
        )
        for step in self.phase.steps:
            self.step_label = step.kind
            self._run_step(step)
        self.measure(
            steady_window(self.result.start, self.last_change, ctx.scenario.settle, time.time())
        )
        return self.result

    def _run_step(self, step: Step) -> None:
        if isinstance(step, LoadStep):
            self.load(step)
        elif isinstance(step, HoldStep):
            self.hold(step.duration)
        elif isinstance(step, ScaleStep):
            self.ctx.changes.replicas.setdefault(
                step.service, self.ctx.lab.runtime.replicas().get(step.service, 0)
            )
            self.ctx.lab.scale(step.service, step.replicas)
            self.last_change = time.time()
        elif isinstance(step, FaultStep):
            self.fault(step)
        elif isinstance(step, WaitUntilStep):
            self.wait_until(step)
        elif isinstance(step, CheckStep):
            self.check(step)
        elif isinstance(step, AnnotateStep):
            self.ctx.lab.events.emit("annotate", step.message, tags=("annotate",))
        elif isinstance(step, FindKneeStep):
            self.find_knee(step)

    # -- steps ------------------------------------------------------------------------------

    def load(self, step: LoadStep) -> None:
        users = step.users
        if step.knee_multiple is not None:
            knee = self.ctx.verdict.knee
            base = knee.users if knee is not None else 0
            users = max(1, math.ceil(base * step.knee_multiple))
        if users is None:  # open loop with no pool size given: enough users to reach the rate
            users = max(10, math.ceil((step.target_rps or 0) / 10))
        self.set_users(users, step.spawn_rate, step.target_rps)

    def set_users(self, users: int, spawn_rate: float, target_rps: float | None = None) -> None:
        self.ctx.load.swarm(users, spawn_rate, target_rps=target_rps)
        rate = f", {target_rps:g} req/s" if target_rps else ""
        self.ctx.lab.events.emit(
            "load",
            f"load {users} users{rate}",
            users=users,
            spawn_rate=spawn_rate,
            target_rps=target_rps,
            tags=("load",),
        )
        self.result.users = users
        self.last_change = time.time()

    def hold(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.tick()
            time.sleep(min(TICK_S, max(0.0, end - time.monotonic())))
            self.ctx.planned_left -= min(TICK_S, left)
        self.tick()

    def fault(self, step: FaultStep) -> None:
        lab, target = self.ctx.lab, step.target
        if step.action == "start":
            lab.start(target)
            self.ctx.changes.down.pop(target, None)
        else:
            getattr(lab, step.action)(target)
            self.ctx.changes.down.setdefault(target, step.action)
        self.last_change = time.time()

    def wait_until(self, step: WaitUntilStep) -> None:
        started = time.monotonic()
        name = step.name or f"wait until {step.expr}"
        try:
            waited = wait_for(
                f"`{step.expr}` did not hold",
                lambda: self._tick_then(step.expr),
                timeout=step.timeout,
                interval=TICK_S,
                hint="see the timeline in the run's report",
            )
            passed, detail = True, f"held after {waited:.1f} s"
        except NotReadyError:
            passed, detail = False, f"did not hold within {step.timeout:g} s"
        if step.name is not None or not passed:
            self.record(
                CheckResult(
                    name, passed, time.monotonic() - started, f"within {step.timeout:g} s", detail
                )
            )

    def _tick_then(self, expr: str) -> bool:
        self.tick()
        return self.ctx.measurer.holds(expr)

    def check(self, step: Check) -> None:
        window = steady_window(
            self.result.start, self.last_change, self.ctx.scenario.settle, time.time()
        )
        self.measure(window)
        self.record(self.evaluate(step, self.result))

    def find_knee(self, step: FindKneeStep) -> None:
        find_knee(self, step)

    # -- measuring ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Read live numbers, remember resource peaks, tell the live view."""
        ctx = self.ctx
        self.stats = ctx.load.stats()
        ctx.peaks.record("machine CPU", psutil.cpu_percent(None) / 100, self.phase.name)
        ctx.peaks.record("load generator CPU", ctx.load_cpu(), self.phase.name)
        ctx.on_progress(
            Progress(
                scenario=ctx.scenario.name,
                phase=self.phase.name,
                phase_index=self.index,
                phases=len(ctx.scenario.phases),
                narrative=self.phase.narrative,
                step=self.step_label,
                users=self.stats.users,
                rps=self.stats.rps,
                p95=self.stats.p95,
                slo=ctx.scenario.slo_seconds,
                replicas=dict(ctx.lab.runtime.replicas()),
                elapsed=time.time() - ctx.verdict.started,
                remaining=max(0.0, ctx.planned_left),
            )
        )

    def measure(self, window: Window) -> None:
        r = self.result
        r.end, r.window = time.time(), (window.start, window.end)
        r.replicas = dict(self.ctx.lab.runtime.replicas())
        if r.end - r.start < RULE_WINDOW_S:
            return  # e.g. drain: any number now would still be the previous phase's
        values = self.ctx.measurer.all(window)
        r.rps, r.p50, r.p95, r.p99 = values["rps"], values["p50"], values["p95"], values["p99"]
        r.error_ratio, r.cpu_api = values["error_ratio"], values["cpu_api"]
        stats = self.stats or self.ctx.load.stats()
        r.client = ClientView(
            rps=values["client_rps"] or stats.rps,
            p50=stats.p50,
            p95=values["client_p95"] or stats.p95,
            fail_ratio=values["client_fail_ratio"] or stats.fail_ratio,
        )
        api = r.replicas.get("api", 0)
        if r.cpu_api is not None and api:
            self.ctx.peaks.record("API CPU", r.cpu_api / api, self.phase.name)

    def evaluate(self, check: Check, current: PhaseResult | None) -> CheckResult:
        return evaluate(self.ctx, check, current, self.stats)

    def record(self, result: CheckResult) -> None:
        record(self.ctx, result)
