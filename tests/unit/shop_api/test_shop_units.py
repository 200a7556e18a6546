"""Unit tests of the shop services' pure parts: settings, validation, metrics, parsing.

No services needed; the behaviour against real Postgres/Redis/NATS is in
test_shop_service.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import stat
import time
from pathlib import Path
from typing import Literal, get_args
from uuid import UUID

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from pydantic import ValidationError
from redis.asyncio import Redis

from lab.passwords import NAMES, ensure_secrets
from lab.wait import free_port
from shop_api.app import create_app
from shop_api.cache import ProductCache
from shop_api.config import ApiSettings, ConfigError
from shop_api.errors import ERROR_CODES, describe_validation, error_body
from shop_api.lifecycle import bounded, start_unless_stopped
from shop_api.metrics import ApiMetrics, latency_buckets
from shop_api.models import MAX_ID, ErrorBody, ErrorCode, OrderIn
from shop_api.outbox import OrderMessage
from shop_api.resilience import setup as resilience
from shop_api.work import WorkLimiter, burn_cpu
from shop_worker.config import WorkerSettings
from shop_worker.httpd import MetricsServer
from shop_worker.metrics import WorkerMetrics
from shop_worker.processor import parse_order_id
from shop_worker.service import Worker

# --- settings -------------------------------------------------------------------------


def test_defaults_match_the_contract() -> None:
    settings = ApiSettings.from_env({"LAB_REPLICA": "api-1"})
    assert settings.replica == "api-1"
    assert (settings.api_work, settings.api_work_ms, settings.api_concurrency) == ("io", 40, 4)
    assert (settings.seed_products, settings.slo_seconds) == (10_000, 0.25)
    assert settings.redis_password == "" and settings.nats_user == ""


def test_values_are_parsed_and_empty_means_unset() -> None:
    settings = ApiSettings.from_env(
        {
            "LAB_API_PORT": "8123",
            "LAB_API_WORK": "cpu",
            "LAB_SLO_SECONDS": "0.3",
            "LAB_PG_HOST": "",
            "LAB_REPLICA": "",
        }
    )
    assert (settings.api_port, settings.api_work, settings.slo_seconds) == (8123, "cpu", 0.3)
    assert settings.pg_host == "127.0.0.1"
    assert settings.replica  # the hostname when LAB_REPLICA is empty


def test_password_file_wins_and_loses_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "pg_password"
    secret.write_text("s3cret\n")
    settings = ApiSettings.from_env(
        {
            "LAB_PG_PASSWORD": "ignored",
            "LAB_PG_PASSWORD_FILE": str(secret),
            "LAB_NATS_USER": "lab",
            "LAB_NATS_PASSWORD": "direct",
        }
    )
    assert settings.pg_password == "s3cret"
    assert settings.nats_password == "direct"
    assert settings.redacted()["pg_password"] == "***"
    assert settings.redacted()["redis_password"] == ""


def test_unreadable_password_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LAB_REDIS_PASSWORD_FILE"):
        ApiSettings.from_env({"LAB_REDIS_PASSWORD_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LAB_API_PORT", "http"),
        ("LAB_API_PORT", "70000"),
        ("LAB_API_WORK", "gpu"),
        ("LAB_API_CONCURRENCY", "0"),
        ("LAB_SLO_SECONDS", "-1"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        ApiSettings.from_env({variable: value})


def test_a_cache_ttl_of_0_is_accepted_and_a_negative_one_refused() -> None:
    assert ApiSettings.from_env({"LAB_CACHE_TTL_S": "0"}).cache_ttl_s == 0
    with pytest.raises(ConfigError, match="LAB_CACHE_TTL_S"):
        ApiSettings.from_env({"LAB_CACHE_TTL_S": "-1"})


def test_worker_settings_and_heartbeat() -> None:
    settings = WorkerSettings.from_env(
        {"LAB_WORKER_ACK_WAIT_S": "3", "LAB_WORKER_WORK_MS": "50", "LAB_REPLICA": "worker-1"}
    )
    assert settings.heartbeat_s == pytest.approx(1.0)
    assert settings.worker_work_ms == 50
    with pytest.raises(ConfigError, match="LAB_WORKER_ACK_WAIT_S"):
        WorkerSettings.from_env({"LAB_WORKER_ACK_WAIT_S": "0"})


# --- validation -----------------------------------------------------------------------

GOOD = {"product_id": 1, "quantity": 2, "customer": "  ada  "}


def test_a_good_order_validates_and_strips_the_customer() -> None:
    assert OrderIn.model_validate(GOOD).customer == "ada"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"product_id": "1"}, "product_id"),
        ({"product_id": True}, "product_id"),
        ({"product_id": 0}, "product_id"),
        ({"product_id": MAX_ID + 1}, "product_id"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 10**30}, "quantity"),
        ({"customer": "   "}, "customer"),
        ({"customer": "x" * 101}, "customer"),
        ({"customer": 7}, "customer"),
        ({"customer": "a\x00b"}, "customer"),
        ({"coupon": "FREE"}, "coupon"),
    ],
)
def test_bad_orders_are_rejected_with_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OrderIn.model_validate({**GOOD, **change})
    assert field in {str(err["loc"][0]) for err in caught.value.errors()}


def test_whole_numbers_sent_as_floats_are_ints_as_json_schema_says() -> None:
    order = OrderIn.model_validate_json('{"product_id": 7.0, "quantity": 586.0, "customer": "a"}')
    assert (order.product_id, order.quantity) == (7, 586)
    assert isinstance(order.quantity, int)


ORDER_SCHEMA = create_app(ApiSettings(replica="t")).openapi()["components"]["schemas"]["OrderIn"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    product_id=st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=3)),
    quantity=st.one_of(st.integers(-5, 2000), st.floats(-5, 2000), st.booleans()),
    customer=st.one_of(
        st.text(alphabet=st.sampled_from(" \t\n\x00\x1c\u00a0\u2028ab"), max_size=6),
        st.text(max_size=120),
        st.integers(),
    ),
)
def test_every_order_the_schema_allows_is_accepted(
    product_id: object, quantity: object, customer: object
) -> None:
    """The documented schema and the model agree, in both directions."""
    body = {"product_id": product_id, "quantity": quantity, "customer": customer}
    schema_ok = jsonschema.Draft202012Validator(ORDER_SCHEMA).is_valid(body)
    try:
        OrderIn.model_validate_json(json.dumps(body))
    except ValidationError:
        model_ok = False
    else:
        model_ok = True
    assert schema_ok == model_ok, (body, schema_ok, model_ok)


def test_validation_reasons_are_one_readable_line() -> None:
    errors = [
        {
            "type": "json_invalid",
            "loc": ("body", 12),
            "msg": "JSON decode error",
            "ctx": {"error": "Expecting value"},
        },
    ]
    assert describe_validation(errors) == "malformed JSON body at character 12: Expecting value"
    many = [
        {"type": "missing", "loc": ("body", f"f{i}"), "msg": "Field required"} for i in range(5)
    ]
    assert describe_validation(many).endswith("and 2 more")


# --- errors and the OpenAPI document -------------------------------------------------


def test_each_error_code_belongs_to_one_status() -> None:
    assert sorted(ERROR_CODES.values()) == sorted(get_args(ErrorCode))


@pytest.mark.parametrize("status", sorted(ERROR_CODES))
def test_every_error_status_has_its_code_in_the_one_body_shape(status: int) -> None:
    body = error_body(status, "why")
    assert body == {"error": ERROR_CODES[status], "reason": "why"}
    ErrorBody.model_validate(body)


def test_openapi_documents_every_answer_with_one_error_shape() -> None:
    document = create_app(ApiSettings(replica="t")).openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas, "FastAPI's 422 shape is never sent"
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"] == error_ref, (
                        method,
                        path,
                        status,
                    )
    assert set(document["paths"]["/orders"]["post"]["responses"]) == {
        "202",
        "400",
        "415",
        "422",
        "503",
        "504",
    }
    for status in ("503", "504"):
        answer = document["paths"]["/orders"]["post"]["responses"][status]
        assert "Retry-After" in answer["headers"]
    assert set(document["paths"]["/products/{product_id}"]["get"]["responses"]) == {
        "200",
        "404",
        "422",
        "503",
        "504",
    }
    for status in ("503", "504"):
        answer = document["paths"]["/orders"]["post"]["responses"][status]
        assert "Retry-After" in answer["headers"]
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain; version=0.0.4; charset=utf-8"]
    assert schemas["OrderIn"]["properties"]["product_id"]["maximum"] == MAX_ID


# --- metrics --------------------------------------------------------------------------


def guards(metrics: ApiMetrics) -> resilience.Guards:
    return resilience.build(ApiSettings(replica="t"), metrics.registry)


def test_knob_gauges_show_the_running_settings() -> None:
    metrics = ApiMetrics(0.25)
    WorkLimiter(mode="cpu", work_ms=25, concurrency=2, metrics=metrics)
    ProductCache(Redis(), 0, metrics, guards(metrics).redis)
    value = metrics.registry.get_sample_value
    assert value("shop_work_mode", {"mode": "cpu"}) == 1
    assert value("shop_work_mode", {"mode": "io"}) == 0
    assert value("shop_work_seconds") == 0.025
    assert value("shop_cache_ttl_seconds") == 0
    assert value("shop_cache_requests_total", {"result": "bypass"}) == 0
    worker = Worker(WorkerSettings(replica="w", worker_work_ms=35))
    assert worker.metrics.registry.get_sample_value("shop_worker_work_seconds") == 0.035


@pytest.mark.parametrize("slo", [0.25, 0.3, 0.123, 2.0])
def test_latency_buckets_contain_the_slo(slo: float) -> None:
    buckets = latency_buckets(slo)
    assert slo in buckets
    assert list(buckets) == sorted(set(buckets))


def test_latency_buckets_are_25_ms_apart_or_closer_from_100_ms_to_1_s() -> None:
    """So histogram_quantile interpolates a p95 within 25 ms, not across 200 ms."""
    buckets = latency_buckets(0.25)
    dense = [b for b in buckets if 0.1 <= b <= 1.0]
    assert dense[0] == 0.1 and dense[-1] == 1.0
    gaps = [round(b - a, 9) for a, b in itertools.pairwise(dense)]
    assert max(gaps) <= 0.025


def test_db_knob_gauges_show_the_running_settings() -> None:
    from shop_api.catalog import ProductReader

    metrics = ApiMetrics(0.25)
    cache = ProductCache(Redis(), 30, metrics, guards(metrics).redis)
    ProductReader(None, cache, metrics, work="cpu", query_ms=15, single_flight=True)  # type: ignore[arg-type]
    value = metrics.registry.get_sample_value
    assert value("shop_db_query_cost_seconds") == 0.015
    assert value("shop_db_work_mode", {"mode": "cpu"}) == 1
    assert value("shop_db_work_mode", {"mode": "io"}) == 0
    assert value("shop_cache_single_flight") == 1


def test_db_pool_size_0_means_concurrency_plus_4_at_most_40() -> None:
    def pool(**env: str) -> int:
        return ApiSettings.from_env({"LAB_REPLICA": "a", **env}).pool_size

    assert pool() == 8
    assert pool(LAB_API_CONCURRENCY="100") == 40
    assert pool(LAB_DB_POOL_SIZE="3", LAB_API_CONCURRENCY="100") == 3


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/products/1", 1),
        ("/products/007", 7),
        (f"/products/{2**63 - 1}", 2**63 - 1),
        (f"/products/{2**63}", None),  # FastAPI answers 422
        ("/products/0", None),
        ("/products/-1", None),
        ("/products/+1", None),
        ("/products/1.0", None),
        ("/products/\u0661", None),  # an Arabic-Indic digit: str.isdigit, but not ASCII
        ("/products/", None),
        ("/products/1/", None),
        ("/products", None),
        ("/orders/1", None),
    ],
)
def test_the_fast_path_takes_exactly_the_ids_fastapi_accepts(path: str, wanted: int | None) -> None:
    from shop_api.fastpath import product_id

    assert product_id(path) == wanted


def test_request_histogram_has_a_bucket_on_the_slo() -> None:
    metrics = ApiMetrics(slo_seconds=0.25)
    metrics.request_duration.labels(route="/orders", method="POST").observe(0.1)
    text = generate_latest(metrics.registry).decode()
    assert (
        'shop_http_request_duration_seconds_bucket{le="0.25",method="POST",route="/orders"}' in text
    )
    assert 'shop_cache_requests_total{result="hit"} 0.0' in text  # exists before any lookup


def test_worker_http_answers_metrics_health_and_404() -> None:
    problem: list[str | None] = ["starting"]
    server = MetricsServer(WorkerMetrics(0.25).registry, lambda: problem[0])
    assert server.respond("GET", "/healthz")[0] == 503
    problem[0] = None
    assert server.respond("GET", "/healthz?x=1")[0] == 200
    status, content_type, body = server.respond("GET", "/metrics")
    assert status == 200 and content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert b'shop_queue_pending_messages{consumer="workers",stream="ORDERS"}' in body
    assert server.respond("GET", "/elsewhere")[0] == 404
    assert server.respond("POST", "/metrics")[0] == 405


# --- messages, work, secrets ----------------------------------------------------------


def test_order_message_round_trips_through_the_worker_parser() -> None:
    order_id = UUID("12345678-1234-5678-1234-567812345678")
    data = OrderMessage(order_id=order_id, product_id=3, quantity=2).encode()
    assert json.loads(data)["quantity"] == 2
    assert parse_order_id(data) == order_id


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b'{"id": 1}', b'{"order_id": "x"}'])
def test_poison_payloads_are_recognised(data: bytes) -> None:
    with pytest.raises(ValueError, match="not an order message"):
        parse_order_id(data)


def test_burn_cpu_burns() -> None:
    assert burn_cpu(0.002) > 0


# --- the concurrency limit ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["io", "cpu"])
def test_work_limiter_never_runs_more_than_its_slots(mode: Literal["io", "cpu"]) -> None:
    metrics = ApiMetrics(0.25)
    running, peak, waiting_seen = 0, 0, list[float]()

    async def request(limiter: WorkLimiter) -> None:
        nonlocal running, peak
        async with limiter.slot():
            running += 1
            peak = max(peak, running)
            waiting_seen.append(metrics.registry.get_sample_value("shop_concurrency_waiting") or 0)
            await asyncio.sleep(0.005)
            running -= 1

    async def burst() -> float:
        limiter = WorkLimiter(mode=mode, work_ms=10, concurrency=3, metrics=metrics)
        start = time.perf_counter()
        await asyncio.gather(*(request(limiter) for _ in range(12)))
        return time.perf_counter() - start

    took = asyncio.run(burst())
    assert peak == 3
    assert max(waiting_seen) >= 1, "requests over the limit wait, and the gauge shows them"
    assert metrics.registry.get_sample_value("shop_concurrency_waiting") == 0
    assert metrics.registry.get_sample_value("shop_concurrency_limit") == 3
    assert metrics.registry.get_sample_value("shop_work_seconds") == 0.01
    assert metrics.registry.get_sample_value("shop_concurrency_wait_seconds_count") == 12
    assert took >= 4 * 0.010, "12 requests over 3 slots take at least 4 rounds of work"


# --- shutdown helpers -----------------------------------------------------------------


def test_bounded_gives_up_on_a_task_that_ignores_cancellation() -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:  # swallowed, as a racing wait_for can on 3.11
            await asyncio.sleep(10)

    async def main() -> float:
        task = asyncio.create_task(stubborn())
        start = time.perf_counter()
        await bounded(task, 0.1)
        took = time.perf_counter() - start
        task.cancel()
        return took

    assert asyncio.run(main()) < 1.0


def test_api_start_up_is_abandoned_when_a_stop_is_requested() -> None:
    closed = free_port()  # nothing listens: start-up keeps retrying Postgres
    settings = ApiSettings.from_env({"LAB_PG_PORT": str(closed), "LAB_REPLICA": "api-t"})
    requested_at: list[float] = []

    def stop_requested() -> bool:
        requested_at.append(time.monotonic())
        return len(requested_at) > 3

    async def main() -> object:
        return await start_unless_stopped(settings, ApiMetrics(0.25), stop_requested)

    start = time.monotonic()
    assert asyncio.run(main()) is None
    assert time.monotonic() - start < 3


def test_worker_stopped_during_start_up_returns_at_once() -> None:
    settings = WorkerSettings.from_env(
        {
            "LAB_PG_PORT": str(free_port()),
            "LAB_WORKER_HOST": "127.0.0.1",
            "LAB_WORKER_METRICS_PORT": str(free_port()),
            "LAB_REPLICA": "worker-t",
        }
    )

    async def main() -> None:
        worker = Worker(settings)
        asyncio.get_running_loop().call_later(0.5, worker.stop)
        await worker.run()

    start = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - start < 3


def test_secrets_are_created_once(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    assert ensure_secrets(folder) == list(NAMES)
    first = {name: (folder / name).read_text() for name in NAMES}
    assert all(len(value) >= 24 for value in first.values())
    assert stat.S_IMODE((folder / "pg_password").stat().st_mode) == 0o644
    assert ensure_secrets(folder) == []
    assert {name: (folder / name).read_text() for name in NAMES} == first
