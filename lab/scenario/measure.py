"""Per-phase measures from Prometheus ``lab:`` rules, averaged over a steady window.

A phase is measured from the last change in it (load, scale, fault) plus ``settle``
seconds, to its end: the 10-second rules need that long to forget the previous regime.
A window too short to average falls back to the rule's value at the end. ``Measurer``
is the real ``lab.scenario.ports.Metrics``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from lab import rules
from lab.errors import PrometheusError
from lab.metrics.prom import PrometheusClient

log = logging.getLogger(__name__)

RULES = {
    "rps": rules.API_RPS,
    "p50": rules.API_P50,
    "p95": rules.API_P95,
    "p99": rules.API_P99,
    "error_ratio": rules.API_ERROR_RATIO,
    "users": rules.LOCUST_USERS,  # what the load generator ran, not what was asked
    "client_rps": rules.LOCUST_RPS,
    "client_p95": rules.LOCUST_P95,
    "client_fail_ratio": rules.LOCUST_FAILURE_RATIO,
    "cpu_api": f'{rules.PROCESS_CPU}{{service="api"}}',
}
_API = 'job="api",route!~"/metrics|/healthz|/readyz"'


def _mean(histogram: str, labels: str) -> str:
    return (
        f"sum(increase({histogram}_sum{{{labels}}}[{{w}}]))"
        f" / sum(increase({histogram}_count{{{labels}}}[{{w}}]))"
    )


def _quantile(q: float) -> str:
    return (
        f"histogram_quantile({q}, sum by (le) "
        f"(increase(shop_http_request_duration_seconds_bucket{{{_API}}}[{{w}}])))"
    )


# Measures over exactly the window (``{w}``: its length), evaluated at its end, never an
# average of a 10 s rule (whose first seconds still hold the previous regime, and whose
# rolling p95s do not average to a p95): Little's law needs L, λ and W over the same
# seconds, a phase's p95 is that of its own answers, arrival counts are totals.
# A key here that is also in RULES reads the rule when there is no window.
_LATENCY = "shop_http_request_duration_seconds"
_SLOT_WAIT = "shop_concurrency_wait_seconds"
_JOB_API = 'job="api"'
WINDOW_EXPRS = {
    "rps": f"sum(rate(shop_http_requests_total{{{_API}}}[{{w}}]))",
    "p50": _quantile(0.5),
    "p95": _quantile(0.95),
    "p99": _quantile(0.99),
    # Little's L: the time integral of the requests inside each replica (advanced at every
    # arrival and departure, and at the scrape), so its rate is the exact average
    "in_flight": 'sum(rate(shop_http_in_flight_seconds_total{job="api"}[{w}]))',
    "mean_latency": _mean(_LATENCY, _API),
    # 5xx ÷ all answers over the window itself: the 10 s rule's average would still hold
    # the seconds before a fault began (a 20 % fault read as 7 % after a 3 s settle)
    "error_ratio": (
        f'(sum(increase(shop_http_requests_total{{{_API},status=~"5.."}}[{{w}}])) or vector(0))'
        f" / sum(increase(shop_http_requests_total{{{_API}}}[{{w}}]))"
    ),
    # the time a request holds a work slot: its latency less its wait for the slot
    "service_time": f"({_mean(_LATENCY, _API)}) - ({_mean(_SLOT_WAIT, _JOB_API)})",
    # the client's own clock (Locust's response times, closed loop: from the send)
    "client_mean_latency": _mean("locust_request_duration_seconds", 'job="locust"'),
    # goodput: answers < 500 within the SLO, per second (shop_http_requests_good_total)
    "goodput": f"sum(rate(shop_http_requests_good_total{{{_API}}}[{{w}}]))",
    # refused by admission control (a fast 503), per second
    "shed": 'sum(rate(shop_shed_requests_total{job="api"}[{w}])) or vector(0)',
    # attempts per call of the dependency retried most (1: no retries)
    "amplification": (
        'max(sum by (dependency) (increase(shop_dependency_attempts_total{job="api"}[{w}]))'
        ' / (sum by (dependency) (increase(shop_dependency_calls_total{job="api"}[{w}])) > 0))'
    ),
    # saturation (the USE method): connections in use ÷ the pool, sampled every scrape;
    # busy slots by Little's law (requests inside less those waiting for a slot) ÷ the slots
    "pool_use": (
        'sum(avg_over_time(shop_db_pool_in_use{job="api"}[{w}]))'
        ' / sum(avg_over_time(shop_db_pool_max_size{job="api"}[{w}]))'
    ),
    "slot_use": (
        'clamp_min(sum(rate(shop_http_in_flight_seconds_total{job="api"}[{w}]))'
        f" - sum(rate({_SLOT_WAIT}_sum{{{_JOB_API}}}[{{w}}])), 0)"
        ' / sum(avg_over_time(shop_concurrency_limit{job="api"}[{w}]))'
    ),
    # database product reads per product lookup (hit, miss or bypass): 1 without a cache,
    # 1 − hit ratio with one, under 1 − hit ratio when single-flight shares reads
    "db_reads_per_read": 'sum(increase(shop_db_product_reads_total{job="api"}[{w}]))'
    ' / sum(increase(shop_cache_requests_total{job="api"}[{w}]))',
    "late": 'sum(increase(locust_arrivals_total{job="locust",outcome="late"}[{w}]))',
    "dropped": 'sum(increase(locust_arrivals_total{job="locust",outcome="dropped"}[{w}]))',
}
MIN_WINDOW_S = 2.0


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def steady_window(phase_start: float, last_change: float, settle: float, end: float) -> Window:
    """The part of a phase worth measuring: from ``settle`` s after the last change (an
    empty window at ``end`` when the phase ended sooner: then a measure is its value now)."""
    return Window(min(max(phase_start, last_change + settle), end), end)


def clean(value: float | None) -> float | None:
    """NaN and infinities (empty histograms, 0/0) are "no data"; the rest to 6 digits."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, 6)


