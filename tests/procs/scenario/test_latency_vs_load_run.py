"""`lab scenario latency-vs-load --profile quick` end to end on a native lab: real
processes, an open and a closed loop, a knee search, a 5 s SIGSTOP of a replica.

The lesson must actually happen: every prediction is a check, so a passing run means the
closed loop sent users / latency, Little's law held, p95 stayed flat to ρ = 0.8 and grew
above capacity, and the open loop's p99 showed the stall the closed loop's hid.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.labtools import LabHome

LAB = [sys.executable, "-c", "from lab.cli import main; main()"]


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_latency_vs_load_quick_teaches_its_lesson(lab_home: LabHome) -> None:
    done = subprocess.run(
        [*LAB, "scenario", "latency-vs-load", "--profile", "quick", "--down"],
        env=lab_home.env(),
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    output = done.stdout[-6000:] + done.stderr[-3000:]
    runs = sorted(lab_home.runs.glob("*-latency-vs-load"))
    assert len(runs) == 1, output
    verdict = json.loads((runs[0] / "verdict.json").read_text())
    failed = [f"{c['name']}: {c['detail']}" for c in verdict["checks"] if not c["passed"]]
    assert not failed, "\n".join(failed)
    assert done.returncode == 0, output

    phases = {p["name"]: p for p in verdict["phases"]}
    closed = [phases[f"closed-{n}"]["client"] for n in (1, 2, 4)]
    rates = [c["hdr_count"] / c["hdr_seconds"] for c in closed]
    assert rates[0] < rates[1] < rates[2]  # users / latency
    assert 85 <= verdict["knee"]["rate"] <= 105
    freeze_open, freeze_closed = phases["freeze-open"], phases["freeze-closed"]
    assert freeze_open["client"]["hdr_p99"] > 1.0 > 0.25 > freeze_closed["client"]["hdr_p99"]
    assert phases["overload"]["late"] is not None  # open-loop arrivals are accounted

    summary = (runs[0] / "summary.md").read_text()
    assert "## Predicted vs measured" in summary and "### freeze-closed" in summary
    assert (runs[0] / "plots" / "knee.png").is_file()
