"""`lab scenario scale-out --profile smoke --runtime compose`, end to end, as a user runs it
(the quick profile's lesson with shorter holds: the native test runs `quick`).

On these 2-core machines the compose run sits at the edge of the 3x throughput check
(3.03x and 2.87x in two runs): at four replicas Docker's health-check execs, dockerd and
Locust share the cores with the API. So this test holds the run to what must always be
true — every other check passes, the run folder is complete — and, when the throughput check
fails, requires the verdict to name the resource that saturated, as the report must.
It also holds the client-side view: Locust runs on the host, and its exporter must reach
the Prometheus container (registered through the runtime), so ``timeseries.csv`` has
the ``lab:locust_*`` series all through the load.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lab.lab import Lab
from tests.labtools import (
    CAPACITY_CHECKS,
    RUN_FILES,
    LabHome,
    compose_settings,
    make_home,
    project_leftovers,
)

pytestmark = [pytest.mark.compose, pytest.mark.e2e]

# what 2 cores under Docker may not reach (the load generator and 4 replicas share them)
# Under Compose on 2 cores dockerd, health checks and Locust share the CPU with the replicas:
# the 4-replica ratio, and the single replica's knee against the knobs' prediction, can
# measure the machine rather than the design. Such a miss must name the saturated resource.
MACHINE_BOUND = CAPACITY_CHECKS | {
    # after scale-4 has run the 2 cores full, its queue can still be draining in recover
    "p95 back under the SLO",
    "recover: at a quarter of the capacity p95 is about the 40 ms of work, under the SLO",
}
# timeseries.csv's columns of the client-side rules (lab:locust_users -> locust_users)
CLIENT_COLUMNS = (
    "locust_users",
    "locust_requests_rate10s",
    "locust_failures_ratio10s",
    "locust_latency_seconds_p95_10s",
)


@pytest.fixture
def home() -> Iterator[LabHome]:
    home = make_home()
    try:
        yield home
    finally:
        Lab(compose_settings(home)).runtime.down(volumes=True)
        shutil.rmtree(home.home.parent, ignore_errors=True)


def test_scale_out_smoke_on_compose(home: LabHome) -> None:
    settings = compose_settings(home)
    env = home.env(
        LAB_RUNTIME="compose",
        LAB_COMPOSE_PROJECT=settings.compose_project,
        LAB_GRAFANA_PORT=str(settings.grafana_port),
    )
    done = subprocess.run(
        [sys.executable, "-m", "lab.cli", "scenario", "scale-out", "--profile", "smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    runs = sorted(home.runs.glob("*-scale-out"))
    assert len(runs) == 1, runs
    missing = [name for name in RUN_FILES if not (runs[0] / name).exists()]
    assert not missing
    verdict = json.loads((runs[0] / "verdict.json").read_text())
    assert verdict["runtime"] == "compose"
    assert (verdict["passed"] is True) == (done.returncode == 0)
    failed = [c["name"] for c in verdict["checks"] if not c["passed"]]
    assert set(failed) <= MACHINE_BOUND, failed
    saturation = verdict["saturation"]  # computed on every run
    assert saturation is not None and saturation["detail"], saturation
    if failed:
        assert saturation["resource"], "a check the machine could not reach names a resource"
    scaled = next(p for p in verdict["phases"] if p["name"] == "scale-4")
    assert scaled["replicas"]["api"] == 4
    with (runs[0] / "timeseries.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for column in CLIENT_COLUMNS:
        filled = [row[column] for row in rows if row.get(column)]
        assert len(filled) >= len(rows) // 2, f"{column}: {len(filled)} of {len(rows)} rows"
    # the client saw scale-4's users (the knee search may go higher before it)
    assert max(float(row["locust_users"] or 0) for row in rows) >= scaled["users"] > 0
    assert max(float(row["locust_requests_rate10s"] or 0) for row in rows) > 50
    Lab(settings).runtime.down(volumes=True)
    assert not any(project_leftovers(settings.compose_project).values())