class Measurer:
    def __init__(self, prom: PrometheusClient) -> None:
        self.prom = prom

    def rule(self, key: str, window: Window | None = None) -> float | None:
        """A ``WINDOW_EXPRS`` measure over exactly ``window``, evaluated at its end (None
        without one, unless ``RULES`` has the key: then its value now); else the rule's
        average over ``window`` ending now, or its value now."""
        if key in WINDOW_EXPRS and window is not None and window.seconds >= MIN_WINDOW_S:
            expr = WINDOW_EXPRS[key].replace("{w}", f"{round(window.seconds)}s")
            return self.expr(expr, at=window.end)
        if key not in RULES:
            return None
        seconds = 0.0 if window is None else time.time() - window.start
        rule = RULES[key]
        if seconds >= MIN_WINDOW_S:
            expr = f"max(avg_over_time({rule}[{round(seconds)}s]))"
        else:
            expr = f"max({rule})"
        return self.expr(expr)

    def replicas(self, window: Window | None = None) -> dict[str, int]:
        """Healthy instances per service, averaged over ``window`` and rounded."""
        seconds = 0.0 if window is None else time.time() - window.start
        if seconds >= MIN_WINDOW_S:
            expr = f"avg_over_time({rules.SERVICE_REPLICAS}[{round(seconds)}s])"
        else:
            expr = rules.SERVICE_REPLICAS
        try:
            samples = self.prom.query(expr)
        except PrometheusError as exc:
            log.warning("query failed: %s: %s", expr, exc)
            return {}
        return {
            s.labels["job"]: round(s.value)
            for s in samples
            if "job" in s.labels and clean(s.value) is not None
        }

    def expr(self, expr: str, at: float | None = None) -> float | None:
        """The value of ``expr`` now (or ``at``); None when it has no data or Prometheus
        hiccups (a measurement gap must not abort a run: the check that needs it fails)."""
        try:
            return clean(self.prom.scalar(expr, at))
        except PrometheusError as exc:
            log.warning("query failed: %s: %s", expr, exc)
            return None

    def holds(self, expr: str) -> bool:
        """A PromQL condition holds when it returns a sample (comparisons filter)."""
        return self.prom.scalar(expr) is not None
