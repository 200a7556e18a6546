"""`lab watch` and `lab open` through a subprocess against a real lab, plus the snapshot model.

The live tests share the session's native lab (tests/conftest.py) and send real traffic
through its load balancer, so the numbers `lab watch` prints come from real recording rules.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from lab.annotations import GrafanaAnnotator, grafana_access
from lab.events import Event
from lab.lab import Lab
from lab.metrics.prom import PrometheusClient
from tests.labtools import LabHome, Traffic, make_home, wait_until

LAB = [sys.executable, "-m", "lab.cli"]


def lab_cli(home: LabHome, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LAB, *args],
        env=home.env(COLUMNS="100"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.procs
def test_watch_once_prints_real_numbers_after_traffic(
    running_lab: Lab, shared_home: LabHome
) -> None:
    prom = PrometheusClient(running_lab.runtime.endpoint("prometheus").url)
    try:
        with Traffic(running_lab.runtime.endpoint("lb").url, max_seconds=30) as traffic:
            assert wait_until(lambda: (prom.scalar("lab:api_requests:rate10s") or 0) > 5, 20)
            assert wait_until(
                lambda: prom.scalar("lab:api_latency_seconds:p95_10s") is not None, 10
            )
            done = lab_cli(shared_home, "watch", "--once")
    finally:
        prom.close()
    assert traffic.ok > 0 and traffic.failures == []
    assert done.returncode == 0, done.stderr
    out = done.stdout
    rps = re.search(r"req/s\s+([\d,.]+) API", out)
    assert rps is not None, out
    assert float(rps.group(1).replace(",", "")) > 0
    p95 = re.search(r"p95 ([\d,]+) ms", out)
    assert p95 is not None, out
    assert 0 < int(p95.group(1).replace(",", "")) < 10_000
    assert re.search(r"\bapi 2\b", out), out
    assert re.search(r"\bworker 2\b", out), out
    assert "SLO 250 ms" in out


@pytest.mark.procs
def test_open_json_gives_the_lb_url(running_lab: Lab, shared_home: LabHome) -> None:
    done = lab_cli(shared_home, "open", "--json")
    assert done.returncode == 0, done.stderr
    links = json.loads(done.stdout)
    lb = running_lab.runtime.endpoint("lb").url
    assert links["lb"] == lb
    assert links["api_docs"] == f"{lb}/docs"
    assert links["prometheus"] == running_lab.runtime.endpoint("prometheus").url
    assert links["grafana"] is None and "Docker" in links["grafana_note"]


@pytest.mark.e2e
def test_watch_without_a_lab_says_so_and_fails() -> None:
    home = make_home()
    try:
        done = lab_cli(home, "watch", "--once")
    finally:
        shutil.rmtree(home.home.parent, ignore_errors=True)
    assert done.returncode != 0
    assert done.stdout == ""
    assert "error:" in done.stderr and "lab up" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.procs
def test_annotations_without_grafana_cost_nothing(running_lab: Lab) -> None:
    """Natively there is no Grafana: the annotator must neither raise nor wait."""
    annotator = GrafanaAnnotator(lambda: grafana_access(running_lab.runtime))
    started = time.monotonic()
    for n in range(20):
        annotator.on_event(Event(kind="scale", message=f"scale api {n}", tags=("scale", "api")))
    assert time.monotonic() - started < 1.0
