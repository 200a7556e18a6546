"""The latency-vs-load, cache, db-pool and worker-failure lessons end to end
(`--profile quick`) on a native lab.

Every check in their files is measured against a prediction from the knobs (the hit
ratio from TTL, skew and rate; pool / query time as the ceiling, then the work slots once
the pool is raised; a backlog from orders
arriving faster than one worker drains), so a passing run means the effect happened; the
run folder must carry the lesson's tables and, for every run, the integrity audit.
"""

from __future__ import annotations

import pytest

from tests.labtools import LabHome, run_scenario

# each lesson's checks of a capacity the knobs predict (see tests.labtools.CAPACITY_CHECKS)
CAPACITY = {
    "latency-vs-load": frozenset(
        {"find-knee: measured: 4 slots / the service time measured at the knee, within 15 %"}
    ),
    "db-pool": frozenset(
        {
            "pool-bound: the pool: 4 connections / 29 ms ≈ 136 req/s",
            "more-connections: the slots: 16 / (20 ms + 29 ms) ≈ 327 req/s",
            "a pool as large as the slots lifts throughput at least 2× (2.4× predicted)",
        }
    ),
}


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", ["latency-vs-load", "cache", "db-pool", "worker-failure"])
def test_quick_lesson_passes(lab_home: LabHome, scenario: str) -> None:
    run = run_scenario(lab_home, scenario)
    run.assert_no_unexplained_failure(CAPACITY.get(scenario, frozenset()))
    assert len(run.verdict["checks"]) >= 3
    if scenario == "cache":  # the TTL was cut mid-run; the lab goes down with it (--down)
        events = run.events()
        ttls = [e["data"]["knobs"]["cache_ttl_s"] for e in events if e["kind"] == "set"]
        assert ttls == [2], ttls
        kept = [e["message"] for e in events if e["kind"] == "restore"]
        assert len(kept) == 1 and "not rolled back, the lab goes down: cache_ttl_s=10" in kept[0]
