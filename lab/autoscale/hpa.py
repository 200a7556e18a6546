"""The Horizontal Pod Autoscaler's arithmetic, exactly as Kubernetes does it.

Three stages, each a pure function of recorded inputs (kubernetes pkg/controller/
podautoscaler: replica_calculator.go, horizontal.go):

1. **The replica calculator** turns metric readings into a raw recommendation:
   ``ceil(ready × mean / target)``; nothing moves while mean / target is within the
   tolerance of 1. Replicas without a reading count as 100 % of the target when scaling
   down and 0 % when scaling up, not-ready replicas as 0 % when scaling up; when that
   reverses the move, or brings the ratio within tolerance, the count stays.
2. **Stabilisation**: the recommendation is kept within the lowest of the scale-up window
   and the highest of the scale-down window (so a dip must last the whole window before
   replicas go).
3. **Rate limits and bounds**: each policy allows ``value`` pods or ``value`` % of the
   replicas at the start of its period; ``select`` takes the max (or min) of them; the
   result stays within min..max.

``Hpa.decide`` runs the three and returns a ``Decision`` holding every number it used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from lab.autoscale.policy import Direction, HpaPolicy


@dataclass(frozen=True)
class Sample:
    """One replica's reading at a sync: ``value`` None when it reported nothing."""

    replica: str
    value: float | None
    ready: bool = True


@dataclass(frozen=True)
class Raw:
    """Stage 1: the recommendation from the metric, and how it was reached."""

    replicas: int
    ratio: float | None  # mean / target (None: no reading at all)
    formula: str


@dataclass(frozen=True)
class Decision:
    """One sync of one autoscaler, explained: inputs, arithmetic, result."""

    t: float
    service: str
    metric: str
    target: float
    current: int
    samples: tuple[Sample, ...]
    value: float | None  # the reading the ratio used (mean per replica, or the total)
    ratio: float | None
    formula: str
    raw: int  # stage 1
    stabilised: int  # stage 2
    result: int  # stage 3: the replicas asked for
    reason: str  # why result differs from raw (or "within tolerance", "scale up", ...)

    @classmethod
    def of(
        cls, t: float, service: str, metric: str, target: float, current: int, raw: Raw, *,
        samples: Sequence[Sample] = (), value: float | None = None,
    ) -> Decision:  # fmt: skip
        """Stage 1's outcome; stages 2 and 3 fill in ``stabilised``, ``result`` and
        ``reason`` with ``dataclasses.replace`` (until then both are the raw count)."""
        return cls(
            t, service, metric, target, current, tuple(samples), value, raw.ratio,
            raw.formula, raw.replicas, raw.replicas, raw.replicas, "",
        )  # fmt: skip

    @property
    def scales(self) -> bool:
        return self.result != self.current

    def to_json(self) -> dict[str, object]:
        return {
            "t": self.t,
            "service": self.service,
            "metric": self.metric,
            "target": self.target,
            "current": self.current,
            "samples": [
                {"replica": s.replica, "value": s.value, "ready": s.ready} for s in self.samples
            ],
            "value": self.value,
            "ratio": self.ratio,
            "formula": self.formula,
            "raw": self.raw,
            "stabilised": self.stabilised,
            "result": self.result,
            "reason": self.reason,
        }

    def line(self) -> str:
        """One line for the timeline and ``lab autoscale status``."""
        arrow = f"{self.current} → {self.result}" if self.scales else f"stays {self.current}"
        return f"{self.service} {arrow}: {self.formula}; {self.reason}"


