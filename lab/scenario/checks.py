"""Evaluate checks, and find the saturated resource (on every run).

A check reads one number (a phase measure, a PromQL expression, Locust's stats or the
knee), compares it with its threshold and says why in ``detail``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab.run.verdict import CheckResult, PhaseResult, Saturation, Verdict
from lab.scenario import scaling_checks
from lab.scenario.measure import Window
from lab.scenario.step_model import Check

if TYPE_CHECKING:
    from lab.scenario.ports import Metrics

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
SATURATED = 0.9  # share of a core (or of the machine) from which a resource counts as full


def evaluate(
    check: Check,
    verdict: Verdict,
    measurer: Metrics,
    *,
    current: PhaseResult | None,
    run_window: Window,
    client: Mapping[str, float | None],
) -> CheckResult:
    value, detail = _read(check, verdict, measurer, current, run_window, client)
    threshold = f"{check.op} {check.threshold:g}"
    if value is None:
        return CheckResult(check.name, False, None, threshold, detail or "no data")
    passed = OPS[check.op](value, check.threshold)
    return CheckResult(check.name, passed, round(value, 6), threshold, detail)


def _read(
    check: Check,
    verdict: Verdict,
    measurer: Metrics,
    current: PhaseResult | None,
    run_window: Window,
    client: Mapping[str, float | None],
) -> tuple[float | None, str]:
    if check.expr is not None:
        return measurer.expr(check.expr), f"PromQL {check.expr}"
    if check.locust is not None:
        return client.get(check.locust), f"Locust {check.locust} now"
    if check.knee is not None:
        knee = verdict.knee
        if knee is None or not knee.found:
            return None, "no knee was found"
        value = getattr(knee, check.knee)
        at = f"{knee.rate:g} req/s offered" if knee.by == "rate" else f"{knee.users} users"
        detail = f"knee at {at}: {knee.rps or 0:.1f} req/s answered"
        if check.knee == "prediction_error":
            detail += f", predicted {knee.prediction}"
        return (None if value is None else float(value)), detail
    if check.autoscaler is not None:
        phase = current if check.phase is None else verdict.phase(check.phase)
        if check.phase is not None and phase is None:
            return None, f"phase {check.phase} did not run"
        return scaling_checks.read(check.autoscaler, verdict, phase, run_window.end)
    assert check.measure is not None
    if check.phase is None and current is None:
        value = measurer.rule(check.measure, run_window)
        return value, f"{check.measure} over the whole run ({run_window.seconds:.0f} s)"
    phase = current if check.phase is None else verdict.phase(check.phase)
    if phase is None:
        return None, f"phase {check.phase} did not run"
    value = phase.measure(check.measure)
    detail = f"{phase.name}: {_fmt(check.measure, value)}"
    if check.ratio_to is None:
        return value, detail
    base = verdict.phase(check.ratio_to)
    base_value = base.measure(check.measure) if base else None
    if value is None or not base_value:
        return None, f"{detail} vs {check.ratio_to}: {_fmt(check.measure, base_value)}"
    detail += f" vs {check.ratio_to}: {_fmt(check.measure, base_value)}"
    return value / base_value, detail


def _fmt(measure: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if measure in ("pool_use", "slot_use"):
        return f"{value:.0%}"
    if measure.startswith(("p", "client_p")) or measure == "mean_latency":
        return f"{value * 1000:.0f} ms"
    if measure in ("rps", "client_rps"):
        return f"{value:.0f} req/s"
    if measure == "error_ratio":
        return f"{value:.2%}"
    return f"{value:g}"


@dataclass
class ResourcePeaks:
    """The highest load seen on each resource, and in which phase."""

    peaks: dict[str, tuple[float, str]] = field(default_factory=dict)

    def record(self, resource: str, value: float | None, phase: str) -> None:
        if value is None:
            return
        if value > self.peaks.get(resource, (-1.0, ""))[0]:
            self.peaks[resource] = (value, phase)


# In the order a run names them: first what makes a measurement doubtful (the machine,
# the load generator), then what the system under test runs out of (USE: utilisation).
RESOURCES = {
    "load generator CPU": "share of a core used by the busiest Locust process",
    "API CPU": "share of one core used by the busiest API replica",
    "machine CPU": "share of all cores in use on this machine",
    "DB pool": "share of the API's database connections in use, averaged over the phase",
    "concurrency slots": "share of the API's work slots busy, averaged over the phase",
}


def saturated(peaks: ResourcePeaks) -> str | None:
    """The first resource (in the order above) at or above ``SATURATED``, or None."""
    for resource in RESOURCES:
        if peaks.peaks.get(resource, (0.0, ""))[0] >= SATURATED:
            return resource
    return None


def saturation(peaks: ResourcePeaks, phases: Sequence[PhaseResult] = ()) -> Saturation | None:
    """The first resource (in the order above) that ran full, or what was seen, and what
    each phase saturated; None when nothing was measured at all."""
    if not peaks.peaks:
        return None
    seen = ", ".join(f"{name} {value:.0%}" for name, (value, _) in peaks.peaks.items())
    by_phase = ", ".join(f"{p.name}: {p.saturated}" for p in phases if p.saturated)
    if by_phase:
        seen += f"; by phase: {by_phase}"
    resource = saturated(peaks)
    if resource is None:
        return Saturation(None, None, SATURATED, None, f"no resource ran full; peaks: {seen}")
    value, phase = peaks.peaks[resource]
    detail = f"{resource} reached {value:.0%} ({RESOURCES[resource]}) in {phase}; peaks: {seen}"
    return Saturation(resource, round(value, 3), SATURATED, phase, detail)


LOADGEN_CHECK = "the load generator kept up"


def load_generator_refusal(phases: Sequence[PhaseResult], processes: int) -> CheckResult | None:
    """A failed check when a Locust process averaged ``SATURATED`` of a core or more over a
    phase: its numbers are then the load generator's limit, not the system's, and the
    verdict is refused (None when every phase had room). Judged per process, the busiest:
    a saturated worker holds back its share of the users whatever the others do."""
    busy = [p for p in phases if p.loadgen_cpu is not None and p.loadgen_cpu >= SATURATED]
    if not busy:
        return None
    worst = max(busy, key=lambda p: p.loadgen_cpu or 0.0)
    names = ", ".join(
        f"{p.loadgen_busiest or 'a Locust process'} {p.loadgen_cpu:.0%} in {p.name}" for p in busy
    )
    return CheckResult(
        name=LOADGEN_CHECK,
        passed=False,
        value=worst.loadgen_cpu,
        threshold=f"< {SATURATED:.0%} of a core for each Locust process, phase mean",
        detail=(
            f"the load generator was the bottleneck ({processes} worker process(es)): "
            f"{names} of a core; the measurement is Locust's limit, not the system's. "
            f"Run with more --load-workers (up to one per free core) or load from more hosts"
        ),
    )
