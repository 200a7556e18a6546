"""The watch snapshot model and its terminal view, without a lab."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lab.errors import PrometheusError
from lab.metrics.prom import PrometheusClient, Sample
from lab.wait import free_port
from lab.watch import Snapshot, Watcher
from lab.watch_view import render, sparkline


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
