"""Reading Locust's /stats/requests report."""

from __future__ import annotations

from lab.load.locust_api import parse_stats


def test_parse_stats_reads_the_aggregated_row_in_seconds() -> None:
    report = {
        "state": "running",
        "user_count": 20,
        "worker_count": 2,
        "stats": [
            {"name": "/products/[id]", "current_rps": 90.0, "current_fail_per_sec": 0.0},
            {"name": "Aggregated", "current_rps": 100.0, "current_fail_per_sec": 5.0},
        ],
        "current_response_time_percentiles": {
            "response_time_percentile_0.5": 12,
            "response_time_percentile_0.95": 250,
        },
    }
    stats = parse_stats(report)
    assert (stats.users, stats.rps, stats.fail_ratio) == (20, 100.0, 0.05)
    assert (stats.p50, stats.p95, stats.p99) == (0.012, 0.25, None)
    assert (stats.state, stats.workers) == ("running", 2)
    quiet = {"name": "Aggregated", "current_rps": 0, "current_fail_per_sec": 0}
    idle = parse_stats(
        {"stats": [quiet], "current_response_time_percentiles": {"response_time_percentile_0.5": 0}}
    )
    assert (idle.rps, idle.fail_ratio, idle.p50) == (0.0, 0.0, None)
