"""The knee search, a step of its own: raise users step by step until p95 crosses the
threshold (the SLO by default), measuring each step.

Inputs: the ``find_knee`` step, the threshold, the settle time. Result: a ``Knee``. The
knee is found by measurement, never written down: each step holds its users, then reads
throughput and p95 (the worse of the server's and the client's view) over its steady end.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.run.verdict import Knee, KneeStep
from lab.scenario.model import FindKneeStep
from lab.scenario.phase import PhaseRun


@dataclass(frozen=True)
class KneeSearch:
    step: FindKneeStep
    threshold: float  # p95 seconds

    def run(self, phase: PhaseRun) -> Knee:
        """Drive the load through ``phase`` and return what was found."""
        done: list[KneeStep] = []
        metrics, events = phase.ctx.metrics, phase.ctx.lab.events
        for users in self.step.user_steps():
            phase.step_label = f"find_knee {users} users"
            phase.set_users(users, self.step.spawn_rate)
            phase.hold(self.step.hold)
            window = phase.steady_window()
            rps = metrics.rule("rps", window)
            server = metrics.rule("p95", window)
            client = metrics.rule("client_p95", window)
            worst = max((v for v in (server, client) if v is not None), default=None)
            done.append(KneeStep(users, rps, worst, server, client))
            crossed = worst is not None and worst > self.threshold
            events.emit(
                "knee_step",
                f"{users} users: {rps or 0:.0f} req/s, p95 {(worst or 0) * 1000:.0f} ms",
                users=users,
                rps=rps,
                p95=worst,
                crossed=crossed,
                tags=("knee",),
            )
            if crossed:
                break
        last = done[-1]
        found = last.p95 is not None and last.p95 > self.threshold
        message = (
            f"knee at {last.users} users ({last.rps or 0:.0f} req/s)"
            if found
            else f"no knee up to {last.users} users"
        )
        events.emit("knee", message, users=last.users, found=found, tags=("knee",))
        return Knee(found, last.users, last.rps, last.p95, tuple(done))

    def skipped_seconds(self, knee: Knee) -> float:
        """Planned hold time the search did not need (it stopped at the knee)."""
        return self.step.hold * (len(self.step.user_steps()) - len(knee.steps))
