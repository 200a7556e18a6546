"""The replay's fleet: start delay, scale-down order, one run over a grid."""

from __future__ import annotations

from lab.autoscale.fleet import Fleet, grid, hold, replaying, run, syncs


def test_a_new_replica_serves_after_the_delay() -> None:
    fleet = Fleet(delay=3.0, ready=1)
    fleet.scale(10.0, 3)
    fleet.advance(12.0)
    assert (fleet.size, fleet.ready) == (3, 1)
    fleet.advance(13.0)
    assert (fleet.size, fleet.ready) == (3, 3)


def test_scale_down_removes_starting_replicas_first() -> None:
    fleet = Fleet(delay=10.0, ready=2)
    fleet.scale(0.0, 4)
    fleet.scale(1.0, 3)
    assert (fleet.ready, len(fleet.starting)) == (2, 1)
    fleet.scale(2.0, 1)
    assert (fleet.ready, fleet.starting) == (1, [])


def test_run_scales_at_each_sync_and_counts_events() -> None:
    times = grid(0.0, 6.0)
    result = run(times, [0.0, 2.0, 4.0], Fleet(1.0, 1), replaying([1, 3, 2]))
    assert result.replicas == (1, 1, 3, 3, 2, 2)
    assert result.ready == (1, 1, 1, 3, 2, 2)
    assert (result.scale_events, result.replica_seconds) == (2, 12.0)
    assert syncs(0.0, 30.0, 15.0) == [0.0, 15.0]


def test_hold_keeps_the_last_value() -> None:
    points = [(10.0, 1.0), (20.0, 2.0)]
    assert [hold(points, t) for t in (0.0, 10.0, 19.0, 25.0)] == [1.0, 1.0, 1.0, 2.0]
