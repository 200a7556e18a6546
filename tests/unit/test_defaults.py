"""Each default is declared once in lab/defaults.py; every copy the lab cannot import
(the services' own settings, compose.yaml's ``${LAB_X:-default}``) must agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab import defaults
from lab.settings import Settings
from shop_api.config import ApiSettings
from shop_worker.config import WorkerSettings

PROJECT = Path(__file__).resolve().parents[2]

# Settings field -> the default it must have
LAB_FIELDS = {
    "slo_seconds": defaults.SLO_SECONDS,
    "api_replicas": defaults.API_REPLICAS,
    "worker_replicas": defaults.WORKER_REPLICAS,
    "api_work": defaults.API_WORK,
    "api_work_ms": defaults.API_WORK_MS,
    "api_concurrency": defaults.API_CONCURRENCY,
    "cache_ttl_s": defaults.CACHE_TTL_S,
    "cache_single_flight": defaults.CACHE_SINGLE_FLIGHT,
    "db_work": defaults.DB_WORK,
    "db_query_ms": defaults.DB_QUERY_MS,
    "db_pool_size": defaults.DB_POOL_SIZE,
    "pg_max_connections": defaults.PG_MAX_CONNECTIONS,
    "worker_work_ms": defaults.WORKER_WORK_MS,
    "worker_ack_wait_s": defaults.WORKER_ACK_WAIT_S,
    "seed_products": defaults.SEED_PRODUCTS,
    "bind_host": defaults.BIND_HOST,
    "lb_port": defaults.LB_PORT,
    "prometheus_port": defaults.PROMETHEUS_PORT,
    "locust_port": defaults.LOCUST_PORT,
    "grafana_port": defaults.GRAFANA_PORT,
    "api_deadline_ms": defaults.API_DEADLINE_MS,
    "api_retry": defaults.API_RETRY,
    "api_retries": defaults.API_RETRIES,
    "api_retry_budget": defaults.API_RETRY_BUDGET,
    "api_breaker": defaults.API_BREAKER,
    "api_breaker_cooldown_s": defaults.API_BREAKER_COOLDOWN_S,
    "api_queue_timeout_ms": defaults.API_QUEUE_TIMEOUT_MS,
    "api_max_waiters": defaults.API_MAX_WAITERS,
    "orders_max_backlog": defaults.ORDERS_MAX_BACKLOG,
}

# the services' settings (they never import lab): field -> lab default
SERVICE_FIELDS = {
    ApiSettings: (
        "api_work",
        "api_work_ms",
        "api_concurrency",
        "cache_ttl_s",
        "cache_single_flight",
        "db_work",
        "db_query_ms",
        "db_pool_size",
        "seed_products",
        "slo_seconds",
        "api_deadline_ms",
        "api_retry",
        "api_retries",
        "api_retry_budget",
        "api_breaker",
        "api_breaker_cooldown_s",
        "api_queue_timeout_ms",
        "api_max_waiters",
        "orders_max_backlog",
    ),
    WorkerSettings: ("worker_work_ms", "worker_ack_wait_s", "slo_seconds"),
}


def test_lab_settings_take_their_defaults_from_one_module() -> None:
    fields = Settings.model_fields
    for name, expected in LAB_FIELDS.items():
        assert fields[name].default == expected, name


@pytest.mark.parametrize("model", list(SERVICE_FIELDS), ids=lambda m: m.__name__)
def test_service_settings_agree_with_the_lab(model: type) -> None:
    fields = model.model_fields  # type: ignore[attr-defined]
    for name in SERVICE_FIELDS[model]:
        assert fields[name].default == LAB_FIELDS[name], f"{model.__name__}.{name}"


def test_compose_defaults_agree_with_the_lab() -> None:
    text = (PROJECT / "compose.yaml").read_text(encoding="utf-8")
    found = dict(re.findall(r"\$\{LAB_([A-Z_]+):-([^}]*)\}", text))
    checked = 0
    for name, expected in LAB_FIELDS.items():
        value = found.get(name.upper())
        if value is None:
            continue
        checked += 1
        if isinstance(expected, str):
            assert value == expected, name
        else:
            assert float(value) == float(expected), name
    assert checked >= 10, f"compose.yaml names only {checked} of the lab's defaults"


def test_replica_limit_is_the_settings_limit() -> None:
    for name in ("api_replicas", "worker_replicas"):
        limits = [m.le for m in Settings.model_fields[name].metadata if hasattr(m, "le")]
        assert limits == [defaults.MAX_REPLICAS], name


def test_one_replica_capacity_follows_from_the_knobs() -> None:
    # the figure every lesson starts from: 4 slots / 40 ms = 100 req/s
    capacity = defaults.API_CONCURRENCY / (defaults.API_WORK_MS / 1000)
    assert capacity == pytest.approx(100.0)


def test_the_audit_knows_the_shops_stock_stream_and_consumer() -> None:
    from shop_api import queue, schema

    assert defaults.SEED_STOCK == schema.INITIAL_STOCK
    assert (defaults.ORDERS_STREAM, defaults.ORDERS_CONSUMER) == (queue.STREAM, queue.CONSUMER)
