"""`lab watch` and `lab open` through a subprocess against a real lab, plus the snapshot model.

The live tests share the session's native lab (tests/conftest.py) and send real traffic
through its load balancer, so the numbers `lab watch` prints come from real recording rules.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import time

import pytest
from rich.console import Console

from lab.annotations import GrafanaAnnotator, grafana_access
from lab.errors import PrometheusError
from lab.events import Event
from lab.lab import Lab
from lab.metrics.prom import PrometheusClient, Sample
from lab.wait import free_port
from lab.watch import Snapshot, Watcher
from lab.watch_view import render, sparkline
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


def test_unreachable_prometheus_is_one_clear_error() -> None:
    watcher = Watcher(PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout=1))
    with pytest.raises(PrometheusError) as raised:
        watcher.check()
    assert raised.value.hint is not None and "lab up" in raised.value.hint


def test_snapshot_reads_rules_by_name_and_label() -> None:
    def rule(name: str, value: float, **labels: str) -> Sample:
        return Sample({"__name__": name, **labels}, value)

    snap = Snapshot.from_samples(
        [
            rule("lab:api_requests:rate10s", 120.0),
            rule("lab:api_latency_seconds:p95_10s", 0.3),
            rule("lab:api_latency_seconds:p99_10s", float("nan")),
            rule("lab:service_replicas:up", 3, job="api"),
            rule("lab:service_replicas:up", 2, job="worker"),
            rule("lab:process_cpu:rate10s", 0.5, service="api"),
        ],
        t=0.0,
    )
    assert snap.rps == 120.0 and snap.p95 == 0.3
    assert snap.p99 is None  # NaN (no requests in the window) is "no data"
    assert snap.replicas == {"api": 3, "worker": 2}
    assert snap.cpu == {"api": 0.5}
    assert snap.client is None  # no Locust running

    console = Console(record=True, width=100, file=io.StringIO(), color_system="standard")
    console.print(render(snap, [1, 2, 3], slo=0.25, source="test"))
    text = console.export_text(clear=False)
    assert "120.0 API" in text and "p95 300 ms" in text and "api 3" in text
    assert "SLO 250 ms" in text
    assert "\x1b[1;31m300 ms" in console.export_text(styles=True)  # over the SLO: bold red


def test_sparkline_scales_to_its_maximum() -> None:
    assert sparkline([0, 5, 10]) == "▁▄█"
    assert sparkline([0, 0]) == "▁▁"
    assert len(sparkline(range(200), width=60)) == 60


def test_watch_shows_server_and_client_p95_side_by_side_and_dropped_arrivals() -> None:
    def rule(name: str, value: float) -> Sample:
        return Sample({"__name__": name}, value)

    snap = Snapshot.from_samples(
        [
            rule("lab:api_latency_seconds:p95_10s", 0.18),
            rule("lab:locust_users", 50),
            rule("lab:locust_latency_hdr_seconds:p95_10s", 0.41),
            rule("lab:locust_arrivals_late:rate10s", 3.5),
            rule("lab:locust_arrivals_dropped:rate10s", 1.25),
        ],
        t=0.0,
    )
    assert snap.client is not None and snap.client.hdr_p95 == 0.41
    console = Console(record=True, width=120, file=io.StringIO(), color_system="standard")
    console.print(render(snap, [], slo=0.25, source="test"))
    text = console.export_text(clear=False)
    assert "server 180 ms   client (HDR) 410 ms" in text
    assert "arrivals late/s 3.5" in text and "dropped/s 1.2" in text

    quiet = Snapshot.from_samples([rule("lab:locust_users", 5)], t=0.0)
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(render(quiet, [], slo=0.25, source="test"))
    assert "dropped/s" not in console.export_text()
