"""Open-loop arrivals: when each request *should* be sent, whatever the server does.

A closed-loop user sends its next request when the previous one answered, so a slow
server slows the load down and its queue never shows in the client's numbers
(coordinated omission). An open loop fixes the arrival times in advance: arrival ``k``
is due at ``t_k`` whether or not the system kept up, and its latency is measured from
``t_k`` (the *intended* send time), not from when a user got round to sending it.

Each Locust process owns one ``ArrivalSchedule`` for its share of the rate. A free user
``take``s the next due arrival and sleeps until it is due. If no user was free when an
arrival fell due, the arrival is *late* (sent, and its wait counts in its latency); one
that no user could take within ``drop_after`` seconds is *dropped* (never sent, counted),
as k6's ``dropped_iterations``. Late and dropped arrivals mean the pool of users is too
small for the rate: they are reported, never hidden.

Pure logic (no Locust, no gevent), so it is unit-tested with a fake clock.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

Spacing = Literal["constant", "poisson"]

LATE_AFTER_S = 0.010  # scheduler jitter below this is not lateness
DROP_AFTER_S = 1.0
IDLE_POLL_S = 0.1  # how long a user waits before asking again while the rate is 0


@dataclass(frozen=True)
class Slot:
    """One arrival handed to a user: send at ``intended`` (unix seconds)."""

    intended: float
    late: bool  # no user was free when it fell due


@dataclass
class ArrivalCounts:
    on_time: int = 0
    late: int = 0
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"on_time": self.on_time, "late": self.late, "dropped": self.dropped}


class ArrivalSchedule:
    """Intended send times at a rate that may change (as a step or a linear ramp)."""

    def __init__(
        self,
        *,
        spacing: Spacing = "constant",
        late_after: float = LATE_AFTER_S,
        drop_after: float = DROP_AFTER_S,
        rng: random.Random | None = None,
    ) -> None:
        self.spacing: Spacing = spacing
        self.late_after = late_after
        self.drop_after = drop_after
        self.rng = rng or random.Random()
        self.counts = ArrivalCounts()
        self._from_rate = 0.0
        self._to_rate = 0.0
        self._ramp_start = 0.0
        self._ramp_s = 0.0
        self._next: float | None = None

    # -- the rate -----------------------------------------------------------------------------

    def set_rate(self, rate: float, now: float, *, ramp_s: float = 0.0) -> None:
        """Arrivals per second from ``now`` on; with ``ramp_s`` > 0 the rate moves
        linearly from its current value to ``rate`` over that many seconds."""
        rate = max(0.0, rate)
        if rate == self._to_rate:
            return
        self._from_rate = self.rate_at(now)
        self._to_rate = rate
        self._ramp_start = now
        self._ramp_s = max(0.0, ramp_s)
        if self._from_rate == 0.0 and ramp_s == 0.0:
            self._next = None  # starting from idle: the first arrival is due now

    def rate_at(self, t: float) -> float:
        if self._ramp_s <= 0 or t >= self._ramp_start + self._ramp_s:
            return self._to_rate
        if t <= self._ramp_start:
            return self._from_rate
        share = (t - self._ramp_start) / self._ramp_s
        return self._from_rate + (self._to_rate - self._from_rate) * share

    # -- arrivals -----------------------------------------------------------------------------

    def take(self, now: float) -> Slot | None:
        """The next arrival for a free user, or None while the rate is 0 (ask again
        after ``IDLE_POLL_S``). Arrivals overdue by more than ``drop_after`` are dropped."""
        if self._next is None:
            if self.rate_at(now) <= 0:
                return None
            self._next = now
        while self._next < now - self.drop_after:
            self.counts.dropped += 1
            if not self._advance():
                return None
        if self.rate_at(self._next) <= 0 and self._next <= now:
            self._next = None
            return None
        intended = self._next
        late = now - intended > self.late_after
        if late:
            self.counts.late += 1
        else:
            self.counts.on_time += 1
        self._advance()
        return Slot(intended, late)

    def _advance(self) -> bool:
        """Move ``_next`` one interarrival gap on; False when the rate fell to 0."""
        assert self._next is not None
        rate = self.rate_at(self._next)
        if rate <= 0:
            self._next = None
            return False
        gap = 1.0 / rate
        if self.spacing == "poisson":
            gap = -math.log(1.0 - self.rng.random()) / rate
        self._next += gap
        return True


def process_rate(per_user: float, users_here: int, pool: int = 0, processes: int = 0) -> float:
    """This Locust process's share of the open-loop rate: ``per_user`` × its users, the
    users it runs counted at most up to its share of the ``pool`` asked for (Locust deals
    the users out evenly over the ``processes``; 0: unknown, count them all).

    The cap is for a smaller pool: Locust stops users a few per second (the spawn rate),
    and while 950 of a pool going from 1000 to 50 still ran, the rate they were asked
    to carry between them was 0.2 req/s each, 190 req/s in all, not 10. Users still
    being started are not there yet, so a growing pool reaches its rate as they arrive."""
    if pool > 0 and processes > 0:
        users_here = min(users_here, math.ceil(pool / processes))
    return per_user * max(1, users_here)


SCHEDULE = ArrivalSchedule()
"""This process's schedule: users take from it, locust_exporter reads its counts."""
