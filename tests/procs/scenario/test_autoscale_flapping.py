"""The autoscale-flapping lesson end to end (`--profile quick`) on a native lab.

Three cycles of 60 ↔ 220 req/s without a scale-down window, then three with a 30 s
window, in one run: the window must cut the scale events and the time spent starting
replicas again. The run's checks count the events per half; this test also compares
the two halves' replica-seconds and p95, read from the verdict.
"""

from __future__ import annotations

import pytest

from tests.labtools import LabHome, run_scenario


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(480)
def test_a_window_stops_the_flapping(lab_home: LabHome) -> None:
    run = run_scenario(lab_home, "autoscale-flapping", timeout=440)
    run.assert_no_unexplained_failure()

    phases = run.phases()
    scalings = run.verdict["autoscaling"]["scalings"]

    def events(name: str) -> int:
        p = phases[name]
        return sum(1 for s in scalings if p["start"] <= s["t"] <= p["end"])

    flapping, stable = events("no-window"), events("window")
    assert flapping >= 4 and stable <= 2 and flapping >= 2 * stable, (flapping, stable)
    # with the window, more replicas held through the lows: the price of stability
    assert phases["window"]["replicas"]["api"] >= phases["no-window"]["replicas"]["api"]
