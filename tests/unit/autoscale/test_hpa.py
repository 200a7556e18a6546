"""The HPA arithmetic against Kubernetes' documented behaviour and source.

Sources cited per test:
- [docs] kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/ ("Horizontal
  Pod Autoscaling": "Algorithm details", "Configurable scaling behavior", "Implicit
  maintenance-mode deactivation")
- [calc] kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator.go
  (calcPlainMetricReplicas, getUsageRatioReplicaCount, GetExternalPerPodMetricReplicas)
- [util] pkg/controller/podautoscaler/metrics/utilization.go (GetMetricUsageRatio)
- [hpa] pkg/controller/podautoscaler/horizontal.go (stabilizeRecommendationWithBehaviors,
  convertDesiredReplicasWithBehaviorRate, calculateScaleUp/DownLimitWithBehaviors)
"""

from __future__ import annotations

from typing import Any

import pytest

from lab.autoscale.hpa import Decision, Hpa, Raw, Sample, average_value, object_value, per_replica
from lab.autoscale.policy import DOWN, UP, Direction, HpaPolicy, Rule


def readings(*values: float | None, unready: int = 0) -> list[Sample]:
    out = [Sample(f"api-{i}", v) for i, v in enumerate(values)]
    return out + [Sample(f"api-u{i}", None, ready=False) for i in range(unready)]


def policy(**fields: Any) -> HpaPolicy:
    return HpaPolicy(**{"target": 0.1, "max_replicas": 32, **fields})


def raw(replicas: int, ratio: float = 1.5) -> Raw:
    """A stage-1 result, to drive stages 2 and 3 directly."""
    return Raw(replicas, ratio, "test")


# -- stage 1: the replica calculator --------------------------------------------------------


def test_double_when_the_metric_is_twice_the_target() -> None:
    # [docs] "if the current metric value is 200m, and the desired value is 100m, the number
    # of replicas will be doubled, since 200.0 / 100.0 == 2.0"
    assert per_replica(3, readings(0.2, 0.2, 0.2), 0.1, 0.1).replicas == 6


def test_halve_when_the_metric_is_half_the_target() -> None:
    # [docs] "If the current value is instead 50m, you'll halve the number of replicas"
    assert per_replica(4, readings(0.05, 0.05, 0.05, 0.05), 0.1, 0.1).replicas == 2


def test_float_noise_does_not_add_a_pod() -> None:
    # [util] GetMetricUsageRatio divides integer milli-values, so Kubernetes sees exactly
    # 2.0 and 3.0 here; in floats 0.2 × 3 / 3 / 0.1 and 2.1 / 0.7 are a hair above
    assert per_replica(3, readings(0.2, 0.2, 0.2), 0.1, 0.1).replicas == 6
    assert per_replica(1, readings(2.1), 0.7, 0.1).replicas == 3


def test_within_tolerance_nothing_moves() -> None:
    # [docs] "If the ratio is sufficiently close to 1.0 ... the control plane skips any
    # scaling action" (default tolerance 0.1, --horizontal-pod-autoscaler-tolerance):
    # a ratio of 1.05 would give ceil(1.05 × 4) = 5 without it
    result = per_replica(4, readings(0.105, 0.105, 0.105, 0.105), 0.1, 0.1)
    assert (result.replicas, result.ratio) == (4, pytest.approx(1.05))
    # [calc] math.Abs(1.0-usageRatio) <= tolerance (float64: exactly 1.1 falls either way)
    assert per_replica(4, readings(0.109, 0.109, 0.109, 0.109), 0.1, 0.1).replicas == 4
    assert per_replica(4, readings(0.12, 0.12, 0.12, 0.12), 0.1, 0.1).replicas == 5


def test_missing_metrics_count_as_the_target_when_scaling_down() -> None:
    # [docs] "in the case of a scale down, we assume those pods were consuming 100% of the
    # desired value": ready 0.05, 0.05 (ratio 0.5) + 2 missing at 0.1 → mean 0.075, ratio
    # 0.75, ceil(0.75 × 4) = 3 (not ceil(0.5 × 2) = 1)
    result = per_replica(4, readings(0.05, 0.05, None, None), 0.1, 0.1)
    assert (result.replicas, result.ratio) == (3, pytest.approx(0.75))


def test_missing_metrics_count_as_zero_when_scaling_up() -> None:
    # [docs] "in the case of a scale up, we assume those pods were consuming 0% of the
    # desired value": 0.4, 0.4 + 2 missing at 0 → ratio 2.0, ceil(2 × 4) = 8
    result = per_replica(4, readings(0.4, 0.4, None, None), 0.1, 0.1)
    assert (result.replicas, result.ratio) == (8, pytest.approx(2.0))


