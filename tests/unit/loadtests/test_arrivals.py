"""The open-loop arrival schedule, on a fake clock: due times, late and dropped arrivals."""

from __future__ import annotations

import itertools
import random

import pytest

from loadtests.arrivals import ArrivalSchedule, process_rate


def test_constant_rate_spaces_arrivals_evenly_and_on_time() -> None:
    schedule = ArrivalSchedule()
    schedule.set_rate(10.0, now=100.0)
    slots = []
    now = 100.0
    for _ in range(5):
        slot = schedule.take(now)
        assert slot is not None
        slots.append(slot.intended)
        now = slot.intended  # a free user sleeps until it is due
    assert slots == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4])
    assert schedule.counts.as_dict() == {"on_time": 5, "late": 0, "dropped": 0}


def test_arrivals_stay_due_when_the_users_are_busy() -> None:
    """Coordinated omission avoided: a slow response does not move the next due time."""
    schedule = ArrivalSchedule(late_after=0.01, drop_after=10.0)
    schedule.set_rate(10.0, now=0.0)
    assert schedule.take(0.0).intended == 0.0  # type: ignore[union-attr]
    late = schedule.take(0.5)  # the only user came back after 0.5 s
    assert late is not None and late.intended == pytest.approx(0.1) and late.late
    assert schedule.take(0.5).intended == pytest.approx(0.2)  # type: ignore[union-attr]
    assert schedule.counts.late == 2
    assert schedule.counts.on_time == 1


def test_arrivals_overdue_past_drop_after_are_dropped_and_counted() -> None:
    schedule = ArrivalSchedule(drop_after=1.0)
    schedule.set_rate(10.0, now=0.0)
    schedule.take(0.0)
    slot = schedule.take(3.0)  # 3 s without a free user: 0.1 .. 1.9 are beyond saving
    assert slot is not None
    assert slot.intended == pytest.approx(2.0)
    assert schedule.counts.dropped == 19
    assert slot.late


def test_rate_zero_idles_and_restarts_from_now() -> None:
    schedule = ArrivalSchedule()
    assert schedule.take(5.0) is None
    schedule.set_rate(4.0, now=5.0)
    assert schedule.take(7.0).intended == 7.0  # type: ignore[union-attr]
    schedule.set_rate(0.0, now=7.1)
    assert schedule.take(7.5) is None
    schedule.set_rate(2.0, now=9.0)
    assert schedule.take(9.0).intended == 9.0  # type: ignore[union-attr]


def test_ramp_moves_the_rate_linearly() -> None:
    schedule = ArrivalSchedule()
    schedule.set_rate(10.0, now=0.0)
    schedule.set_rate(30.0, now=10.0, ramp_s=10.0)
    assert schedule.rate_at(10.0) == pytest.approx(10.0)
    assert schedule.rate_at(15.0) == pytest.approx(20.0)
    assert schedule.rate_at(25.0) == pytest.approx(30.0)


def test_poisson_spacing_has_the_asked_mean_rate() -> None:
    schedule = ArrivalSchedule(spacing="poisson", rng=random.Random(7), drop_after=1e9)
    schedule.set_rate(50.0, now=0.0)
    times = [schedule.take(0.0).intended for _ in range(5000)]  # type: ignore[union-attr]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert sum(gaps) / len(gaps) == pytest.approx(1 / 50, rel=0.05)
    assert max(gaps) > 4 / 50  # exponential gaps, not constant ones


def test_a_stopped_schedule_starts_fresh_without_dropping_the_pause() -> None:
    """Open loop, then a closed loop for a while (the schedule is stopped), then open
    again: the arrivals that would have been due during the closed loop are not dropped."""
    schedule = ArrivalSchedule(drop_after=1.0)
    schedule.set_rate(20.0, now=0.0)
    assert schedule.take(0.0) is not None
    schedule.set_rate(0.0, now=0.5)  # what a closed-loop user does
    schedule.set_rate(10.0, now=30.0)
    slot = schedule.take(30.0)
    assert slot is not None and slot.intended == 30.0
    assert schedule.counts.dropped == 0


def test_a_schedule_left_running_counts_the_pause_as_dropped() -> None:
    """Without the stop, the same pause would be counted as dropped arrivals."""
    schedule = ArrivalSchedule(drop_after=1.0)
    schedule.set_rate(20.0, now=0.0)
    assert schedule.take(0.0) is not None
    schedule.set_rate(10.0, now=30.0)
    assert schedule.take(30.0) is not None
    assert schedule.counts.dropped > 200  # 29 s of arrivals, never sent


def test_users_still_stopping_carry_only_the_new_pools_rate() -> None:
    """A pool going from 1000 users to 50 at 10 req/s (0.2 req/s a user) over two
    processes: while 475 still run in each, each carries 25 users' worth, 5 req/s."""
    assert process_rate(0.2, 475, pool=50, processes=2) == pytest.approx(5.0)
    assert process_rate(0.2, 25, pool=50, processes=2) == pytest.approx(5.0)  # settled
    assert process_rate(0.2, 10, pool=50, processes=2) == pytest.approx(2.0)  # still starting
    # dealt out 3 + 2: each counts its own, at most ceil(5 / 2) = 3
    assert process_rate(1.0, 3, pool=5, processes=2) + process_rate(1.0, 2, 5, 2) == 5.0
    assert process_rate(0.2, 475) == pytest.approx(95.0)  # pool unknown: every user counts
    assert process_rate(0.2, 0, pool=50, processes=2) == pytest.approx(0.2)  # never 0
