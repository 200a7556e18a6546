"""The retry-storm lesson end to end (`--profile quick`) on a native lab.

20 % and then 100 % of the API's Postgres calls fail (an injected fault: the query runs,
its answer is lost), first with naive retries (3, at once), then, after a `set` step,
with a 10 % retry budget and backoff. The measured attempts per call must follow the
arithmetic: 1 + p + p² + p³ = 1.248 and 1 + 3 = 4 naive, at most about 1.1 budgeted;
the naive outage saturates the pool (4 × 80 = 320 queries/s against 4 / 20 ms = 200).
"""

from __future__ import annotations

import pytest

from tests.labtools import LabHome, run_scenario


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(400)
def test_naive_retries_amplify_an_outage_and_a_budget_does_not(lab_home: LabHome) -> None:
    run = run_scenario(lab_home, "retry-storm", timeout=360)
    run.assert_no_unexplained_failure()
    verdict = run.verdict
    assert verdict["passed"], run.output

    phases = run.phases()
    amplification = {name: p["amplification"] for name, p in phases.items()}
    assert 1.15 <= amplification["naive-20"] <= 1.35, amplification
    assert amplification["naive-outage"] >= 3.6, amplification
    assert amplification["budgeted-20"] <= 1.15, amplification
    assert amplification["budgeted-outage"] <= 1.15, amplification
    # naive retries hide independent failures (p⁴ left), a budget gives some up
    assert phases["naive-20"]["error_ratio"] < 0.01 < phases["budgeted-20"]["error_ratio"]
    # the outage: every call fails either way (the 10 s error rule still holds some of the
    # phase before), but only the naive one is slow
    assert phases["naive-outage"]["error_ratio"] > 0.5
    assert phases["budgeted-outage"]["error_ratio"] > 0.5
    assert phases["naive-outage"]["p95"] > verdict["slo_seconds"] > phases["budgeted-outage"]["p95"]

    # the fault reached the replicas as a dependency fault, four times
    events = run.events()
    faults = [e["message"] for e in events if "of the calls to postgres fail" in e["message"]]
    assert len(faults) == 4, faults
