"""The knee: raise users step by step until p95 crosses the SLO, measuring each step.

The knee is found by measurement, never written down: each step holds its users, then
reads throughput and p95 (the worse of the server's and the client's view) at its end.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lab.scenario.measure import steady_window
from lab.scenario.model import FindKneeStep
from lab.scenario.verdict import Knee, KneeStep

if TYPE_CHECKING:
    from lab.scenario.steps import PhaseRunner


def find_knee(runner: PhaseRunner, step: FindKneeStep) -> None:
    """Run ``step`` within the phase that ``runner`` runs; sets ``verdict.knee``."""
    threshold = step.threshold or runner.ctx.scenario.slo_seconds
    done: list[KneeStep] = []
    steps = step.user_steps()
    for i, users in enumerate(steps):
        runner.step_label = f"find_knee {users} users"
        runner.set_users(users, step.spawn_rate)
        runner.hold(step.hold)
        window = steady_window(
            runner.last_change, runner.last_change, runner.ctx.scenario.settle, time.time()
        )
        rps = runner.ctx.measurer.rule("rps", window)
        server = runner.ctx.measurer.rule("p95", window)
        client = runner.ctx.measurer.rule("client_p95", window)
        worst = max((v for v in (server, client) if v is not None), default=None)
        done.append(KneeStep(users, rps, worst, server, client))
        crossed = worst is not None and worst > threshold
        runner.ctx.lab.events.emit(
            "knee_step",
            f"{users} users: {rps or 0:.0f} req/s, p95 {(worst or 0) * 1000:.0f} ms",
            users=users,
            rps=rps,
            p95=worst,
            crossed=crossed,
            tags=("knee",),
        )
        if crossed:
            runner.ctx.planned_left -= step.hold * (len(steps) - i - 1)
            break
    last = done[-1]
    found = last.p95 is not None and last.p95 > threshold
    runner.ctx.verdict.knee = Knee(found, last.users, last.rps, last.p95, tuple(done))
    message = (
        f"knee at {last.users} users ({last.rps or 0:.0f} req/s)"
        if found
        else f"no knee up to {last.users} users"
    )
    runner.ctx.lab.events.emit("knee", message, users=last.users, found=found, tags=("knee",))
