"""The cache, db-pool and worker-failure lessons end to end (`--profile quick`) on a
native lab.

Every check in their files is measured against a prediction from the knobs (the hit
ratio from TTL, skew and rate; pool / query time as the ceiling; a backlog from orders
arriving faster than one worker drains), so a passing run means the effect happened; the
run folder must carry the lesson's tables and, for every run, the integrity audit.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.labtools import RUN_FILES, LabHome, unexplained_failures

LAB = [sys.executable, "-c", "from lab.cli import main; main()"]
# each lesson's checks of a capacity the knobs predict (see tests.labtools.CAPACITY_CHECKS)
CAPACITY = {
    "db-pool": frozenset(
        {"throughput is capped near pool / query time (136 req/s, at least 85% of it)"}
    ),
}


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", ["cache", "db-pool", "worker-failure"])
def test_quick_lesson_passes(lab_home: LabHome, scenario: str) -> None:
    done = subprocess.run(
        [*LAB, "scenario", scenario, "--profile", "quick", "--down"],
        env=lab_home.env(),
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    output = done.stdout[-6000:] + done.stderr[-3000:]
    runs = sorted(lab_home.runs.glob(f"*-{scenario}"))
    assert len(runs) == 1, output
    verdict = json.loads((runs[0] / "verdict.json").read_text())
    failed = unexplained_failures(verdict, CAPACITY.get(scenario, frozenset()))
    assert not failed, "\n".join(failed)
    if verdict["passed"]:
        assert done.returncode == 0, output
    assert len(verdict["checks"]) >= 3
    assert verdict["audit"]["passed"], verdict["audit"]["detail"]
    for name in RUN_FILES:
        assert (runs[0] / name).is_file(), name
    if scenario == "cache":  # the TTL was cut mid-run, then put back by the run itself
        lines = (runs[0] / "events.jsonl").read_text().splitlines()
        events = [json.loads(line) for line in lines]
        ttls = [e["data"]["knobs"]["cache_ttl_s"] for e in events if e["kind"] == "set"]
        assert ttls == [2, 10], ttls
