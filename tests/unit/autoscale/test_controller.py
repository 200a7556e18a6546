"""The control loop on a fake lab: a sync reads the signal, decides, journals, and hands a
new desired count to the applier, which scales through the lab and times the scale-up
from the breach to the first request the new replicas served."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from lab.autoscale.controller import Controller
from lab.autoscale.hpa import Decision
from lab.autoscale.policy import HpaPolicy, KedaPolicy, Policy
from lab.metrics.prom import Sample
from lab.run.scaling import Autoscaling, ScaleUp


class FakeProm:
    """Per-replica readings, whatever the expression (the arithmetic is tested elsewhere)."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {"api-1": 0.5}

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        return [Sample({"instance": name}, value) for name, value in self.values.items()]

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        return None


class FakeTarget:
    def __init__(self) -> None:
        self.prometheus = FakeProm()
        self.counts = {"api": 1, "worker": 0}
        self.scaled: list[tuple[str, int]] = []
        self.lag: float | None = 0.0
        self.sessions = {"api-1": ("UP", 100)}
        self.done = threading.Event()

    def scale(self, service: str, replicas: int) -> object:
        self.scaled.append((service, replicas))
        for i in range(self.counts[service] + 1, replicas + 1):
            self.sessions[f"{service}-{i}"] = ("UP", 0)
        self.counts[service] = replicas
        # the balancer sends the new replica a request a moment later
        threading.Timer(0.05, self._serve).start()
        return None

    def _serve(self) -> None:
        self.sessions = {k: (s, n + 1) for k, (s, n) in self.sessions.items()}
        self.done.set()

    def replicas(self) -> Mapping[str, int]:
        return dict(self.counts)

    def readiness(self, service: str) -> tuple[int, list[str]]:
        return self.counts[service], []

    def queue_lag(self) -> float | None:
        return self.lag

    def lb_sessions(self) -> dict[str, tuple[str, int]] | None:
        return dict(self.sessions)


class ListJournal:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.reactions: list[ScaleUp] = []

    def decision(self, decision: Decision) -> None:
        self.decisions.append(decision)

    def reaction(self, reaction: ScaleUp) -> None:
        self.reactions.append(reaction)


def api_policy() -> Policy:
    return Policy(api=HpaPolicy(metric="concurrency", target=0.7, sync_s=1, max_replicas=4))


def test_a_sync_within_tolerance_changes_nothing() -> None:
    lab, journal = FakeTarget(), ListJournal()
    controller = Controller(lab, api_policy(), journal)
    lab.prometheus.values = {"api-1": 0.74}  # ratio 1.06: within 0.1
    decision = controller.sync("api", 1000.0)
    assert decision.result == 1 and not decision.scales
    assert journal.decisions == [decision] and controller.record.scalings == []


def test_a_breach_scales_through_the_lab_and_times_the_first_request() -> None:
    lab, journal = FakeTarget(), ListJournal()
    record = Autoscaling()
    controller = Controller(lab, api_policy(), journal, record=record)
    controller.start()
    try:
        lab.prometheus.values = {"api-1": 2.1}  # ratio 3: ceil(3 × 1) = 3
        decision = controller.sync("api", time.time())
        assert (decision.raw, decision.result) == (3, 3)
        assert lab.done.wait(5), "the applier never scaled"
        deadline = time.time() + 5
        while not journal.reactions and time.time() < deadline:
            time.sleep(0.02)
    finally:
        controller.stop(timeout=5)
    assert lab.scaled == [("api", 3)]
    assert [(s.before, s.after) for s in record.scalings] == [(1, 3)]
    (up,) = journal.reactions
    assert up.breach <= up.decided <= (up.called or 0) <= (up.ready or 0) <= (up.served or 0)
    assert up.breach_to_served is not None and up.breach_to_served < 5
    assert record.scale_ups == [up]


def test_the_breach_is_dated_from_the_first_sync_that_saw_it() -> None:
    # the scale-up window holds the first breach back; the reaction counts from it
    policy = Policy(
        api=HpaPolicy(
            metric="concurrency", target=0.7, sync_s=1,
            up={"window_s": 5, "rules": [{"type": "pods", "value": 4, "period_s": 15}]},
        )
    )  # fmt: skip
    lab, journal = FakeTarget(), ListJournal()
    controller = Controller(lab, policy, journal)
    assert controller.sync("api", 100.0).result == 1  # 0.5: a recommendation of 1
    lab.prometheus.values = {"api-1": 1.4}  # ratio 2 → 2
    first = controller.sync("api", 101.0)
    assert first.result == 1 and "scale-up window" in first.reason
    assert controller.sync("api", 103.0).result == 1  # the 1 at t=100 is still in it
    later = controller.sync("api", 105.5)  # only 2s left in the window: up
    assert later.result == 2
    assert controller.services["api"].pending[0].breach == 101.0


def test_keda_activates_from_zero_and_returns_to_zero_after_the_cooldown() -> None:
    policy = Policy(worker=KedaPolicy(polling_s=1, cooldown_s=10, lag_threshold=10))
    lab, journal = FakeTarget(), ListJournal()
    controller = Controller(lab, policy, journal)
    assert controller.sync("worker", 0.0).result == 0  # no lag: idle
    lab.lag = 35
    assert controller.sync("worker", 1.0).result == 1  # activation: 0 → 1
    assert controller.sync("worker", 2.0).result == 4  # ceil(35 / 10)
    lab.lag = 0
    held = controller.sync("worker", 3.0)
    assert held.result == 4 and "zero in" in held.reason  # the HPA's 300 s window holds
    assert controller.sync("worker", 12.0).result == 4  # exactly 10 s: not yet (KEDA: before now)
    assert controller.sync("worker", 13.0).result == 0  # over 10 s without lag: to zero
