"""``autoscaler`` checks: what the autoscaler did, read from the verdict's record."""

from __future__ import annotations

from lab.run.scaling import Autoscaling
from lab.run.verdict import PhaseResult, Verdict
from lab.scenario.step_model import AutoscalerStat


def read(
    stat: AutoscalerStat, verdict: Verdict, phase: PhaseResult | None, now: float
) -> tuple[float | None, str]:
    """An ``autoscaler`` check's value over ``phase`` (None: the whole run)."""
    record = verdict.autoscaling
    if record is None:
        return None, "no autoscaler ran"
    start, end = (phase.start, phase.end or now) if phase else (verdict.started, now)
    where = phase.name if phase else "the whole run"
    service = "worker" if stat.startswith("worker") else "api"
    if stat.endswith("scale_events"):
        n = record.events(service, start, end)
        return float(n), f"{n} {service} scale event(s) in {where}"
    if stat.endswith("_replicas"):
        counts = _desired(record, service, start, end)
        if not counts:
            return None, f"the autoscaler never set {service} replicas"
        value = max(counts) if stat.endswith("max_replicas") else min(counts)
        return float(value), f"{service} replicas asked for in {where}: {counts}"
    ups = [u for u in record.scale_ups if start <= u.decided <= end]
    if stat == "scale_ups":
        return float(len(ups)), "; ".join(u.line() for u in ups) or "no scale-up"
    timed = [u.breach_to_served for u in ups if u.breach_to_served is not None]
    if not timed:
        return None, "; ".join(u.line() for u in ups) or "no scale-up"
    slowest = max(ups, key=lambda u: u.breach_to_served or 0)
    return max(timed), f"slowest of {len(ups)}: {slowest.line()}"


def _desired(record: Autoscaling, service: str, start: float, end: float) -> list[int]:
    """The desired counts in force during [start, end]."""
    mine = [s for s in record.scalings if s.service == service]
    first = [record.initial[service]] if service in record.initial else []
    before = [s.after for s in mine if s.t < start][-1:] or first
    return before + [s.after for s in mine if start <= s.t <= end]
