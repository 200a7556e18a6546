"""Client-side metrics for Prometheus, exported by the Locust master (or a lone local runner).

Import this module from a locustfile; it hooks Locust's events:

* every process that runs users counts its requests on the ``request`` event, per
  ``(name, method)``: requests, failures and a latency histogram;
* a worker ships what it counted since its last report to the master inside its regular
  stats report (``report_to_master``), and the master adds it up (``worker_report``);
  a local runner (no workers) counts straight into the totals;
* the master serves the totals on ``/metrics`` from its own small WSGI server.

So one scrape target describes the whole load generator, however many worker processes
run (``--processes N`` or ``--worker`` on other machines). The counters only ever grow for
the life of the master; Locust's own stats resets do not touch them.

Metric names (docs/contracts.md):

    locust_users                                       users running now
    locust_requests_total{name,method}                 requests sent (failures included)
    locust_failures_total{name,method}                 failed requests
    locust_request_duration_seconds{name,method}       histogram; one bucket sits on the SLO

Environment (read when Locust initialises, not at import):

    LAB_LOCUST_METRICS_PORT   port of /metrics on the master; unset or 0: no exporter
    LAB_BIND_HOST             address it listens on (default 127.0.0.1)
    LAB_SLO_SECONDS           latency SLO; a histogram bucket is placed exactly on it (0.25)

Reporting cadence, tuned for the lab: workers report every second (Locust's default is
3 s) so the client-side series move in step with Prometheus' 1 s scrapes, the CSV files
are flushed every second (default 5 s) so a run bundle copied right after the load
stops is complete, and ``/stats/requests`` carries p99 as well as p50 and p95.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from gevent.pywsgi import WSGIServer
from locust import events, runners, stats
from locust.env import Environment
from locust.runners import WorkerRunner
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

runners.WORKER_REPORT_INTERVAL = 1.0
stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1
stats.PERCENTILES_TO_CHART = [0.5, 0.95, 0.99]  # so /stats/requests carries p99 too

BASE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75)
BASE_BUCKETS += (1.0, 1.5, 2.0, 2.5, 5.0, 10.0)
REPORT_KEY = "prodlab_client_metrics"


def buckets_with(slo: float) -> tuple[float, ...]:
    """The histogram's upper bounds (without +Inf), one of them exactly ``slo``."""
    return tuple(sorted({*BASE_BUCKETS, slo}))


class Series:
    """Counts for one ``(name, method)``: requests, failures, latency sum and buckets."""

    __slots__ = ("buckets", "failures", "requests", "total_seconds")

    def __init__(self, size: int) -> None:
        self.requests = 0
        self.failures = 0
        self.total_seconds = 0.0
        self.buckets = [0] * size  # per bucket, not cumulative; the last one is +Inf

    def copy(self) -> Series:
        twin = Series(0)
        twin.requests, twin.failures = self.requests, self.failures
        twin.total_seconds, twin.buckets = self.total_seconds, list(self.buckets)
        return twin

    def to_wire(self) -> list[Any]:
        return [self.requests, self.failures, self.total_seconds, self.buckets]

    def add_wire(self, wire: list[Any]) -> None:
        requests, failures, total_seconds, buckets = wire
        self.requests += int(requests)
        self.failures += int(failures)
        self.total_seconds += float(total_seconds)
        for i, count in enumerate(buckets):
            self.buckets[i] += int(count)


