"""The timeseries a run folder keeps, collected from a real Prometheus after real traffic."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.lab import Lab
from lab.metrics.prom import PrometheusClient
from lab.run.folder import RunFolder
from lab.run.timeseries import COLUMNS, collect, read_timeseries
from tests.labtools import Traffic, wait_until


@pytest.mark.procs
def test_collect_from_a_running_lab(running_lab: Lab, tmp_path: Path) -> None:
    prom = PrometheusClient(running_lab.runtime.endpoint("prometheus").url)
    try:
        with Traffic(running_lab.runtime.endpoint("lb").url, max_seconds=60):
            assert wait_until(lambda: (prom.scalar("lab:api_requests:rate10s") or 0) > 0, 30)
            assert wait_until(lambda: len(prom.query("lab:process_cpu:rate10s")) >= 3, 30)
        end = time.time()
        RunFolder(tmp_path).write_timeseries(collect(prom, end - 20, end, 1.0))
        path = tmp_path / "timeseries.csv"
    finally:
        prom.close()
    series = read_timeseries(path)
    assert len(series.t) == 21 and series.t[0] == pytest.approx(end - 20)
    assert (series.peak("lab:api_requests:rate10s") or 0) > 0
    # the session lab was scaled by earlier tests: within the window, the count settles on 2
    replicas = series.get("lab:api_replicas:up")
    assert replicas is not None and replicas[-1] == running_lab.runtime.replicas()["api"] == 2
    assert {"api", "worker", "postgres"} <= set(series.by_prefix("cpu"))
    assert {"api", "worker", "lb", "prometheus"} <= set(series.by_prefix("replicas"))
    header = path.read_text().splitlines()[0].split(",")
    plain = [c.name for c in COLUMNS if c.by is None]
    assert header[: len(plain) + 1] == ["t", *plain]
