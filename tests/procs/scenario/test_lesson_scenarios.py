"""The cache, db-pool and latency-vs-load lessons end to end (`--profile quick`) on a
native lab.

Every check in their files is measured against a prediction from the knobs (the hit
ratio from TTL, skew and rate; pool / query time as the ceiling; slots / service time),
so a passing run means the effect happened; the run folder must carry the lesson's tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, cast

import pytest

from tests.labtools import RUN_FILES, LabHome

LAB = [sys.executable, "-c", "from lab.cli import main; main()"]


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", ["cache", "db-pool"])
def test_quick_lesson_passes(lab_home: LabHome, scenario: str) -> None:
    verdict = run_quick(lab_home, scenario)
    assert len(verdict["checks"]) >= 3


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_latency_vs_load_teaches_its_lesson(lab_home: LabHome) -> None:
    """An open and a closed loop, Little's law from independent instruments, a knee
    against slots / the service time measured in the same run, a 5 s SIGSTOP."""
    verdict = run_quick(lab_home, "latency-vs-load")
    phases = {p["name"]: p for p in verdict["phases"]}
    closed = [phases[f"closed-{n}"] for n in (1, 2, 4)]
    rates = [p["client"]["hdr_count"] / p["client"]["hdr_seconds"] for p in closed]
    assert rates[0] < rates[1] < rates[2]  # users / latency
    for phase in closed:  # L from the API's integral, W from the client's clock
        assert 0 < phase["in_flight"] < phase["users"] + 0.5
        assert phase["client"]["mean_latency"] >= phase["mean_latency"] > 0
    knee = verdict["knee"]
    service = phases["find-knee"]["service_time"]
    assert knee["found"] and service >= 0.04  # the work is held in the slot
    assert knee["rps"] <= 1.15 * 4 / service
    freeze_open, freeze_closed = phases["freeze-open"], phases["freeze-closed"]
    assert freeze_open["client"]["hdr_p99"] > 1.0 > 0.25 > freeze_closed["client"]["hdr_p99"]
    assert phases["overload"]["late"] is not None  # open-loop arrivals are accounted


def run_quick(lab_home: LabHome, scenario: str) -> dict[str, Any]:
    """``lab scenario <scenario> --profile quick``; every check passed; its verdict."""
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
    failed = [f"{c['name']}: {c['detail']}" for c in verdict["checks"] if not c["passed"]]
    assert not failed, "\n".join(failed)
    assert done.returncode == 0, output
    for name in RUN_FILES:
        assert (runs[0] / name).is_file(), name
    return cast(dict[str, Any], verdict)
