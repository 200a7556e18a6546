"""One phase while it runs: its result so far, its last change, and the actions every
step shares (set the load, hold, tick, measure).

The phase table reports what was MEASURED over the phase's steady window: users from the
load generator's series (``lab:locust_users``; Locust's own count for a phase shorter
than the rules' window, or without that series), replicas from the ``lab:`` replica
series, never what the scenario asked for.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

from lab import defaults
from lab.errors import LabError
from lab.load.traffic import Percentiles
from lab.run.verdict import ClientView, Lesson, PhaseResult
from lab.scenario import checks
from lab.scenario.context import LoadSetting, RunContext
from lab.scenario.measure import Window, steady_window
from lab.scenario.model import Phase
from lab.scenario.ports import Stats
from lab.scenario.progress import Progress

log = logging.getLogger(__name__)
QUANTILES = (0.5, 0.95, 0.99)
# the server's measures taken over the client's HDR window (``measure.WINDOW_EXPRS``)
EXACT = (
    "rps", "p50", "p95", "p99", "in_flight", "mean_latency", "service_time",
    "goodput", "shed", "amplification",
)  # fmt: skip
EXACT_CLIENT = ("client_mean_latency",)
HDR_LAG_S = 2.0  # Locust workers report every second: the newest seconds are not merged yet


def pool_size(rate: float, work_ms: float, slo: float) -> int:
    """Users enough to send ``rate`` req/s while answers take up to the SLO (Little's law
    with headroom): fewer, and arrivals are late or dropped (counted, never hidden)."""
    wait = max(work_ms / 1000, slo)
    return max(10, math.ceil(rate * wait * defaults.OPEN_LOOP_HEADROOM))


class PhaseRun:
    def __init__(self, ctx: RunContext, phase: Phase, index: int) -> None:
        self.ctx = ctx
        self.phase = phase
        self.index = index
        lesson = Lesson(
            concept=phase.concept,
            watch_rule=phase.watch.rule if phase.watch else None,
            watch_panel=phase.watch.panel if phase.watch else None,
            miss=phase.miss,
        )
        self.result = PhaseResult(
            name=phase.name, narrative=phase.narrative, start=self.now(), lesson=lesson
        )
        self.last_change = self.result.start
        self.load_changed: float | None = None  # the phase's first load step
        self.step_label = ""
        self.stats: Stats | None = None
        self.peaks = checks.ResourcePeaks()  # this phase's own, to name what it saturated
        self.loadgen: dict[str, list[float]] = {}  # share of a core per Locust process, each tick

    def now(self) -> float:
        return self.ctx.clock.time()

    def changed(self) -> None:
        """Something changed (load, scale, fault): measure from ``settle`` s after now."""
        self.last_change = self.now()

    def steady_window(self) -> Window:
        since = self.last_change
        if self.phase.measure_after == "load" and self.load_changed is not None:
            since = self.load_changed
        return steady_window(self.result.start, since, self.ctx.scenario.settle, self.now())

    # -- actions ------------------------------------------------------------------------------

    def set_load(self, setting: LoadSetting) -> None:
        t = setting.traffic
        self.ctx.load.swarm(
            setting.users, setting.spawn_rate, target_rps=setting.rate or None, traffic=t
        )
        self.ctx.lab.events.emit(
            "load",
            f"load {setting.describe()}",
            users=setting.users,
            spawn_rate=setting.spawn_rate,
            rate=setting.rate,
            think_time=t.think_time,
            mix=dict(t.mix),
            skew=t.skew,
            ramp=t.ramp_s,
            tags=("load",),
        )
        self.result.offered_rps = setting.rate
        self.result.think_time = None if setting.rate is not None else t.think_time
        self.ctx.load_now = setting
        self.changed()
        if self.load_changed is None:
            self.load_changed = self.last_change

    def set_users(self, users: int, spawn_rate: float) -> None:
        """A closed loop of ``users`` with the current traffic (0 stops the load)."""
        self.set_load(replace(self.ctx.load_now, users=users, rate=None, spawn_rate=spawn_rate))

    def hold(self, seconds: float) -> None:
        clock, tick = self.ctx.clock, self.ctx.tick_s
        end = clock.monotonic() + seconds
        while (left := end - clock.monotonic()) > 0:
            self.tick()
            clock.sleep(min(tick, max(0.0, end - clock.monotonic())))
            self.ctx.planned_left -= min(tick, left)
        self.tick()

    def tick(self) -> None:
        """Read live numbers, remember resource peaks, tell the live view."""
        ctx = self.ctx
        self.stats = ctx.load.stats()
        shares = ctx.load.cpu()  # by Locust process: 1.0 is one core, full
        self.record("machine CPU", ctx.lab.machine_cpu())
        self.record("load generator CPU", max(shares.values(), default=None))
        if self.stats.users:
            for name, share in shares.items():
                self.loadgen.setdefault(name, []).append(share)
        ctx.on_progress(
            Progress(
                scenario=ctx.scenario.name,
                phase=self.phase.name,
                phase_index=self.index,
                phases=len(ctx.scenario.phases),
                narrative=self.phase.narrative,
                step=self.step_label,
                users=self.stats.users,
                rps=self.stats.rps,
                p95=self.stats.p95,
                slo=ctx.scenario.slo_seconds,
                replicas=dict(ctx.lab.replicas()),
                elapsed=self.now() - ctx.verdict.started,
                remaining=max(0.0, ctx.planned_left),
            )
        )

    def record(self, resource: str, value: float | None) -> None:
        """A resource's load now or over the phase: the run's peaks and the phase's own."""
        self.ctx.peaks.record(resource, value, self.phase.name)
        self.peaks.record(resource, value, self.phase.name)

    # -- measuring ----------------------------------------------------------------------------

    def measure(self, window: Window) -> None:
        """Fill the phase's row from measurements over ``window`` (ending now)."""
        ctx, r = self.ctx, self.result
        r.end, r.window = self.now(), (window.start, window.end)
        # the rules average over 10 s: a shorter phase has no rate of its own
        long_enough = r.end - r.start >= defaults.RULE_WINDOW_S
        stats = self.stats or ctx.load.stats()
        # a phase too short for the rule: Locust's own count now (a scrape lags behind it)
        users = ctx.metrics.rule("users", window) if long_enough else None
        r.users = round(users) if users is not None else ctx.load.stats().users
        r.replicas = self._replicas(window if long_enough else None)
        if not long_enough:
            return  # e.g. drain: any rate now would still be the previous phase's
        errors, cpu, client_rps, client_p95, client_fail = (
            ctx.metrics.rule(key, window)
            for key in ("error_ratio", "cpu_api", "client_rps", "client_p95", "client_fail_ratio")
        )
        r.error_ratio, r.cpu_api = errors, cpu
        r.db_reads_per_read = ctx.metrics.rule("db_reads_per_read", window)
        seen = self.hdr_window(window)
        # the server's measures over exactly the seconds the client's HDR figures cover
        exact = {key: ctx.metrics.rule(key, seen) for key in (*EXACT, *EXACT_CLIENT)}
        r.rps, r.p50, r.p95, r.p99 = (exact[k] for k in ("rps", "p50", "p95", "p99"))
        r.in_flight, r.mean_latency = exact["in_flight"], exact["mean_latency"]
        r.service_time = exact["service_time"]
        r.goodput, r.shed = exact["goodput"], exact["shed"]
        r.amplification = exact["amplification"]
        r.pool_use, r.slot_use = (ctx.metrics.rule(key, window) for key in ("pool_use", "slot_use"))
        hdr = self.percentiles(seen)
        third = seen.seconds / 3
        first = self.percentiles(Window(seen.start, seen.start + third))
        last = self.percentiles(Window(seen.end - third, seen.end))
        r.client = ClientView(
            rps=client_rps if client_rps is not None else stats.rps,
            p50=stats.p50,
            p95=client_p95 if client_p95 is not None else stats.p95,
            fail_ratio=client_fail if client_fail is not None else stats.fail_ratio,
            hdr_p50=None if hdr is None else hdr.quantiles.get(0.5),
            hdr_p95=None if hdr is None else hdr.quantiles.get(0.95),
            hdr_p99=None if hdr is None else hdr.quantiles.get(0.99),
            hdr_count=None if hdr is None else hdr.count,
            hdr_seconds=None if hdr is None else round(seen.seconds, 3),
            hdr_p95_early=None if first is None else first.quantiles.get(0.95),
            hdr_p95_late=None if last is None else last.quantiles.get(0.95),
            mean_latency=exact["client_mean_latency"],
        )
        if r.offered_rps is not None:  # open loop: every arrival of the phase is accounted
            whole = Window(r.start, r.end)
            late, dropped = ctx.metrics.rule("late", whole), ctx.metrics.rule("dropped", whole)
            r.late = None if late is None else round(late)
            r.dropped = None if dropped is None else round(dropped)
        api = r.replicas.get("api", 0)
        if r.cpu_api is not None and api:
            self.record("API CPU", r.cpu_api / api)
        self.record("DB pool", r.pool_use)
        self.record("concurrency slots", r.slot_use)
        r.saturated = checks.saturated(self.peaks)
        means = {name: sum(ticks) / len(ticks) for name, ticks in self.loadgen.items()}
        if means:  # the busiest process: a saturated worker holds back its share of users
            r.loadgen_busiest = max(means, key=lambda name: means[name])
            r.loadgen_cpu = round(means[r.loadgen_busiest], 3)

    def hdr_window(self, window: Window) -> Window:
        """``window`` in whole seconds (the client's histograms are per second), without
        the last ones the load generator has not reported yet."""
        end = math.floor(min(window.end, self.now() - HDR_LAG_S))
        return Window(float(min(math.ceil(window.start), end)), float(end))

    def percentiles(self, window: Window) -> Percentiles | None:
        """Exact client quantiles over ``window`` (None: no answers, or no exporter);
        callers clip it with ``hdr_window`` first."""
        if window.seconds < 1.0:
            return None
        try:
            found = self.ctx.load.hdr(window.start, window.end, QUANTILES)
        except LabError as exc:  # a gap in the client's view must not abort the run
            log.warning("no HDR percentiles for %s: %s", self.phase.name, exc)
            return None
        return found if found is not None and found.count > 0 else None

    def _replicas(self, window: Window | None) -> dict[str, int]:
        """Measured healthy instances of every service the lab runs; a service set to 0
        has no series and counts 0, one Prometheus did not see is left out."""
        measured = self.ctx.metrics.replicas(window)
        out: dict[str, int] = {}
        for service, planned in self.ctx.lab.replicas().items():
            if service in measured:
                out[service] = measured[service]
            elif planned == 0:
                out[service] = 0
        return out
