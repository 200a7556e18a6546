"""The logic of application faults, admission control and idempotency, without a network:
the fault board, the admin app's token check (in-process ASGI), the shedding policy on a
real semaphore, and the body fingerprint."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from shop_api.admin import create_admin_app
from shop_api.admission import Admission, Shed
from shop_api.config import ApiSettings
from shop_api.faults import (
    AnyFault,
    CpuHogFault,
    ErrorsFault,
    FaultBoard,
    LatencyFault,
    UnreadyFault,
    route_key,
)
from shop_api.idempotency import fingerprint
from shop_api.metrics import ApiMetrics
from shop_api.models import OrderIn
from shop_api.work import WorkLimiter

ROUTES = ("/products/{product_id}", "/products", "/orders", "/orders/{order_id}")
TOKEN = "t" * 32


def board() -> FaultBoard:
    return FaultBoard(ROUTES)


# --- the fault board ------------------------------------------------------------------


def test_placeholder_names_do_not_matter_in_a_route() -> None:
    assert route_key("/products/{id}") == route_key("/products/{product_id}")
    assert route_key("/products/") == route_key("/products")
    assert route_key("/products/{id}") != route_key("/products")
    assert board().template("/products/{id}") == "/products/{product_id}"
    with pytest.raises(LookupError, match="no route /basket; routes: /orders, "):
        board().template("/basket")


def test_an_errors_fault_fires_with_its_probability_on_its_route_only() -> None:
    faults = board()
    faults.add(ErrorsFault(route="/products/{id}", percent=25, for_s=60))
    fired = sum(faults.for_route("/products/{product_id}")[1] is not None for _ in range(4000))
    assert 800 <= fired <= 1200, fired
    assert faults.for_route("/orders") == (0.0, None)


def test_a_dependency_errors_fault_fails_its_calls_only_and_no_route() -> None:
    faults = board()
    faults.add(ErrorsFault(dependency="postgres", percent=20, for_s=60))
    fired = sum(faults.dependency_fails("postgres") for _ in range(5000))
    assert 850 <= fired <= 1150, fired
    assert not any(faults.dependency_fails("redis") for _ in range(200))
    assert faults.for_route("/products/{product_id}") == (0.0, None)
    with pytest.raises(ValidationError, match="give route"):
        ErrorsFault(route="/orders", dependency="postgres", percent=20)
    with pytest.raises(ValidationError, match="give route"):
        ErrorsFault(percent=20)


def test_latency_faults_add_up_within_their_jitter() -> None:
    faults = board()
    faults.add(LatencyFault(route="/orders", fixed_ms=100, jitter_ms=50, for_s=60))
    faults.add(LatencyFault(route="/orders", fixed_ms=20, for_s=60))
    delays = [faults.for_route("/orders")[0] for _ in range(500)]
    assert min(delays) >= 0.120 and max(delays) <= 0.170
    assert max(delays) - min(delays) > 0.03, "jitter varies the delay"


def test_faults_expire_and_can_be_removed_one_by_one() -> None:
    faults = board()
    short = faults.add(UnreadyFault(for_s=0.05))
    long = faults.add(ErrorsFault(route="/orders", percent=100, for_s=60))
    assert faults.unready() is not None and faults.count("unready") == 1
    time.sleep(0.06)  # past the fault's expiry: the board drops it on its own
    assert faults.unready() is None and [f.id for f in faults.active()] == [long.id]
    assert faults.remove(short.id) == []
    assert [f.id for f in faults.remove(long.id)] == [long.id]
    assert faults.active() == ()


def test_removing_a_cpu_hog_stops_its_thread() -> None:
    faults = board()
    hog = faults.add(CpuHogFault(percent=10, for_s=60))
    assert not hog.stop.is_set()
    faults.remove()
    assert hog.stop.is_set()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "errors", "route": "/orders", "percent": 0}, "percent"),
        ({"kind": "errors", "route": "/orders", "percent": 10, "status": 404}, "status"),
        ({"kind": "latency", "route": "/orders"}, "fixed_ms"),
        ({"kind": "cpu-hog", "percent": 101}, "percent"),
        ({"kind": "unready", "for_s": 3601}, "for_s"),
        ({"kind": "unready", "for_s": "5"}, "for_s"),
        ({"kind": "meltdown"}, "kind"),
    ],
)
def test_a_bad_fault_names_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(AnyFault).validate_python(body)
    assert field in str(raised.value)


# --- the admin app --------------------------------------------------------------------


async def _admin(
    headers: dict[str, str], method: str = "GET", json: object = None
) -> httpx.Response:
    app = create_admin_app(board(), TOKEN, "api-1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        return await client.request(method, "/admin/faults", headers=headers, json=json)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer " + "u" * 32},
        {"Authorization": TOKEN},
    ],
    ids=["none", "empty", "wrong", "not-bearer"],
)
def test_the_admin_app_refuses_without_the_token(headers: dict[str, str]) -> None:
    answer = asyncio.run(_admin(headers))
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"


def test_the_admin_app_adds_a_fault_with_the_token() -> None:
    auth = {"Authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive
    answer = asyncio.run(_admin(auth, "POST", {"kind": "unready", "for_s": 30}))
    assert answer.status_code == 201
    assert answer.json()["kind"] == "unready" and 29 < answer.json()["remaining_s"] <= 30


def test_no_token_no_admin_app() -> None:
    with pytest.raises(ValueError, match="needs a token"):
        create_admin_app(board(), "", "api-1")


# --- admission control ----------------------------------------------------------------


def limiter(admission: Admission) -> WorkLimiter:
    return WorkLimiter(
        mode="io", work_ms=0, concurrency=1, metrics=ApiMetrics(0.25), admission=admission
    )


async def _contend(admission: Admission, count: int, hold_s: float) -> list[str]:
    work = limiter(admission)

    async def one() -> str:
        try:
            async with work.slot():
                await asyncio.sleep(hold_s)
        except Shed as shed:
            return shed.reason
        return "served"

    return list(await asyncio.gather(*(one() for _ in range(count))))


def test_without_admission_control_everyone_waits() -> None:
    got = asyncio.run(_contend(Admission(queue_timeout_s=0, max_waiters=0), 6, 0.01))
    assert got == ["served"] * 6


def test_a_full_queue_sheds_at_once() -> None:
    got = asyncio.run(_contend(Admission(queue_timeout_s=0, max_waiters=2), 6, 0.01))
    assert got.count("served") == 3 and got.count("queue_full") == 3


def test_a_full_queue_sheds_at_once_with_a_wait_bound_too() -> None:
    # a burst that arrives within one tick of the event loop: a slot taken by a request
    # that has not yet been scheduled is still taken (asyncio.wait_for runs the acquire in
    # a task of its own, so the semaphore alone says "free" to the whole burst)
    got = asyncio.run(_contend(Admission(queue_timeout_s=10, max_waiters=2), 6, 0.01))
    assert got.count("served") == 3 and got.count("queue_full") == 3


def test_a_wait_longer_than_the_timeout_is_shed() -> None:
    got = asyncio.run(_contend(Admission(queue_timeout_s=0.05, max_waiters=0), 3, 0.2))
    assert got.count("served") == 1 and got.count("queue_timeout") == 2


def test_a_shed_request_reads_as_an_outage_with_a_reason() -> None:
    with pytest.raises(Shed) as raised:
        Admission(queue_timeout_s=0, max_waiters=1).admit(waiting=1, concurrency=4)
    assert raised.value.dependency == "work slots"
    assert "LAB_API_MAX_WAITERS=1" in str(raised.value) and "shed by admission" in str(raised.value)


def test_admission_knobs_are_read_from_the_environment() -> None:
    env = {
        "LAB_API_QUEUE_TIMEOUT_MS": "50",
        "LAB_API_MAX_WAITERS": "8",
        "LAB_ORDERS_MAX_BACKLOG": "100",
    }
    settings = ApiSettings.from_env(env)
    assert (settings.api_queue_timeout_ms, settings.api_max_waiters) == (50, 8)
    assert settings.orders_max_backlog == 100


# --- idempotency --------------------------------------------------------------------


def test_the_fingerprint_is_of_the_order_not_of_its_spelling() -> None:
    one = OrderIn.model_validate({"product_id": 1, "quantity": 2, "customer": "ada"})
    same = OrderIn.model_validate({"customer": " ada ", "quantity": 2.0, "product_id": 1})
    other = OrderIn.model_validate({"product_id": 1, "quantity": 3, "customer": "ada"})
    assert fingerprint(one) == fingerprint(same)
    assert fingerprint(one) != fingerprint(other)
