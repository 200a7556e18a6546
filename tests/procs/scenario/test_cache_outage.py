"""The cache-outage lesson end to end (`--profile quick`) on a native lab.

Redis is stopped under load (reads fall back to Postgres: one database read per lookup,
the p95 up by the query cost, no errors, Redis' breaker open), started again empty, and
then restarted twice more under load, without and with single-flight, so that one run
compares the cold-cache stampede's database reads. Every check in the file is measured
against a number derived from the knobs; here the run must pass, carry its files, and
show in its own records what the checks claim: the knobs changed as the lesson says,
and the database reads per lookup ordered outage > stampede > stampede with
single-flight > warm.
"""

from __future__ import annotations

import csv

import pytest

from tests.labtools import LabHome, run_scenario

SCENARIO = "cache-outage"


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_cache_outage_quick_passes(lab_home: LabHome) -> None:
    run = run_scenario(lab_home, SCENARIO)
    run.assert_no_unexplained_failure()
    verdict = run.verdict
    assert verdict["passed"], run.output

    # the knobs moved as the lesson says; the lab goes down at the end (--down), so the
    # last one is not rolled back first, and the run says so
    events = run.events()
    sets = [e["data"]["knobs"] for e in events if e["kind"] == "set"]
    assert sets == [
        {"api_breaker": True},
        {"api_breaker": False},
        {"cache_single_flight": True},
    ], sets
    kept = [e["message"] for e in events if e["kind"] == "restore"]
    assert len(kept) == 1 and "not rolled back, the lab goes down" in kept[0], kept
    assert "cache_single_flight=False" in kept[0], kept
    faults = [e["kind"] for e in events if e.get("data", {}).get("instance") == "redis-1"]
    assert faults == ["stop", "start", "restart", "restart"], faults

    # database reads per lookup: every lookup when Redis is down, a few in a cold refill,
    # fewer when concurrent misses share a read, almost none warm
    phases = run.phases()
    per_read = {name: phases[name]["db_reads_per_read"] for name in phases}
    warm, outage = per_read["warm"], per_read["outage"]
    cold, shared = per_read["stampede"], per_read["stampede-sf"]
    assert None not in (warm, outage, cold, shared), per_read
    assert outage > cold > shared > warm, per_read

    # the report's cache plot reads the database reads from the run's timeseries
    with (run.folder / "timeseries.csv").open() as f:
        rows = list(csv.DictReader(f))
    reads = [float(r["db_product_reads_rate10s"]) for r in rows if r["db_product_reads_rate10s"]]
    assert max(reads) > 100, max(reads)  # the outage: the whole read rate (150/s)
