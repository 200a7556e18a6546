"""Exact percentiles from per-second HDR histograms, merged across processes and ranges."""

from __future__ import annotations

import pytest

from loadtests.latency_window import LatencyWindow


def test_quantiles_are_exact_to_three_digits() -> None:
    window = LatencyWindow()
    for i in range(1, 1001):  # 1 ms .. 1000 ms, one each
        window.record(100.5, i / 1000)
    count, q = window.quantiles(100, 101, (0.5, 0.95, 0.99))
    assert count == 1000
    assert q[0.5] == pytest.approx(0.500, rel=1e-3)
    assert q[0.95] == pytest.approx(0.950, rel=1e-3)
    assert q[0.99] == pytest.approx(0.990, rel=1e-3)


def test_ranges_select_whole_seconds() -> None:
    window = LatencyWindow()
    window.record(10.2, 0.010)
    window.record(11.7, 0.500)
    assert window.quantiles(10, 11, (0.5,))[1][0.5] == pytest.approx(0.010, rel=1e-3)
    assert window.quantiles(11, 12, (0.5,))[1][0.5] == pytest.approx(0.500, rel=1e-3)
    assert window.quantiles(12, 13, (0.5,)) == (0, {})


def test_a_workers_report_merges_into_the_same_seconds() -> None:
    master, worker = LatencyWindow(), LatencyWindow()
    master.record(20.0, 0.1)
    worker.record(20.0, 0.3)
    worker.record(21.0, 0.3)
    master.merge(worker.drain())
    assert worker.quantiles(0, 100, (0.5,)) == (0, {})  # drained
    count, q = master.quantiles(20, 22, (0.99,))
    assert count == 3
    assert q[0.99] == pytest.approx(0.3, rel=1e-3)


def test_history_is_bounded() -> None:
    window = LatencyWindow(keep_seconds=3)
    for second in range(10):
        window.record(second, 0.01)
    assert window.quantiles(0, 7, (0.5,))[0] == 0
    assert window.quantiles(7, 10, (0.5,))[0] == 3
