"""The workers' side of a replay: KEDA over a fluid model of the queue's lag.

lag(t + dt) = max(0, lag(t) + (arrivals(t) − ready workers × rate) · dt). The arrivals
are what the recorded lag implies: its change between two recorded polls plus what the
recorded ready workers processed meanwhile, and none while the lag stayed at 0 (the
workers kept up: the recorded lag says nothing about how much came). Scored by
replica-seconds and the peak lag; the workers have no latency SLO.
"""

from __future__ import annotations

from collections.abc import Sequence

from lab.autoscale.fleet import DT, Fleet, Run, grid, replaying, run, syncs
from lab.autoscale.hpa import Decision
from lab.autoscale.keda import Keda
from lab.autoscale.policy import KedaPolicy
from lab.autoscale.track import ServiceReplay, Track


def replay_worker(
    decisions: Sequence[Decision],
    policy: KedaPolicy,
    label: str,
    *,
    delay: float,
    rate: float,
    end: float,
) -> ServiceReplay:
    lags = [(d.t, d.value) for d in decisions if d.value is not None]
    start, first = decisions[0].t, decisions[0].current
    times = grid(start, end)
    ran = run(times, [d.t for d in decisions], Fleet(delay, first), replaying(
        [d.result for d in decisions]
    ))  # fmt: skip
    inflow = arrivals(times, lags, ran.ready, rate)
    lag0 = lags[0][1] if lags else 0.0
    keda = Keda(policy)
    state = [lag0]  # the replayed lag, integrated step by step

    def decide(t: float, fleet: Fleet) -> int:
        decision = keda.decide(t, fleet.size, state[0])
        keda.record(t, decision.current, decision.result)
        return decision.result

    def step(i: int, fleet: Fleet) -> None:
        state[0] = max(0.0, state[0] + (inflow[i] - fleet.ready * rate) * DT)
        peak[0] = max(peak[0], state[0])

    peak = [lag0]
    again = run(times, syncs(start, end, policy.polling_s), Fleet(delay, first), decide, step)
    return ServiceReplay(
        service="worker",
        t=tuple(t - start for t in times),
        signal=tuple(inflow),
        signal_label="arrivals, orders/s",
        recorded=Track(
            "recorded",
            ran,
            peak_lag=peak_lag(inflow, ran, rate, lag0),
            measured=max((v for _, v in lags), default=None),
        ),
        replayed=Track(label, again, peak_lag=peak[0]),
        measured_label="peak lag recorded at the polls",
    )


def arrivals(
    times: Sequence[float],
    lags: Sequence[tuple[float, float]],
    ready: Sequence[int],
    rate: float,
) -> list[float]:
    """Orders arriving per second at each grid step, from the recorded lag and workers."""
    out = []
    j = 0
    for t, workers in zip(times, ready, strict=True):
        while j + 1 < len(lags) and lags[j + 1][0] <= t:
            j += 1
        if j + 1 >= len(lags):
            out.append(workers * rate if lags and lags[j][1] > 0 else 0.0)
            continue
        (t0, a), (t1, b) = lags[j], lags[j + 1]
        if a == 0 and b == 0:
            out.append(0.0)
            continue
        out.append(max(0.0, (b - a) / (t1 - t0) + workers * rate))
    return out


def peak_lag(inflow: Sequence[float], ran: Run, rate: float, lag0: float) -> float:
    """The recorded fleet's peak lag under the same model (like for like)."""
    lag = peak = lag0
    for a, workers in zip(inflow, ran.ready, strict=True):
        lag = max(0.0, lag + (a - workers * rate) * DT)
        peak = max(peak, lag)
    return peak
