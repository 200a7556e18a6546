"""The knob check: a running lab must have the knobs the scenario asks for, or its
numbers lie (a replica with twice the concurrency has twice the capacity).

The running values come from the services' own gauges: ``shop_concurrency_limit``,
``shop_work_seconds``, ``shop_work_mode{mode=...}`` (1 for the mode in use),
``shop_cache_ttl_seconds``, ``shop_cache_single_flight``, ``shop_db_query_cost_seconds``,
``shop_db_work_mode{mode=...}``, ``shop_db_pool_max_size``, ``shop_pg_max_connections``
(API) and ``shop_worker_work_seconds`` (worker). A gauge with no data (a service that does
not export it yet, no worker running) is not a mismatch: only a value that is there and
differs is.
"""

from __future__ import annotations

from lab.scenario.ports import Metrics
from lab.settings import Settings

WORK_MODES = ("io", "cpu")
TOLERANCE_S = 0.0005  # half a millisecond: the gauges are floats
DEFAULT_POOL_CAP = 40  # shop_api.config: db_pool_size 0 means concurrency + 4, at most 40


def pool_size(wanted: Settings) -> int:
    """The connections per replica ``wanted`` gives (its 0 means the services' default)."""
    return wanted.db_pool_size or min(wanted.api_concurrency + 4, DEFAULT_POOL_CAP)


def mismatches(metrics: Metrics, wanted: Settings) -> list[str]:
    """What differs between the running lab and ``wanted`` (the scenario's settings), as
    phrases: ``an API concurrency of 8 (needs 4)``."""
    found: list[str] = []
    counts = (
        ("shop_concurrency_limit", wanted.api_concurrency, "an API concurrency of {}"),
        ("shop_db_pool_max_size", pool_size(wanted), "a DB pool of {} per replica"),
        ("shop_pg_max_connections", wanted.pg_max_connections, "a Postgres max_connections of {}"),
    )
    for gauge, needed_count, phrase in counts:
        value = metrics.expr(f"max({gauge})")
        if value is not None and int(value) != needed_count:
            found.append(f"{phrase.format(int(value))} (needs {needed_count})")
    single = metrics.expr("max(shop_cache_single_flight)")
    if single is not None and (single >= 1) != wanted.cache_single_flight:
        found.append(
            f"cache single-flight {_on_off(single >= 1)}"
            f" (needs {_on_off(wanted.cache_single_flight)})"
        )
    for gauge, what, needed_mode in (
        ("shop_work_mode", "API work mode", wanted.api_work),
        ("shop_db_work_mode", "DB work mode", wanted.db_work),
    ):
        mode = _mode(metrics, gauge)
        if mode is not None and mode != needed_mode:
            found.append(f"{what} {mode} (needs {needed_mode})")
    checks = (
        ("shop_work_seconds", wanted.api_work_ms / 1000, "ms of work per API request"),
        ("shop_db_query_cost_seconds", wanted.db_query_ms / 1000, "ms of DB cost per miss"),
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


def _on_off(on: bool) -> str:
    return "on" if on else "off"


def _mode(metrics: Metrics, gauge: str) -> str | None:
    for mode in WORK_MODES:
        value = metrics.expr(f'max({gauge}{{mode="{mode}"}})')
        if value is not None and value >= 1:
            return mode
    return None
