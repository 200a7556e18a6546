"""The knob check: a running lab must have the knobs the scenario asks for, or its
numbers lie (a replica with twice the concurrency has twice the capacity).

The running values come from the services' own gauges: ``shop_concurrency_limit``,
``shop_work_seconds``, ``shop_work_mode{mode=...}`` (1 for the mode in use),
``shop_cache_ttl_seconds`` (API) and ``shop_worker_work_seconds`` (worker). A gauge with
no data (a service that does not export it yet, no worker running) is not a mismatch:
only a value that is there and differs is.
"""

from __future__ import annotations

from lab.scenario.ports import Metrics
from lab.settings import Settings

WORK_MODES = ("io", "cpu")
TOLERANCE_S = 0.0005  # half a millisecond: the gauges are floats


def mismatches(metrics: Metrics, wanted: Settings) -> list[str]:
    """What differs between the running lab and ``wanted`` (the scenario's settings), as
    phrases: ``an API concurrency of 8 (needs 4)``."""
    found: list[str] = []
    limit = metrics.expr("max(shop_concurrency_limit)")
    if limit is not None and int(limit) != wanted.api_concurrency:
        found.append(f"an API concurrency of {int(limit)} (needs {wanted.api_concurrency})")
    mode = _work_mode(metrics)
    if mode is not None and mode != wanted.api_work:
        found.append(f"API work mode {mode} (needs {wanted.api_work})")
    checks = (
        ("shop_work_seconds", wanted.api_work_ms / 1000, "ms of work per API request"),
        ("shop_cache_ttl_seconds", wanted.cache_ttl_s, "s of cache TTL"),
        ("shop_worker_work_seconds", wanted.worker_work_ms / 1000, "ms of work per order"),
    )
    for gauge, needed, what in checks:
        value = metrics.expr(f"max({gauge})")
        if value is None or abs(value - needed) <= TOLERANCE_S:
            continue
        scale = 1000 if what.startswith("ms") else 1
        found.append(f"{value * scale:g} {what} (needs {needed * scale:g})")
    return found


def _work_mode(metrics: Metrics) -> str | None:
    for mode in WORK_MODES:
        value = metrics.expr(f'max(shop_work_mode{{mode="{mode}"}})')
        if value is not None and value >= 1:
            return mode
    return None