class Counts:
    """Per ``(name, method)`` series, safe to read from the scrape handler."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self._series: dict[tuple[str, str], Series] = {}
        self._lock = threading.Lock()

    def observe(self, name: str, method: str, seconds: float, failed: bool) -> None:
        with self._lock:
            series = self._get(name, method)
            series.requests += 1
            series.failures += int(failed)
            series.total_seconds += seconds
            series.buckets[bisect.bisect_left(self.bounds, seconds)] += 1

    def drain(self) -> list[list[Any]]:
        """What was counted since the last drain, as msgpack-friendly lists; then forget it."""
        with self._lock:
            wire = [[name, method, *s.to_wire()] for (name, method), s in self._series.items()]
            self._series = {}
        return wire

    def merge(self, wire: list[list[Any]]) -> None:
        with self._lock:
            for name, method, *rest in wire:
                if len(rest[3]) != len(self.bounds) + 1:
                    log.warning("dropping client metrics with other buckets (LAB_SLO_SECONDS?)")
                    continue
                self._get(str(name), str(method)).add_wire(rest)

    def snapshot(self) -> list[tuple[str, str, Series]]:
        with self._lock:
            return [(n, m, s.copy()) for (n, m), s in sorted(self._series.items())]

    def _get(self, name: str, method: str) -> Series:
        series = self._series.get((name, method))
        if series is None:
            series = self._series[(name, method)] = Series(len(self.bounds) + 1)
        return series


class LocustCollector(Collector):
    """Turns the master's totals into Prometheus metric families at scrape time."""

    def __init__(self, environment: Environment, counts: Counts) -> None:
        self.environment = environment
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        runner = self.environment.runner
        users = GaugeMetricFamily("locust_users", "Users running now (all workers)")
        users.add_metric([], float(runner.user_count if runner is not None else 0))
        yield users
        labels = ["name", "method"]
        requests = CounterMetricFamily(
            "locust_requests", "Requests sent, failures included", labels=labels
        )
        failures = CounterMetricFamily("locust_failures", "Requests that failed", labels=labels)
        latency = HistogramMetricFamily(
            "locust_request_duration_seconds", "Response time seen by the client", labels=labels
        )
        bounds = [*(_le(b) for b in self.counts.bounds), "+Inf"]
        for name, method, series in self.counts.snapshot():
            requests.add_metric([name, method], series.requests)
            failures.add_metric([name, method], series.failures)
            cumulative, running = [], 0
            for bound, count in zip(bounds, series.buckets, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            latency.add_metric([name, method], cumulative, series.total_seconds)
        yield from (requests, failures, latency)


def _le(bound: float) -> str:
    return repr(float(bound))


class Exporter:
    """The wiring: which counts a process keeps, and where they go."""

    def __init__(self) -> None:
        self.counts: Counts | None = None
        self.is_worker = False
        self.server: WSGIServer | None = None

    def on_init(self, environment: Environment, **_: Any) -> None:
        slo = float(os.environ.get("LAB_SLO_SECONDS") or 0.25)
        self.counts = Counts(buckets_with(slo))
        self.is_worker = isinstance(environment.runner, WorkerRunner)
        port = int(os.environ.get("LAB_LOCUST_METRICS_PORT") or 0)
        if self.is_worker or port == 0:
            return
        host = os.environ.get("LAB_BIND_HOST") or "127.0.0.1"
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LocustCollector(environment, self.counts))
        self.server = WSGIServer((host, port), make_wsgi_app(registry), log=None)
        self.server.start()  # raises if the port is taken: the driver reports it with the log
        log.info("client metrics on http://%s:%d/metrics", host, port)

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        exception: BaseException | None,
        **_: Any,
    ) -> None:
        if self.counts is not None:
            seconds = (response_time or 0.0) / 1000.0
            self.counts.observe(name, request_type, seconds, exception is not None)

    def on_report_to_master(self, data: dict[str, Any], **_: Any) -> None:
        if self.counts is not None:
            data[REPORT_KEY] = self.counts.drain()

    def on_worker_report(self, data: dict[str, Any], **_: Any) -> None:
        wire = data.get(REPORT_KEY)
        if self.counts is not None and wire:
            self.counts.merge(wire)

    def on_quit(self, **_: Any) -> None:
        if self.server is not None:
            self.server.stop(timeout=1)
            self.server = None


EXPORTER = Exporter()
events.init.add_listener(EXPORTER.on_init)
events.request.add_listener(EXPORTER.on_request)
events.report_to_master.add_listener(EXPORTER.on_report_to_master)
events.worker_report.add_listener(EXPORTER.on_worker_report)
events.quit.add_listener(EXPORTER.on_quit)
