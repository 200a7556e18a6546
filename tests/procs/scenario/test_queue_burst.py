"""The queue-burst lesson end to end (`--profile quick`) on a native lab.

KEDA semantics on the orders consumer's lag: no worker at first, a burst of 600 orders,
workers scaled 0 → N → 0, and every order processed exactly once (the integrity audit).
This test reads the controller's journal behind the run's checks.
"""

from __future__ import annotations

import json

import pytest

from tests.labtools import LabHome, run_scenario


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(400)
def test_workers_scale_from_zero_on_lag_and_back(lab_home: LabHome) -> None:
    run = run_scenario(lab_home, "queue-burst", timeout=360)
    run.assert_no_unexplained_failure()

    scaling = run.verdict["autoscaling"]
    steps = [(s["before"], s["after"]) for s in scaling["scalings"] if s["service"] == "worker"]
    assert steps[0] == (0, 1), steps  # activation: KEDA starts one worker from zero
    assert max(after for _, after in steps) >= 3, steps
    assert steps[-1][1] == 0, steps  # and takes the last one away after the cooldown
    cold = next(u for u in scaling["scale_ups"] if u["before"] == 0)
    assert cold["decided"] <= cold["called"] <= cold["ready"], cold
    assert 0 < cold["breach_to_served_s"] < 10, cold

    # every poll journaled with the lag it read; the lag came from NATS with no worker
    lines = (run.folder / "autoscale" / "decisions.jsonl").read_text().splitlines()
    polls = [json.loads(line) for line in lines]
    assert all(p["metric"] == "lag" for p in polls)
    first = next(p for p in polls if p["result"] == 1 and p["current"] == 0)
    assert first["value"] > 0, first
    # exactly once, whatever the scaling did
    audit = run.verdict["audit"]
    assert audit["passed"] and audit["orders"] >= 400, audit
    assert audit["processed"] == audit["orders"], audit
