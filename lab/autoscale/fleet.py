"""The replay's replicas: a fleet on a one-second grid, scaled by a decision at each sync.

A replica added at a sync serves ``delay`` seconds later; until then it is starting (it
costs, it does not serve). A scale-down removes starting replicas first (the newest), as
a ReplicaSet deletes pods that are not ready before ready ones, and takes effect at once.
``run`` steps the grid, asks ``decide`` at each sync for the replicas wanted, and keeps
the count and the ready count of every step.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

DT = 1.0  # seconds per grid step


@dataclass
class Fleet:
    delay: float
    ready: int
    starting: list[float] = field(default_factory=list)  # when each starting one serves

    @property
    def size(self) -> int:
        return self.ready + len(self.starting)

    def advance(self, t: float) -> None:
        served = [s for s in self.starting if s <= t]
        self.ready += len(served)
        self.starting = [s for s in self.starting if s > t]

    def scale(self, t: float, wanted: int) -> None:
        if wanted > self.size:
            self.starting.extend([t + self.delay] * (wanted - self.size))
            return
        drop = self.size - wanted
        cut = min(drop, len(self.starting))
        self.starting = sorted(self.starting)[: len(self.starting) - cut]
        self.ready -= drop - cut


@dataclass(frozen=True)
class Run:
    """One policy's replicas over the grid."""

    replicas: tuple[int, ...]
    ready: tuple[int, ...]
    scale_events: int

    @property
    def replica_seconds(self) -> float:
        return sum(self.replicas) * DT


Decide = Callable[[float, Fleet], int]  # (sync time, fleet) → replicas wanted
Step = Callable[[int, Fleet], None]  # after grid step i is recorded (e.g. integrate a lag)


def grid(start: float, end: float) -> list[float]:
    return [start + i * DT for i in range(max(int((end - start) / DT), 1))]


def syncs(start: float, end: float, every: float) -> list[float]:
    out, t = [], start
    while t < end:
        out.append(t)
        t += every
    return out


def run(
    times: Sequence[float],
    at: Sequence[float],
    fleet: Fleet,
    decide: Decide,
    step: Step | None = None,
) -> Run:
    """Step ``times``; at each sync in ``at`` (ascending) scale to what ``decide`` wants."""
    replicas, ready, events, k = [], [], 0, 0
    for i, t in enumerate(times):
        fleet.advance(t)
        while k < len(at) and at[k] <= t + 1e-9:
            wanted = decide(at[k], fleet)
            if wanted != fleet.size:
                events += 1
                fleet.scale(at[k], wanted)
            k += 1
        fleet.advance(t)  # a zero delay serves at once
        replicas.append(fleet.size)
        ready.append(fleet.ready)
        if step is not None:
            step(i, fleet)
    return Run(tuple(replicas), tuple(ready), events)


def replaying(results: Sequence[int]) -> Decide:
    """The recorded policy's decisions, one per recorded sync, in order."""
    it = iter(results)
    return lambda t, fleet: next(it)


def hold(points: Sequence[tuple[float, float]], t: float) -> float:
    """The value of the last point at or before ``t`` (the first before any; 0 if none)."""
    if not points:
        return 0.0
    i = bisect.bisect_right([p[0] for p in points], t + 1e-9) - 1
    return points[max(i, 0)][1]
