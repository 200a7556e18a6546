"""KEDA's arithmetic for the workers: activation, scale to zero, and an HPA in between.

KEDA owns 0 ↔ 1: a poll that finds the lag above the activation threshold while nothing
runs starts one replica; once no poll has found it active for ``cooldown_s``, the
replicas go back to ``min_replicas`` (zero). From one replica up, the HPA KEDA created
scales on the lag as an External metric with an AverageValue target: ``ceil(lag ÷
lag_threshold)``, with the HPA's windows and policies (kedacore/keda pkg/scaling/
executor/scale_scaledobjects.go; the NATS JetStream scaler's lag is the consumer's
num_pending + num_ack_pending).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lab.autoscale.hpa import Decision, Hpa, Raw, average_value
from lab.autoscale.policy import KedaPolicy


@dataclass
class Keda:
    policy: KedaPolicy
    service: str = "worker"
    hpa: Hpa = field(init=False)
    last_active: float | None = None  # None: never active since it was switched on
    created: float | None = None

    def __post_init__(self) -> None:
        self.hpa = Hpa(self.policy.hpa(), service=self.service)

    def decide(self, t: float, current: int, lag: float | None) -> Decision:
        p = self.policy
        if self.created is None:
            self.created = t
        active = lag is not None and lag > p.activation_lag
        if active:
            self.last_active = t
        shown = "no reading" if lag is None else f"lag {lag:g}"
        if current == 0:
            if active:
                start = max(p.min_replicas, 1)
                raw = Raw(start, None, f"{shown} > activation {p.activation_lag}: activate")
                return self._make(t, current, lag, raw, start, "scale from zero")
            raw = Raw(0, None, f"{shown}, not above activation {p.activation_lag}: idle")
            if p.min_replicas > 0:  # KEDA brings an inactive target up to its minimum too
                return self._make(
                    t, current, lag, raw, p.min_replicas, f"below min {p.min_replicas}"
                )
            return self._make(t, current, lag, raw, 0, "no change")
        # strictly after the cooldown (LastActiveTime + cooldownPeriod before now); never
        # active since creation: after initialCooldownPeriod (KEDA's default 0: at once)
        since = self.last_active if self.last_active is not None else self.created
        wait = p.cooldown_s if self.last_active is not None else p.initial_cooldown_s
        idle = t - since
        if not active and p.min_replicas == 0 and (idle > wait or (wait == 0 and idle >= 0)):
            raw = Raw(0, None, f"{shown}: inactive for {idle:.0f} s, cooldown {wait:g} s")
            return self._make(t, current, lag, raw, 0, "scale to zero")
        raw = average_value(current, lag, p.lag_threshold, p.tolerance)
        decision = replace(self.hpa.decide(t, current, raw, value=lag), metric="lag")
        if not active and p.min_replicas == 0:
            left = wait - idle
            reason = f"{decision.reason}; zero in {left:.0f} s if still inactive"
            return replace(decision, reason=reason)
        return decision

    def record(self, t: float, before: int, after: int) -> None:
        self.hpa.record(t, before, after)

    def _make(
        self, t: float, current: int, lag: float | None, raw: Raw, result: int, reason: str
    ) -> Decision:
        base = Decision.of(
            t, self.service, "lag", self.policy.lag_threshold, current, raw, value=lag
        )
        return replace(base, result=result, reason=reason)