def per_replica(current: int, samples: Sequence[Sample], target: float, tol: float) -> Raw:
    """Stage 1 for a per-replica metric (resource utilisation, pods metrics)."""
    ready = [s.value for s in samples if s.ready and s.value is not None]
    unready = sum(1 for s in samples if not s.ready)
    missing = sum(1 for s in samples if s.ready and s.value is None)
    if not ready:
        return Raw(current, None, "no ready replica reports the metric: no change")
    mean = sum(ready) / len(ready)
    ratio = mean / target
    head = f"mean {mean:.3g} ÷ target {target:g} = {ratio:.3f}"
    if not missing and not (unready and ratio > 1):
        if abs(1 - ratio) <= tol:
            return Raw(current, ratio, f"{head}, within tolerance {tol:g} of 1")
        desired = _ceil(ratio * len(ready))
        return Raw(desired, ratio, f"{head}; ceil({ratio:.3f} × {len(ready)} ready) = {desired}")
    values = list(ready)
    notes = []
    if missing:  # no reading: the least favourable to the move
        fill = target if ratio < 1 else 0.0
        values += [fill] * missing
        notes.append(f"{missing} without a reading counted as {fill:g}")
    if unready and ratio > 1:
        values += [0.0] * unready
        notes.append(f"{unready} not ready counted as 0")
    new_ratio = sum(values) / len(values) / target
    head += f"; {', '.join(notes)}: ratio {new_ratio:.3f}"
    if abs(1 - new_ratio) <= tol or (ratio < 1 < new_ratio) or (new_ratio < 1 < ratio):
        return Raw(current, new_ratio, f"{head}, which no longer moves: no change")
    desired = _ceil(new_ratio * len(values))
    if (new_ratio < 1 and desired > current) or (new_ratio > 1 and desired < current):
        return Raw(current, new_ratio, f"{head}; ceil → {desired} against the move: no change")
    return Raw(desired, new_ratio, f"{head}; ceil({new_ratio:.3f} × {len(values)}) = {desired}")


def object_value(current: int, ready: int, value: float | None, target: float, tol: float) -> Raw:
    """Stage 1 for one value for the whole service (an Object metric, e.g. p95)."""
    if value is None:
        return Raw(current, None, "no reading: no change")
    ratio = value / target
    head = f"{value:.3g} ÷ target {target:g} = {ratio:.3f}"
    if current == 0:
        desired = _ceil(ratio)
        return Raw(desired, ratio, f"{head}; ceil({ratio:.3f}) = {desired}")
    if abs(1 - ratio) <= tol:
        return Raw(current, ratio, f"{head}, within tolerance {tol:g} of 1")
    desired = _ceil(ratio * ready)
    return Raw(desired, ratio, f"{head}; ceil({ratio:.3f} × {ready} ready) = {desired}")


def average_value(current: int, total: float | None, target: float, tol: float) -> Raw:
    """Stage 1 for an External metric with an AverageValue target (KEDA's lag)."""
    if total is None:
        return Raw(current, None, "no reading: no change")
    ratio = total / (target * current) if current else math.inf
    head = f"{total:g} ÷ ({target:g} × {current}) = {ratio:.3f}"
    if abs(1 - ratio) <= tol:
        return Raw(current, ratio, f"{head}, within tolerance {tol:g} of 1")
    desired = _ceil(total / target)
    return Raw(desired, ratio, f"{head}; ceil({total:g} ÷ {target:g}) = {desired}")