def test_unready_replicas_count_as_zero_when_scaling_up() -> None:
    # [docs] "any not-yet-ready pods ... we conservatively assume that the not-yet-ready pods
    # are consuming 0% of the desired metric": 0.3, 0.3 + 2 unready → ratio 1.5, 6
    result = per_replica(4, readings(0.3, 0.3, unready=2), 0.1, 0.1)
    assert (result.replicas, result.ratio) == (6, pytest.approx(1.5))


def test_unready_replicas_are_ignored_when_scaling_down() -> None:
    # [calc] scaleUpWithUnready only when usageRatio > 1: otherwise they are set aside and
    # ceil(ratio × readyPodCount) is used: ceil(0.5 × 2) = 1
    assert per_replica(4, readings(0.05, 0.05, unready=2), 0.1, 0.1).replicas == 1


def test_a_move_the_rebalance_reverses_is_no_change() -> None:
    # [docs] "If the new ratio reverses the scale direction, or is within the tolerance, the
    # control plane skips any scaling action": 0.12 (ratio 1.2) + 1 missing at 0 → 0.06,
    # ratio 0.6: the move would become a scale down
    result = per_replica(2, readings(0.12, None), 0.1, 0.1)
    assert result.replicas == 2
    # ... and a new ratio within tolerance: 0.21 + 1 missing at 0 → 0.105, ratio 1.05
    assert per_replica(2, readings(0.21, None), 0.1, 0.1).replicas == 2


def test_no_reading_at_all_is_no_metric() -> None:
    # [calc] len(metrics) == 0: "did not receive metrics for targeted pods": no scale
    result = per_replica(3, readings(None, unready=2), 0.1, 0.1)
    assert (result.replicas, result.ratio) == (3, None)


def test_object_metric_scales_the_ready_count() -> None:
    # [calc] getUsageRatioReplicaCount: ceil(usageRatio × readyPodCount); p95 0.5 s against
    # 0.25 s with 3 ready of 4 → ceil(2 × 3) = 6; from zero: ceil(usageRatio)
    assert object_value(4, 3, 0.5, 0.25, 0.1).replicas == 6
    assert object_value(4, 3, 0.26, 0.25, 0.1).replicas == 4  # 1.04: within tolerance
    assert object_value(0, 0, 0.6, 0.25, 0.1).replicas == 3


def test_external_average_value_is_ceil_of_total_over_target() -> None:
    # [calc] GetExternalPerPodMetricReplicas: ratio = total / (target × replicas); outside
    # the tolerance, ceil(total / target)
    assert average_value(2, 45, 10, 0.1).replicas == 5
    assert average_value(2, 21, 10, 0.1).replicas == 2  # ratio 1.05


# -- stage 2: stabilisation -----------------------------------------------------------------


def test_scale_down_window_keeps_the_highest_recommendation() -> None:
    # [docs] "the highest recommendation from within the stabilization window is used"
    # (scaleDown default 300 s); [hpa] downRecommendation = max over the window
    hpa = Hpa(policy())
    assert hpa.decide(0, 3, raw(5)).result == 5  # limited only by the up policies
    hpa.record(0, 3, 5)
    assert hpa.decide(15, 5, raw(2, 0.4)).result == 5  # 5 is within the last 300 s
    assert hpa.decide(200, 5, raw(3, 0.6)).result == 5
    later = hpa.decide(301, 5, raw(2, 0.4))  # 5 (t=0) left the window; 3 (t=200) is in it
    assert (later.stabilised, later.result) == (3, 3)
    assert "scale-down window" in hpa.decide(302, 3, raw(1, 0.3)).reason


def test_scale_up_window_keeps_the_lowest_recommendation() -> None:
    # [hpa] upRecommendation = min over scaleUp.stabilizationWindowSeconds
    up = Direction(window_s=60, rules=UP.rules)
    hpa = Hpa(policy(up=up))
    assert hpa.decide(0, 2, raw(2, 1.0)).result == 2
    assert hpa.decide(15, 2, raw(6)).result == 2  # lowest of the last 60 s: 2
    assert hpa.decide(61, 2, raw(6)).result == 6


# -- stage 3: rate limits and bounds -------------------------------------------------------


