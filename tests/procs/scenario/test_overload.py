"""The overload lesson end to end (`--profile quick`) on a native lab.

One replica (4 slots × 80 ms = 50 req/s) under an open loop of 100 req/s: with
admission control goodput stays near the capacity and the excess is shed; with it
switched off by a `set` step mid-run, the same replica stays as busy but goodput
collapses. The run's checks compare the two phases; this test also reads the measured
figures from the verdict, so a check that no longer measures them cannot hide it.
"""

from __future__ import annotations

import pytest

from tests.labtools import LabHome, run_scenario

# the knobs' capacity may fall short only when the run named the machine's CPU saturated
CAPACITY = frozenset({"goodput with admission control is at least 70 % of the capacity (35 req/s)"})


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(400)
def test_overload_sheds_and_keeps_goodput(lab_home: LabHome) -> None:
    run = run_scenario(lab_home, "overload", timeout=360)
    run.assert_no_unexplained_failure(CAPACITY)
    verdict = run.verdict

    phases = run.phases()
    shed, bare = phases["overload-1"], phases["overload-2"]
    assert shed["offered_rps"] == bare["offered_rps"] == 100
    # with admission control: the excess refused, what is admitted served within the SLO
    assert shed["shed"] > 30, shed
    assert shed["goodput"] > 2 * bare["goodput"], (shed["goodput"], bare["goodput"])
    # without: the replica as busy as ever (answers/s), its answers too late to count
    assert bare["shed"] < 1, bare
    assert bare["rps"] > 0.8 * shed["goodput"], (bare["rps"], shed["goodput"])
    assert bare["p95"] > verdict["slo_seconds"] > shed["p95"], (bare["p95"], shed["p95"])

    # the defence went on, off, and back to what the lab had before the run
    events = run.events()
    waits = [e["data"]["knobs"]["api_queue_timeout_ms"] for e in events if e["kind"] == "set"]
    assert waits == [100, 0], waits
