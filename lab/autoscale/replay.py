"""Re-run a finished run's autoscaler offline, under another policy, and score both.

The same ``Hpa`` and ``Keda`` decide as in the live loop; what they see is modelled from
the recorded decisions (``lab.autoscale.recorded``). The model, printed by
``lab autoscale replay``:

- **Open-loop demand (API).** At each recorded sync, demand D = the per-replica metric
  (the mean over the ready replicas that reported) × the ready replicas: the total work,
  assumed not to depend on how many replicas share it. It holds until the next sync.
  A replayed fleet with R ready replicas shows D ÷ R on each (``slots``: at most 1).
- **Start delay.** A replica added serves after the delay measured in the run, per
  service: the median from a scale-up decision to the new capacity serving (the API's
  first request, a worker ready: ``autoscale/reactions.jsonl``); without those, from a
  decision to the first sync at which that many replicas report (an upper bound, to a
  sync); 3 s when nothing could be measured. Until then a replica costs but does not
  serve, and the HPA sees it not ready (``lab.autoscale.fleet``).
- **Over the SLO (API)** = seconds where D ÷ R exceeds one replica's capacity: every
  slot busy (1.0) for ``concurrency`` and ``slots``, one core for ``cpu``, and for
  ``rps`` the recorded target ÷ 0.7 (a target set at 70 % of capacity) unless given.
  The policy that ran is scored by the same model, like for like.
- **Workers (KEDA).** The lag is a fluid: lag += (arrivals − ready workers × rate) · dt,
  never below 0; arrivals come from the recorded lag's changes plus what the recorded
  workers processed (none while the lag stayed 0); the rate per worker is measured
  (processed/s ÷ workers while a backlog existed) or given.

Cost is replica-seconds: every replica asked for, starting or serving.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from lab import rules
from lab.autoscale.fleet import DT, Fleet, grid, hold, replaying, run, syncs
from lab.autoscale.hpa import Decision, Hpa, Sample, per_replica
from lab.autoscale.policy import HpaPolicy, Policy
from lab.autoscale.recorded import Recording
from lab.autoscale.replay_worker import replay_worker
from lab.autoscale.track import Model, ServiceReplay, Track
from lab.errors import ConfigError

DEFAULT_START_DELAY = 3.0
HEADROOM = 0.7  # a target set at 70 % of what one replica can do
FULL = {"concurrency": 1.0, "slots": 1.0, "cpu": 1.0}  # every slot busy; one core


@dataclass(frozen=True)
class Replay:
    model: Model
    services: tuple[ServiceReplay, ...]
    notes: tuple[str, ...]


def replay(
    rec: Recording,
    policy: Policy,
    label: str,
    *,
    capacity: float | None = None,
    start_delay: float | None = None,
    worker_rate: float | None = None,
) -> Replay:
    """Both policies over the recorded run: ``label`` names the replayed one."""
    api, workers = rec.of("api"), rec.of("worker")
    delays = {name: _delay(rec, name, start_delay) for name in ("api", "worker") if rec.of(name)}
    notes, services = [], []
    cap, cap_source = None, "no API replayed"
    if api and policy.api is not None:
        cap, cap_source = api_capacity(api[0].metric, api[0].target, capacity)
        services.append(replay_api(rec, api, policy.api, label, cap, delays["api"][0]))
    elif api:
        notes.append("the replayed policy has no `api` section: the API is not replayed")
    rate, rate_source = worker_rate, "given: --worker-rate"
    if workers and policy.worker is not None:
        if rate is None:
            rate, rate_source = rec.worker_rate(), "measured: processed/s ÷ workers, backlog"
        if rate is None:
            notes.append("no worker rate measurable (pass --worker-rate): workers not replayed")
        else:
            ran = rec.policy.worker.hpa() if rec.policy.worker else None
            end = end_of(workers, ran)
            delay = delays["worker"][0]
            services.append(
                replay_worker(workers, policy.worker, label, delay=delay, rate=rate, end=end)
            )
    elif workers:
        notes.append("the replayed policy has no `worker` section: workers not replayed")
    if not services:
        raise ConfigError(
            f"nothing to replay in {rec.dir.name}",
            hint="; ".join(notes) or "the run recorded no decision for api or worker",
        )
    replayed = {s.service for s in services}
    shown = tuple((name, *d) for name, d in delays.items() if name in replayed)
    model = Model(shown, cap, cap_source, rate, rate_source)
    return Replay(model, tuple(services), tuple(notes))


def api_capacity(metric: str, target: float, given: float | None) -> tuple[float, str]:
    """What one API replica can take, in the metric's unit, and where that comes from."""
    if given is not None:
        return given, "given: --capacity"
    if metric in FULL:
        return FULL[metric], "every slot busy" if metric != "cpu" else "one core"
    if metric == "rps":
        return target / HEADROOM, f"the recorded target {target:g} ÷ {HEADROOM:g}"
    raise ConfigError(
        f"replay cannot model the {metric!r} metric: one value for the whole service",
        hint="replay runs with per-replica metrics: concurrency, slots, cpu, rps",
    )


