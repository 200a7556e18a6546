"""The ``lab-data`` dashboard: Lab data stores."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from lab.dashboards import panels
from lab.dashboards.panels import Q

UID = "lab-data"


def build() -> Dashboard:
    return panels.board(
        UID,
        "Lab data stores",
        (
            "PostgreSQL (postgres_exporter), Redis (redis_exporter) "
            "and the API's own view of its queries."
        ),
        [
            ("PostgreSQL", postgresql()),
            ("API queries", api_queries()),
            ("Redis", redis()),
        ],
    )


def postgresql() -> list[panels.Panel]:
    return [
        panels.stat(
            "Postgres up",
            Q("max(pg_up)", "up"),
            steps=panels.UP,
        ),
        panels.stat(
            "Backends",
            Q('sum(pg_stat_database_numbackends{datname="shop"})', "backends"),
        ),
        panels.stat(
            "max_connections",
            Q("max(pg_settings_max_connections)", "max"),
        ),
        panels.stat(
            "Database size",
            Q('sum(pg_database_size_bytes{datname="shop"})', "size"),
            unit="bytes",
        ),
        panels.stat(
            "Redis up",
            Q("max(redis_up)", "up"),
            steps=panels.UP,
        ),
        panels.stat(
            "Redis keys",
            Q("sum(redis_db_keys)", "keys"),
        ),
        panels.timeseries(
            "Transactions/s",
            "",
            Q(
                'sum(rate(pg_stat_database_xact_commit{datname="shop"}[$__rate_interval]))',
                "commits",
            ),
            Q(
                'sum(rate(pg_stat_database_xact_rollback{datname="shop"}[$__rate_interval]))',
                "rollbacks",
            ),
            unit="reqps",
        ),
        panels.timeseries(
            "Rows/s",
            "",
            Q(
                'sum(rate(pg_stat_database_tup_fetched{datname="shop"}[$__rate_interval]))',
                "fetched",
            ),
            Q(
                'sum(rate(pg_stat_database_tup_inserted{datname="shop"}[$__rate_interval]))',
                "inserted",
            ),
            Q(
                'sum(rate(pg_stat_database_tup_updated{datname="shop"}[$__rate_interval]))',
                "updated",
            ),
        ),
        panels.timeseries(
            "Connections by state",
            "",
            Q('sum by (state) (pg_stat_activity_count{datname="shop"})', "{{state}}"),
            stack=True,
        ),
        panels.timeseries(
            "Buffer cache hit ratio",
            "Pages found in shared_buffers. Empty when idle.",
            Q(
                (
                    "sum(rate("
                    'pg_stat_database_blks_hit{datname="shop"}[$__rate_interval])) '
                    "/ (sum(rate("
                    'pg_stat_database_blks_hit{datname="shop"}[$__rate_interval])) '
                    "+ sum(rate("
                    'pg_stat_database_blks_read{datname="shop"}[$__rate_interval])))'
                ),
                "hit ratio",
            ),
            unit="percentunit",
            max_value=1,
        ),
        panels.timeseries(
            "Locks by mode",
            "",
            Q('sum by (mode) (pg_locks_count{datname="shop"})', "{{mode}}"),
        ),
        panels.timeseries(
            "Deadlocks and temp files",
            "",
            Q(('sum(increase(pg_stat_database_deadlocks{datname="shop"}[1m]))'), "deadlocks / min"),
            Q(
                'sum(increase(pg_stat_database_temp_files{datname="shop"}[1m]))',
                "temp files / min",
            ),
        ),
    ]


def api_queries() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Query latency p95 by query",
            "",
            Q(
                (
                    "histogram_quantile(0.95, sum by (query, le) (rate("
                    "shop_db_query_duration_seconds_bucket[$__rate_interval])))"
                ),
                "{{query}}",
            ),
            unit="s",
        ),
        panels.timeseries(
            "Queries/s by query",
            "",
            Q(
                "sum by (query) (rate(shop_db_query_duration_seconds_count[$__rate_interval]))",
                "{{query}}",
            ),
            unit="reqps",
            stack=True,
        ),
    ]


def redis() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Commands/s by command",
            "",
            Q("sum by (cmd) (rate(redis_commands_total[$__rate_interval]))", "{{cmd}}"),
            unit="reqps",
            stack=True,
        ),
        panels.timeseries(
            "Keyspace hits and misses per s",
            "Redis' own count; compare with the API's cache hit ratio on the overview.",
            Q("sum(rate(redis_keyspace_hits_total[$__rate_interval]))", "hits"),
            Q("sum(rate(redis_keyspace_misses_total[$__rate_interval]))", "misses"),
            unit="reqps",
        ),
        panels.timeseries(
            "Memory",
            "",
            Q("sum(redis_memory_used_bytes)", "used"),
            Q("sum(redis_memory_used_rss_bytes)", "RSS"),
            unit="bytes",
        ),
        panels.timeseries(
            "Clients, expired and evicted keys",
            "",
            Q("sum(redis_connected_clients)", "clients"),
            Q("sum(rate(redis_expired_keys_total[$__rate_interval]))", "expired / s"),
            Q("sum(rate(redis_evicted_keys_total[$__rate_interval]))", "evicted / s"),
        ),
    ]
