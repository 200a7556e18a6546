"""The autoscaler's control loop: sync, decide, scale, and time what followed.

One thread syncs each scaled service on its own period (the HPA's ``sync_s``, KEDA's
``polling_s``). A decision only changes the *desired* count, as an HPA only writes the
scale subresource; one applier thread per service carries it out through ``Lab.scale``
(journaled, annotated, drained) while the syncs go on. Every scale-up of the API is
timed: breach seen → decision → scale called → ready and in the load balancer → first
request served (HAProxy's per-server session counter moving).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from lab.autoscale.hpa import Decision, Hpa, object_value, per_replica
from lab.autoscale.keda import Keda
from lab.autoscale.policy import HpaPolicy, Policy
from lab.autoscale.signals import api_samples
from lab.metrics.prom import PrometheusClient
from lab.run.scaling import Autoscaling, ScaleUp, Scaling

log = logging.getLogger(__name__)
SERVED_WAIT_S = 15.0  # how long to watch a new replica for its first request


class Target(Protocol):
    """What the controller needs of the lab (``lab.lab.Lab`` fits; tests pass a fake)."""

    @property
    def prometheus(self) -> PrometheusClient: ...

    def scale(self, service: str, replicas: int) -> object: ...

    def replicas(self) -> Mapping[str, int]: ...

    def readiness(self, service: str) -> tuple[int, list[str]]:
        """Ready instances of ``service``, and the names of those alive but not ready."""
        ...

    def queue_lag(self) -> float | None: ...

    def lb_sessions(self) -> dict[str, tuple[str, int]] | None: ...


class Journal(Protocol):
    def decision(self, decision: Decision) -> None: ...

    def reaction(self, reaction: ScaleUp) -> None: ...


@dataclass
class _Service:
    name: str
    period: float
    scaler: Hpa | Keda
    desired: int
    tolerance: float
    breach: float | None = None
    next_sync: float = 0.0
    pending: list[ScaleUp] = field(default_factory=list)
    wake: threading.Event = field(default_factory=threading.Event)


class Controller:
    def __init__(
        self,
        lab: Target,
        policy: Policy,
        journal: Journal,
        *,
        record: Autoscaling | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.lab, self.policy, self.journal, self.now = lab, policy, journal, now
        self.record = record if record is not None else Autoscaling()
        current = lab.replicas()
        self.services: dict[str, _Service] = {}
        if policy.api is not None:
            self.services["api"] = _Service(
                "api", policy.api.sync_s, Hpa(policy.api), current.get("api", 1),
                policy.api.tolerance,
            )  # fmt: skip
        if policy.worker is not None:
            self.services["worker"] = _Service(
                "worker", policy.worker.polling_s, Keda(policy.worker),
                current.get("worker", 1), policy.worker.tolerance,
            )  # fmt: skip
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._loop, name="autoscaler", daemon=True)]
        self._threads += [
            threading.Thread(target=self._apply, args=(s,), name=f"scaler-{s.name}", daemon=True)
            for s in self.services.values()
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 120.0) -> None:
        """Stop syncing; a scale under way finishes (a half-started replica helps no one)."""
        self._stop.set()
        for s in self.services.values():
            s.wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def wait(self, seconds: float) -> bool:
        """Sleep unless stopped; True once stopped."""
        return self._stop.wait(seconds)

    # -- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            t = self.now()
            for s in self.services.values():
                if t >= s.next_sync:
                    s.next_sync = t + s.period
                    try:
                        self.sync(s.name, t)
                    except Exception:  # a failed sync is logged; the next one tries again
                        log.exception("autoscaler: sync of %s failed", s.name)
            soonest = min(s.next_sync for s in self.services.values())
            self._stop.wait(max(0.05, soonest - self.now()))

    def sync(self, service: str, t: float) -> Decision:
        """One sync: read, decide, and hand a new desired count to the applier."""
        s = self.services[service]
        if isinstance(s.scaler, Keda):
            decision = s.scaler.decide(t, s.desired, self.lab.queue_lag())
        else:
            decision = self._api_decision(s.scaler, s.desired, t)
        breached = decision.ratio is not None and decision.ratio > 1 + s.tolerance
        s.breach = (s.breach or t) if breached or decision.result > s.desired else None
        self.journal.decision(decision)
        if decision.result != s.desired:
            s.scaler.record(t, s.desired, decision.result)
            self.record.scalings.append(
                Scaling(t, service, s.desired, decision.result, decision.reason)
            )
            if decision.result > s.desired:
                s.pending.append(ScaleUp(service, s.desired, decision.result, s.breach or t, t))
            s.desired = decision.result
            s.wake.set()
        return decision

    def _api_decision(self, hpa: Hpa, current: int, t: float) -> Decision:
        p: HpaPolicy = hpa.policy
        ready_count, not_ready = self.lab.readiness("api")
        samples, value = api_samples(self.lab.prometheus, p, ready_count, not_ready)
        if p.metric == "p95":
            raw = object_value(current, ready_count, value, p.target, p.tolerance)
        else:
            raw = per_replica(current, samples, p.target, p.tolerance)
        return hpa.decide(t, current, raw, samples, value=value)

    # -- carrying decisions out ----------------------------------------------------------

    def _apply(self, s: _Service) -> None:
        applied = self.lab.replicas().get(s.name, s.desired)
        while True:
            s.wake.wait()
            s.wake.clear()
            want = s.desired
            if want == applied:
                if self._stop.is_set():
                    return
                continue
            reactions, s.pending = s.pending, []
            before = self.lab.lb_sessions() if s.name == "api" and want > applied else None
            called = self.now()
            error = None
            try:
                self.lab.scale(s.name, want)
                applied = want
            except Exception as exc:  # the next decision tries again
                log.warning("autoscaler: scale %s → %d failed: %s", s.name, want, exc)
                error = str(exc)
            ready = self.now()
            served = self._first_request(before) if before is not None and not error else None
            for r in reactions:
                r.called, r.ready, r.served, r.error = called, ready, served, error
                self.record.scale_ups.append(r)
                self.journal.reaction(r)
            if self._stop.is_set() and s.desired == applied:
                return

    def _first_request(self, before: dict[str, tuple[str, int]]) -> float | None:
        """When a server that was not UP before the scale first served a request."""
        start = self.lab.lb_sessions()
        if start is None:
            return None
        new = {
            name: stot
            for name, (status, stot) in start.items()
            if status.startswith("UP") and not before.get(name, ("", 0))[0].startswith("UP")
        }
        deadline = self.now() + SERVED_WAIT_S
        while new and self.now() < deadline and not self._stop.is_set():
            now = self.lab.lb_sessions() or {}
            if any(now.get(name, ("", 0))[1] > stot for name, stot in new.items()):
                return self.now()
            time.sleep(0.05)
        return None