def replay_api(
    rec: Recording,
    decisions: Sequence[Decision],
    policy: HpaPolicy,
    label: str,
    capacity: float,
    delay: float,
) -> ServiceReplay:
    metric = decisions[0].metric
    if policy.metric != metric:
        raise ConfigError(
            f"the run recorded {metric!r}; the replayed policy scales on {policy.metric!r}",
            hint="a replay re-reads the recorded metric: keep `api.metric` as it was",
        )
    points = demand(decisions)
    start, end = decisions[0].t, end_of(decisions, rec.policy.api)
    times = grid(start, end)
    need = [hold(points, t) for t in times]
    first = decisions[0].current
    at = [d.t for d in decisions]
    ran = run(times, at, Fleet(delay, first), replaying([d.result for d in decisions]))
    hpa = Hpa(policy)

    def decide(t: float, fleet: Fleet) -> int:
        per = hold(points, t) / fleet.ready if fleet.ready else None
        if per is not None and metric == "slots":
            per = min(per, 1.0)
        samples = [Sample(f"api-{i}", per) for i in range(fleet.ready)]
        samples += [Sample(f"new-{i}", None, ready=False) for i in range(len(fleet.starting))]
        raw = per_replica(fleet.size, samples, policy.target, policy.tolerance)
        decision = hpa.decide(t, fleet.size, raw, samples, value=per)
        hpa.record(t, decision.current, decision.result)
        return decision.result

    again = run(times, syncs(start, end, policy.sync_s), Fleet(delay, first), decide)
    measured = rec.seconds_above(rules.API_P95, rec.slo_seconds, start, end)
    return ServiceReplay(
        service="api",
        t=tuple(t - start for t in times),
        signal=tuple(d / capacity for d in need),
        signal_label="demand ÷ capacity (replicas needed)",
        recorded=Track("recorded", ran, _over(need, ran.ready, capacity), measured=measured),
        replayed=Track(label, again, _over(need, again.ready, capacity)),
        measured_label=f"seconds with p95 above {rec.slo_seconds:g} s ({rec.slo_source})",
    )


def demand(decisions: Sequence[Decision]) -> list[tuple[float, float]]:
    """(t, D) at each sync with a reading: the mean over the ready replicas that reported
    × the ready replicas."""
    points = []
    for d in decisions:
        ready = [s for s in d.samples if s.ready]
        values = [s.value for s in ready if s.value is not None]
        if values:
            points.append((d.t, sum(values) / len(values) * len(ready)))
    return points


def start_delay(decisions: Sequence[Decision]) -> float | None:
    """Median time from a scale-up decision to the first sync at which that many replicas
    report a reading (None: no scale-up completed without a scale-down in between)."""
    delays = []
    for i, d in enumerate(decisions):
        if d.result <= d.current:
            continue
        for later in decisions[i + 1 :]:
            if sum(1 for s in later.samples if s.ready and s.value is not None) >= d.result:
                delays.append(later.t - d.t)
                break
            if later.result < d.result:
                break
    return statistics.median(delays) if delays else None


def _delay(rec: Recording, service: str, given: float | None) -> tuple[float, str]:
    if given is not None:
        return given, "given: --start-delay"
    timed = rec.serving_delays(service)
    if timed:
        return statistics.median(timed), "measured: decision → serving, reactions.jsonl"
    measured = start_delay(rec.of(service)) if service == "api" else None
    if measured is not None:
        return measured, "measured: decision → first sync the new replicas report"
    return DEFAULT_START_DELAY, "the default: no scale-up in the run could be timed"


def _over(need: Sequence[float], ready: Sequence[int], capacity: float) -> float:
    return sum(DT for d, r in zip(need, ready, strict=True) if d > capacity * r + 1e-9)


def end_of(decisions: Sequence[Decision], policy: HpaPolicy | None) -> float:
    """The last sync plus one sync period (the policy's, or the median spacing)."""
    gaps = [b.t - a.t for a, b in itertools.pairwise(decisions)]
    period = policy.sync_s if policy else (statistics.median(gaps) if gaps else DT)
    return decisions[-1].t + period