def test_default_up_policies_from_one_replica() -> None:
    # [docs] default scaleUp: Percent 100 and Pods 4 per 15 s, selectPolicy Max: from 1
    # replica at most max(1 + 100 %, 1 + 4) = 5 in 15 s, then max_replicas bounds it
    hpa = Hpa(policy(max_replicas=32))
    first = hpa.decide(0, 1, raw(20, 20.0))
    assert first.result == 5 and "limited by up policies" in first.reason
    hpa.record(0, 1, 5)
    assert hpa.decide(10, 5, raw(20, 4.0)).result == 5  # +4 already in this 15 s
    assert hpa.decide(16, 5, raw(20, 4.0)).result == 10  # a new period: +100 % of 5
    capped = Hpa(policy(max_replicas=4)).decide(0, 1, raw(20, 20.0))
    assert capped.result == 4 and "max 4" in capped.reason


def test_down_policy_ten_percent_per_minute() -> None:
    # [docs] "scaleDown: policies: type Percent, value 10, periodSeconds 60": from 80
    # replicas to 10, the first step removes 8; at 72, 10 % is 7.2, rounded up to 8
    # ([hpa] proposed = int32(startReplicas × (1 − 0.1)) = 64). The docs' 80 exceed this
    # lab's max of 32, hence model_construct.
    down = Direction(window_s=0, rules=(Rule(type="percent", value=10, period_s=60),))
    big = HpaPolicy.model_construct(**{**policy().__dict__, "max_replicas": 100, "down": down})
    hpa = Hpa(big)
    assert hpa.decide(0, 80, raw(10, 0.1)).result == 72
    hpa.record(0, 80, 72)
    assert hpa.decide(30, 72, raw(10, 0.1)).result == 72  # −8 already within 60 s
    assert hpa.decide(61, 72, raw(10, 0.1)).result == 64


def test_select_picks_the_policy_allowing_the_most_or_least_change() -> None:
    # [docs] Pods 4 and Percent 10 per 60 s: "the policy which allows the highest amount of
    # change is selected": with 30 replicas −4 (to 26) beats −10 % (to 27); selectPolicy Min
    # "chooses the policy that affects the smallest number of Pods": 27
    rules = (Rule(type="pods", value=4, period_s=60), Rule(type="percent", value=10, period_s=60))
    for select, expected in (("max", 26), ("min", 27)):
        down = Direction(window_s=0, rules=rules, select=select)  # type: ignore[arg-type]
        assert Hpa(policy(down=down)).decide(0, 30, raw(1, 0.1)).result == expected


def test_select_disabled_turns_a_direction_off() -> None:
    # [docs] "selectPolicy: Disabled" ... "to disable scale down"
    down = Direction(window_s=0, rules=DOWN.rules, select="disabled")
    hpa = Hpa(policy(down=down))
    assert hpa.decide(0, 4, raw(1, 0.1)).result == 4
    assert hpa.decide(15, 4, raw(8, 2.0)).result == 8  # up still works


def test_min_and_max_bound_the_result() -> None:
    # [hpa] reconcileAutoscaler: currentReplicas > max → max, < min → min, before the metric;
    # convertDesiredReplicasWithBehaviorRate clamps to min/max
    p = policy(min_replicas=2, max_replicas=6)
    assert Hpa(p).decide(0, 8, raw(8, 2.0)).result == 6
    assert Hpa(p).decide(0, 1, raw(1, 0.1)).result == 2
    down = Direction(window_s=0, rules=DOWN.rules)
    assert Hpa(policy(min_replicas=2, down=down)).decide(0, 4, raw(1, 0.1)).result == 2


def test_zero_replicas_disable_the_autoscaler() -> None:
    # [docs] "Implicit maintenance-mode deactivation": desired replicas 0 with minReplicas
    # > 0: "the HPA stops adjusting the target"; [hpa] scale.Spec.Replicas == 0 → no rescale
    decision = Hpa(policy(min_replicas=1)).decide(0, 0, raw(4, 4.0))
    assert (decision.result, decision.scales) == (0, False)


def test_no_metric_changes_nothing_and_records_nothing() -> None:
    hpa = Hpa(policy())
    decision = hpa.decide(0, 3, Raw(3, None, "no reading"))
    assert (decision.result, hpa.recommendations) == (3, [])


def test_a_decision_round_trips_to_json() -> None:
    samples = readings(0.2, 0.2)
    decision = Hpa(policy()).decide(5, 2, per_replica(2, samples, 0.1, 0.1), samples)
    data = decision.to_json()
    assert isinstance(decision, Decision)
    assert (data["t"], data["current"], data["raw"], data["result"]) == (5, 2, 4, 4)
    assert data["samples"] == [
        {"replica": "api-0", "value": 0.2, "ready": True},
        {"replica": "api-1", "value": 0.2, "ready": True},
    ]
