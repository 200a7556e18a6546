"""KEDA's arithmetic against its documented behaviour and source.

Sources cited per test:
- [spec] keda.sh/docs/latest/reference/scaledobject-spec/ (kedacore/keda-docs
  content/docs/2.15/reference/scaledobject-spec.md): pollingInterval 30, cooldownPeriod
  300, minReplicaCount 0, "activation" vs "scaling" phases
- [exec] kedacore/keda pkg/scaling/executor/scale_scaledobjects.go (RequestScale,
  scaleFromZeroOrIdle, scaleToZeroOrIdle: LastActiveTime + cooldownPeriod before now)
- [nats] kedacore/keda pkg/scalers/nats_jetstream_scaler.go: lag = num_pending +
  num_ack_pending, active when lag > activationLagThreshold, AverageValue target lagThreshold
- [calc] kubernetes pkg/controller/podautoscaler/replica_calculator.go
  (GetExternalPerPodMetricReplicas): ceil(total / target per pod)
"""

from __future__ import annotations

from typing import Any

from lab.autoscale.keda import Keda
from lab.autoscale.policy import Direction, KedaPolicy


def keda(**fields: Any) -> Keda:
    no_window = Direction(window_s=0, rules=KedaPolicy().down.rules)
    return Keda(KedaPolicy(**{"max_replicas": 8, "down": no_window, **fields}))


def test_defaults_are_kedas() -> None:
    # [spec] pollingInterval 30, cooldownPeriod 300, minReplicaCount 0
    p = KedaPolicy()
    assert (p.polling_s, p.cooldown_s, p.min_replicas) == (30, 300, 0)


def test_at_zero_lag_above_the_activation_threshold_starts_one_replica() -> None:
    # [exec] currentScale == 0 && isActive → scaleFromZeroOrIdle: minReplicaCount if > 0,
    # else 1 (the HPA takes it from there)
    k = keda(activation_lag=5)
    decision = k.decide(0, 0, 50)
    assert (decision.result, decision.reason) == (1, "scale from zero")
    assert keda(activation_lag=5, min_replicas=0).decide(0, 0, 6).result == 1


def test_at_zero_lag_at_the_activation_threshold_stays_idle() -> None:
    # [nats] active only when lag > activationLagThreshold (strictly)
    k = keda(activation_lag=5)
    assert k.decide(0, 0, 5).result == 0
    assert k.decide(30, 0, None).result == 0
    assert keda().decide(0, 0, 0).result == 0  # default activation 0: any lag activates


def test_inactive_below_min_goes_to_min() -> None:
    # [exec] !isActive && currentScale < minReplicaCount → scale to minReplicaCount
    assert keda(min_replicas=2).decide(0, 0, 0).result == 2


def test_from_one_replica_the_hpa_scales_on_lag_per_replica() -> None:
    # [calc] AverageValue: ceil(lag / lagThreshold): lag 45, threshold 10 → 5
    k = keda()
    decision = k.decide(0, 1, 45)
    assert (decision.raw, decision.result) == (5, 5)
    assert decision.metric == "lag"
    # lag 21 on 2 replicas: ratio 1.05, within the tolerance → stays
    assert keda().decide(0, 2, 21).result == 2
    # and the HPA's bounds: max_replicas caps ceil(400 / 10) = 40
    assert keda(max_replicas=4).decide(0, 2, 400).result == 4


def test_scale_to_zero_only_after_the_cooldown() -> None:
    # [exec] scaleToZeroOrIdle: only when LastActiveTime + cooldownPeriod is before now
    k = keda(cooldown_s=300)
    assert k.decide(0, 2, 30).result == 3  # active at t=0: ceil(30 / 10)
    k.record(0, 2, 3)
    quiet = k.decide(30, 3, 0)
    assert quiet.result == 1 and "zero in 270 s" in quiet.reason  # the HPA's min is 1
    k.record(30, 3, 1)
    assert k.decide(300, 1, 0).result == 1  # exactly the cooldown: not yet
    gone = k.decide(330, 1, 0)
    assert (gone.result, gone.reason) == (0, "scale to zero")


def test_activity_restarts_the_cooldown() -> None:
    k = keda(cooldown_s=60)
    k.decide(0, 1, 5)  # active
    k.decide(50, 1, 5)  # active again
    assert k.decide(100, 1, 0).result == 1  # 50 s since the last activity
    assert k.decide(111, 1, 0).result == 0


def test_min_replicas_above_zero_never_scales_to_zero() -> None:
    # [exec] scale to zero only when minReplicaCount is nil or 0
    k = keda(min_replicas=1, cooldown_s=0)
    assert k.decide(0, 1, 0).result == 1
    assert k.decide(600, 1, 0).result == 1


def test_never_active_goes_to_zero_after_the_initial_cooldown() -> None:
    # KEDA ScaledObject spec: initialCooldownPeriod (default 0) applies while the object
    # has never been active (no LastActiveTime): then cooldownPeriod does not apply
    at_once = Keda(KedaPolicy(cooldown_s=300))
    assert at_once.decide(0.0, 2, 0.0).result == 0
    waits = Keda(KedaPolicy(cooldown_s=300, initial_cooldown_s=60))
    # meanwhile the HPA (minReplicas 1) takes the idle target down to 1
    assert waits.decide(0.0, 2, 0.0).result == 1
    assert waits.decide(60.0, 1, 0.0).result == 1  # strictly after the initial cooldown
    assert waits.decide(61.0, 1, 0.0).result == 0
