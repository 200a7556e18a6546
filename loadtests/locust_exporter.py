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
    locust_latency_hdr_seconds{quantile}               exact quantiles of the last 10 s (HDR)
    locust_arrivals_total{outcome}                     open loop: on_time, late, dropped

Latency is what the user waited: from the arrival's *intended* send time in an open loop
(loadtests/arrivals.py; the request's context carries it), from the send otherwise.
``GET /hdr?start=UNIX&end=UNIX`` on the same port answers the exact quantiles of any
range of whole seconds (JSON), so a run's phases get true percentiles afterwards.

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
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from arrivals import SCHEDULE, ArrivalCounts
from gevent.pywsgi import WSGIServer
from latency_window import LatencyWindow
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
HDR_KEY = "prodlab_client_hdr"
ARRIVALS_KEY = "prodlab_client_arrivals"
LIVE_WINDOW_S = 10
QUANTILES = (0.5, 0.95, 0.99, 0.999)


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

    def __init__(
        self,
        environment: Environment,
        counts: Counts,
        window: LatencyWindow,
        arrivals: Callable[[], dict[str, int]],
    ) -> None:
        self.environment = environment
        self.counts = counts
        self.window = window
        self.arrivals = arrivals

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
        # a summary (quantiles + count) is the exposition type for precomputed quantiles
        hdr = Metric(
            "locust_latency_hdr_seconds",
            f"Exact client latency quantiles over the last {LIVE_WINDOW_S} s (HDR histogram)",
            "summary",
        )
        now = time.time()
        count, quantiles = self.window.quantiles(now - LIVE_WINDOW_S, now + 1, QUANTILES)
        for q, value in quantiles.items():
            hdr.add_sample("locust_latency_hdr_seconds", {"quantile": repr(q)}, value)
        hdr.add_sample("locust_latency_hdr_seconds_count", {}, float(count))
        yield hdr
        arrivals = CounterMetricFamily(
            "locust_arrivals", "Open-loop arrivals by outcome", labels=["outcome"]
        )
        for outcome, total in self.arrivals().items():
            arrivals.add_metric([outcome], float(total))
        yield arrivals


def _le(bound: float) -> str:
    return repr(float(bound))


class Exporter:
    """The wiring: which counts a process keeps, and where they go."""

    def __init__(self) -> None:
        self.counts: Counts | None = None
        self.window = LatencyWindow()
        self.arrivals = ArrivalCounts()  # the master's totals from its workers
        self.arrivals_sent = ArrivalCounts()  # a worker's counts already reported
        self.is_worker = False
        self.is_master = False
        self.server: WSGIServer | None = None

    def on_init(self, environment: Environment, **_: Any) -> None:
        slo = float(os.environ.get("LAB_SLO_SECONDS") or 0.25)
        self.counts = Counts(buckets_with(slo))
        self.is_worker = isinstance(environment.runner, WorkerRunner)
        self.is_master = isinstance(environment.runner, runners.MasterRunner)
        port = int(os.environ.get("LAB_LOCUST_METRICS_PORT") or 0)
        if self.is_worker or port == 0:
            return
        host = os.environ.get("LAB_BIND_HOST") or "127.0.0.1"
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LocustCollector(environment, self.counts, self.window, self.totals))
        app = with_hdr_route(make_wsgi_app(registry), self.window)
        self.server = WSGIServer((host, port), app, log=None)
        self.server.start()  # raises if the port is taken: the driver reports it with the log
        log.info("client metrics on http://%s:%d/metrics", host, port)

    def totals(self) -> dict[str, int]:
        """Arrival outcomes of the whole load generator."""
        return self.arrivals.as_dict() if self.is_master else SCHEDULE.counts.as_dict()

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        exception: BaseException | None,
        context: dict[str, Any] | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        if self.counts is None:
            return
        seconds = (response_time or 0.0) / 1000.0
        intended = (context or {}).get("intended")
        if intended is not None and start_time is not None:
            seconds += max(0.0, start_time - float(intended))  # waited for a free user
        self.counts.observe(name, request_type, seconds, exception is not None)
        self.window.record(time.time(), seconds)

    def on_report_to_master(self, data: dict[str, Any], **_: Any) -> None:
        if self.counts is not None:
            data[REPORT_KEY] = self.counts.drain()
        data[HDR_KEY] = self.window.drain()
        now, sent = SCHEDULE.counts.as_dict(), self.arrivals_sent.as_dict()
        data[ARRIVALS_KEY] = {k: now[k] - sent[k] for k in now}
        self.arrivals_sent = ArrivalCounts(**now)

    def on_worker_report(self, data: dict[str, Any], **_: Any) -> None:
        wire = data.get(REPORT_KEY)
        if self.counts is not None and wire:
            self.counts.merge(wire)
        self.window.merge(data.get(HDR_KEY) or ())
        for outcome, delta in (data.get(ARRIVALS_KEY) or {}).items():
            if outcome in ("on_time", "late", "dropped"):
                setattr(self.arrivals, outcome, getattr(self.arrivals, outcome) + int(delta))

    def on_quit(self, **_: Any) -> None:
        if self.server is not None:
            self.server.stop(timeout=1)
            self.server = None


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_hdr_route(metrics: WsgiApp, window: LatencyWindow) -> WsgiApp:
    """``/hdr?start=&end=[&q=0.5,0.95]``: exact quantiles of a range; anything else: metrics."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/hdr":
            return metrics(environ, start_response)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            start = float(query["start"][0])
            end = float(query["end"][0])
            wanted = [
                float(q) for q in query.get("q", [",".join(map(str, QUANTILES))])[0].split(",")
            ]
            if not all(0 < q < 1 for q in wanted) or end <= start:
                raise ValueError("need 0 < q < 1 and end > start")
        except (KeyError, ValueError) as exc:
            body = json.dumps({"error": "bad_request", "reason": f"start, end, q: {exc}"})
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [body.encode()]
        count, quantiles = window.quantiles(start, end, wanted)
        body = json.dumps({"count": count, "quantiles": {repr(q): v for q, v in quantiles.items()}})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]

    return app


EXPORTER = Exporter()
events.init.add_listener(EXPORTER.on_init)
events.request.add_listener(EXPORTER.on_request)
events.report_to_master.add_listener(EXPORTER.on_report_to_master)
events.worker_report.add_listener(EXPORTER.on_worker_report)
events.quit.add_listener(EXPORTER.on_quit)