@dataclass
class Hpa:
    """Stages 2 and 3, with the memory they need: past recommendations and scale events."""

    policy: HpaPolicy
    service: str = "api"
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(default_factory=list)  # (t, replicas added)

    def decide(
        self, t: float, current: int, raw: Raw, samples: Sequence[Sample] = (), *,
        value: float | None = None,
    ) -> Decision:  # fmt: skip
        p = self.policy
        base = Decision.of(
            t, self.service, p.metric, p.target, current, raw, samples=samples, value=value
        )

        def make(stabilised: int, result: int, reason: str) -> Decision:
            return replace(base, stabilised=stabilised, result=result, reason=reason)

        if current == 0:  # scaled to zero by hand: Kubernetes stops adjusting the target
            return make(0, 0, "at 0 replicas: autoscaling disabled until scaled by hand")
        if current > p.max_replicas:
            return make(raw.replicas, p.max_replicas, f"above max {p.max_replicas}")
        if current < p.min_replicas:
            return make(raw.replicas, p.min_replicas, f"below min {p.min_replicas}")
        if raw.ratio is None:  # no metric: Kubernetes keeps the count and records nothing
            return make(current, current, "no metric")
        stabilised, why = self._stabilise(t, current, raw.replicas)
        result, limit = self._limit(t, current, stabilised)
        reason = "; ".join(r for r in (why, limit) if r) or _moved(current, result)
        return make(stabilised, result, reason)

    def record(self, t: float, before: int, after: int) -> None:
        """A scale the controller carried out (the policies count them per period)."""
        if after != before:
            self.events.append((t, after - before))
        longest = max(r.period_s for d in (self.policy.up, self.policy.down) for r in d.rules)
        self.events = [(et, n) for et, n in self.events if et > t - longest]

    def _stabilise(self, t: float, current: int, desired: int) -> tuple[int, str]:
        up_cut, down_cut = t - self.policy.up.window_s, t - self.policy.down.window_s
        lowest = min([desired, *(r for rt, r in self.recommendations if rt > up_cut)])
        highest = max([desired, *(r for rt, r in self.recommendations if rt > down_cut)])
        self.recommendations = [
            (rt, r) for rt, r in self.recommendations if rt > min(up_cut, down_cut)
        ]
        self.recommendations.append((t, desired))
        held = min(max(current, lowest), highest)
        if held < desired:
            return held, (
                f"scale-up window {self.policy.up.window_s:g} s: lowest recommendation {lowest}"
            )
        if held > desired:
            return held, (
                f"scale-down window {self.policy.down.window_s:g} s: "
                f"highest recommendation {highest}"
            )
        return held, ""

    def _limit(self, t: float, current: int, desired: int) -> tuple[int, str]:
        p = self.policy
        if desired > current:
            limit, how = self._rate(t, current, p.up, up=True)
            ceiling = min(p.max_replicas, max(limit, current))
            if desired > ceiling:
                why = f"max {p.max_replicas}" if ceiling == p.max_replicas else how
                return ceiling, f"limited by {why}"
            return desired, ""
        if desired < current:
            limit, how = self._rate(t, current, p.down, up=False)
            floor = max(p.min_replicas, min(limit, current))
            if desired < floor:
                why = f"min {p.min_replicas}" if floor == p.min_replicas else how
                return floor, f"limited by {why}"
            return desired, ""
        return desired, ""

    def _rate(self, t: float, current: int, d: Direction, *, up: bool) -> tuple[int, str]:
        """The most replicas (up) or fewest (down) the policies allow now, and why."""
        if d.select == "disabled":
            return current, "scaling disabled in this direction"
        proposals = []
        for rule in d.rules:
            added = sum(n for et, n in self.events if et > t - rule.period_s and n > 0)
            removed = -sum(n for et, n in self.events if et > t - rule.period_s and n < 0)
            start = current - added + removed
            if rule.type == "pods":
                proposed = start + rule.value if up else start - rule.value
                text = f"{'+' if up else '−'}{rule.value} pods"
            elif up:
                proposed = _ceil(start * (1 + rule.value / 100))
                text = f"+{rule.value} %"
            else:
                proposed = int(start * (1 - rule.value / 100))
                text = f"−{rule.value} %"
            proposals.append((proposed, f"{text} of {start} per {rule.period_s:g} s → {proposed}"))
        pick = max if (d.select == "max") == up else min
        best = pick(n for n, _ in proposals)
        how = ", ".join(text for _, text in proposals)
        return best, f"{'up' if up else 'down'} policies ({d.select} of {how})"


def _ceil(x: float) -> int:
    """ceil, blind to float noise: Kubernetes divides integer milli-values, so 2.1 / 0.7
    is 3 there, and must not become 4 here because it is 3.0000000000000004."""
    return math.ceil(round(x, 9))


def _moved(current: int, result: int) -> str:
    if result > current:
        return "scale up"
    if result < current:
        return "scale down"
    return "no change"
