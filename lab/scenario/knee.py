"""The knee search, a step of its own: from well below the capacity predicted from the
knobs, step up until p95 crosses the threshold (the SLO by default), bisect between the
last good and the first bad load, then hold the knee's load to confirm it.

Inputs: the ``find_knee`` step, the threshold, the predicted ``Capacity``. Result: a
``Knee`` (every probe, the knee, the prediction beside it). Each probe holds its load and
is judged over its own seconds (after ``settle``, but for the last ones the load
generator has not reported yet: ``phase.HDR_LAG_S``): p95 from the client's exact (HDR)
percentiles, which in an open loop count from the intended send time, so a queue cannot
hide; by rate, a probe whose answers fall short of the offered rate (10 %, or a Poisson
swing: ``kept_up``) is past the knee
too (the system did not keep up). After a probe that broke the SLO, the load falls to a
quarter of the prediction for ``drain`` seconds, so the next probe does not inherit its
queue. A knee that breaks the SLO when held to confirm is searched again below it.

A probe can only judge the system if the load generator sent its arrivals on time. When
more than ``LATE_LIMIT`` of them went out late (> 10 ms after they fell due) while the
server's own p95 stayed within the threshold, the client's p95 measures the generator's
backlog, not the system's: the probe is held once more; if the generator is late again,
the probe is judged by the server's p95 and marked ``generator_late`` (reported, never
hidden). When the server's p95 is past the threshold too, lateness is the system's doing
(every user waits on a slow answer) and the probe is simply bad.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lab.run.verdict import Knee, KneeStep
from lab.scenario.context import LoadSetting
from lab.scenario.measure import Window
from lab.scenario.phase import PhaseRun, pool_size
from lab.scenario.predict import Capacity
from lab.scenario.step_model import FindKneeStep

KEPT_UP = 0.9  # by rate: answers per second at least this share of the offered rate
DRAIN_SHARE = 0.25  # a drain runs at most this share of the predicted knee: the queue empties
CONFIRMATIONS = 2  # a knee that breaks the SLO when held is searched again below it, once
LATE_LIMIT = 0.02  # share of a probe's arrivals sent late that makes its client p95 suspect


def ladder(step: FindKneeStep, unit: float, whole: bool) -> list[float]:
    """The loads stepped through on the way up: ``start``, ``start + step``, … ``stop``
    (as multiples of ``unit``, the predicted knee)."""
    count = math.floor((step.stop - step.start) / step.step + 1e-9) + 1
    loads = [(step.start + i * step.step) * unit for i in range(count)]
    return sorted({_round(x, whole) for x in loads if _round(x, whole) > 0})


def kept_up(rate: float, answered: float | None, seconds: float) -> bool:
    """Whether the answers kept up with ``rate`` arrivals/s over ``seconds``: at most 10 %
    short, or 3 standard deviations of a Poisson count when that is more (random arrivals
    over a few seconds swing by √n)."""
    if answered is None:
        return False
    expected = rate * max(seconds, 1.0)
    allowed = max((1 - KEPT_UP) * expected, 3 * math.sqrt(expected))
    return answered * max(seconds, 1.0) >= expected - allowed


def generator_late(
    rate: float, late: float | None, seconds: float, server_p95: float | None, threshold: float
) -> bool:
    """Whether the load generator, not the system, ran late: more than ``LATE_LIMIT`` of
    the ``rate × seconds`` arrivals went out late while the server answered within the
    threshold."""
    if late is None or server_p95 is None or server_p95 > threshold:
        return False
    return late > LATE_LIMIT * rate * max(seconds, 1.0)


def bisect_point(lo: float, hi: float, resolution: float, whole: bool) -> float | None:
    """The next load between the last good ``lo`` and the first bad ``hi``; None once
    they are ``resolution`` apart or closer (or no whole number lies between them)."""
    if hi - lo <= resolution:
        return None
    mid = _round((lo + hi) / 2, whole)
    return mid if lo < mid < hi else None


def _round(value: float, whole: bool) -> float:
    return float(math.floor(value)) if whole else round(value, 1)


@dataclass
class KneeSearch:
    step: FindKneeStep
    threshold: float  # p95 seconds
    capacity: Capacity  # predicted from the knobs
    work_ms: float
    probes: list[KneeStep] = field(default_factory=list)
    used_s: float = 0.0

    @property
    def by_rate(self) -> bool:
        return self.step.by == "rate"

    def unit(self) -> float:
        """The predicted knee: req/s, or users (Little's law at the SLO: rate × SLO)."""
        return self.capacity.rps if self.by_rate else self.capacity.rps * self.threshold

    def run(self, phase: PhaseRun) -> Knee:
        """Drive the load through ``phase`` and return what was found."""
        s, whole, unit = self.step, not self.by_rate, self.unit()
        what = f"{unit:.0f} req/s" if self.by_rate else f"{unit:.0f} users"
        phase.ctx.lab.events.emit(
            "knee_prediction",
            f"predicted capacity {self.capacity.text}; knee expected near {what}",
            predicted_rps=self.capacity.rps,
            by=s.by,
            unit=unit,
            tags=("knee",),
        )
        good: KneeStep | None = None
        bad: KneeStep | None = None
        for load in ladder(s, unit, whole):
            probe = self._probe(phase, load, "step", s.hold)
            if not probe.good:
                bad = probe
                break
            good = probe
        knee: KneeStep | None = None
        confirmed: bool | None = None
        hi = self._load(bad) if bad is not None else None
        for _ in range(CONFIRMATIONS):
            if hi is None:
                break
            good = self._bisect(phase, good, hi, unit)
            if good is None:
                break
            self._drain_after(phase, unit)
            knee = self._probe(phase, self._load(good), "confirm", s.confirm or s.hold)
            confirmed = bool(knee.good)
            if confirmed:
                break
            # it broke the SLO when held longer: the knee is lower; search below it
            hi, good = self._load(good), self._best_below(self._load(good))
        found = knee is not None  # bracketed and held (``confirmed``: within the SLO)
        last = knee or self.probes[-1]
        message = (
            f"knee at {self._describe(last)}: {last.rps or 0:.0f} req/s answered, "
            f"p95 {(last.p95 or 0) * 1000:.0f} ms (predicted {self.capacity.rps:.0f} req/s)"
            if found
            else f"no knee between {self._describe(self.probes[0])} and {self._describe(last)}"
        )
        phase.ctx.lab.events.emit(
            "knee", message, found=found, rate=last.rate, users=last.users, tags=("knee",)
        )
        return Knee(
            found=found,
            users=last.users,
            rps=last.rps,
            p95=last.p95,
            steps=tuple(self.probes),
            by=s.by,
            rate=last.rate,
            predicted_rps=round(self.capacity.rps, 3),
            prediction=self.capacity.text,
            confirmed=confirmed,
            threshold=self.threshold,
        )

    def _bisect(
        self, phase: PhaseRun, good: KneeStep | None, hi: float, unit: float
    ) -> KneeStep | None:
        """Bisect between ``good`` (None: 0) and the bad load ``hi``; the last good probe."""
        lo = self._load(good) if good else 0.0
        while (
            mid := bisect_point(lo, hi, self.step.resolution * unit, not self.by_rate)
        ) is not None:
            self._drain_after(phase, unit)
            probe = self._probe(phase, mid, "bisect", self.step.hold)
            if probe.good:
                good, lo = probe, mid
            else:
                hi = mid
        return good

    def _best_below(self, load: float) -> KneeStep | None:
        below = [p for p in self.probes if p.good and p.kind != "confirm" and self._load(p) < load]
        return max(below, key=self._load, default=None)

    # -- one probe ----------------------------------------------------------------------------

    def _setting(self, phase: PhaseRun, load: float) -> LoadSetting:
        traffic = phase.ctx.load_now.traffic
        if self.by_rate:
            users = pool_size(load, self.work_ms, phase.ctx.scenario.slo_seconds)
            return LoadSetting(users, load, traffic, self.step.spawn_rate)
        return LoadSetting(int(load), None, traffic, self.step.spawn_rate)

    def _probe(self, phase: PhaseRun, load: float, kind: str, hold: float) -> KneeStep:
        setting = self._setting(phase, load)
        phase.step_label = f"find_knee {kind}: {setting.describe()}"
        phase.set_load(setting)
        probe = self._measure(phase, load, kind, hold, setting)
        if probe.generator_late:  # judge the system, not the generator: hold it once more
            phase.ctx.lab.events.emit(
                "knee_step",
                f"{kind} {self._describe(probe)}: the load generator sent "
                f"{probe.late or 0:.0f} arrivals late; holding the probe again",
                rate=probe.rate,
                late=probe.late,
                tags=("knee",),
            )
            phase.last_change = phase.now()
            probe = self._measure(phase, load, kind, hold, setting)
        self.probes.append(probe)
        late_note = (
            f", judged by the server's p95 (the load generator sent {probe.late or 0:.0f} "
            "arrivals late)"
            if probe.generator_late
            else ""
        )
        phase.ctx.lab.events.emit(
            "knee_step",
            f"{kind} {self._describe(probe)}: {probe.rps or 0:.0f} req/s answered, "
            f"p95 {(probe.p95 or 0) * 1000:.0f} ms, {'within' if probe.good else 'past'} "
            f"the SLO{late_note}",
            users=probe.users,
            rate=probe.rate,
            rps=probe.rps,
            p95=probe.p95,
            good=probe.good,
            generator_late=probe.generator_late,
            tags=("knee",),
        )
        return probe

    def _measure(
        self, phase: PhaseRun, load: float, kind: str, hold: float, setting: LoadSetting
    ) -> KneeStep:
        """Hold ``load`` for ``hold`` seconds and judge it over its own seconds."""
        phase.hold(hold)
        self.used_s += hold
        now = phase.now()
        window = Window(min(phase.last_change + self.step.settle, now), now)
        metrics = phase.ctx.metrics
        seen = phase.hdr_window(window)
        server = metrics.rule("p95", seen)  # the server's answers over the same seconds
        hdr = phase.percentiles(seen)
        client = None if hdr is None else hdr.quantiles.get(0.95)
        rps = hdr.count / seen.seconds if hdr and seen.seconds > 0 else None
        if rps is None:
            rps = metrics.rule("rps", window)
        late = metrics.rule("late", seen) if self.by_rate else None
        lagged = self.by_rate and generator_late(load, late, seen.seconds, server, self.threshold)
        judged = server if lagged or client is None else client
        good = judged is not None and judged <= self.threshold
        if self.by_rate and not kept_up(load, rps, seen.seconds):
            good = False  # the system did not keep up with the arrivals
        return KneeStep(
            users=setting.users,
            rps=None if rps is None else round(rps, 3),
            p95=judged,
            server_p95=server,
            client_p95=client,
            rate=setting.rate,
            kind=kind,
            good=good,
            late=None if late is None else round(late),
            generator_late=lagged,
        )

    def _drain_after(self, phase: PhaseRun, unit: float) -> None:
        """After a probe past the knee, run a light load a while: its queue drains."""
        if not self.probes or self.probes[-1].good or self.step.drain <= 0:
            return
        share = min(self.step.start, DRAIN_SHARE)
        setting = self._setting(phase, max(1.0, _round(share * unit, not self.by_rate)))
        phase.step_label = f"find_knee drain: {setting.describe()}"
        phase.set_load(setting)
        phase.hold(self.step.drain)
        self.used_s += self.step.drain

    def _load(self, probe: KneeStep) -> float:
        return probe.rate if self.by_rate and probe.rate is not None else float(probe.users)

    def _describe(self, probe: KneeStep) -> str:
        if self.by_rate:
            return f"{probe.rate or 0:g} req/s"
        return f"{probe.users} users"

    def skipped_seconds(self) -> float:
        """Planned time the search did not need (the plan is an upper bound)."""
        return max(0.0, self.step.planned_seconds() - self.used_s)
