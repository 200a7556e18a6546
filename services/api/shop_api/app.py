"""The FastAPI application of one replica: routes, error handlers, request metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shop_api import errors, fastpath, lifecycle, ops, routes
from shop_api.admin import create_admin_app
from shop_api.admin_server import AdminServer
from shop_api.config import ApiSettings
from shop_api.faults import FAULT_KINDS, FaultBoard
from shop_api.faults_middleware import InjectFaults
from shop_api.metrics import ApiMetrics
from shop_api.models import OrderIn
from shop_api.resilience.deadline import RequestDeadline

log = logging.getLogger(__name__)
OPS_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class ObserveRequests:
    """Pure ASGI middleware: request metrics by route template, and ``X-Replica``.

    It also answers 500 (with a reason) for an exception nothing else handled, so even
    that response is counted and names its replica.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, replica: str, slo_s: float) -> None:
        self.app = app
        self.metrics = metrics
        self.slo_s = slo_s
        self.replica_header = (b"x-replica", replica.encode("latin-1", "replace"))
        # labels() takes a lock and builds a key on every call; the children are looked
        # up once per (route, method[, status]) here instead
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}
        self._good: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = False

        async def send_with_replica(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [*message.get("headers", ()), self.replica_header]
            await send(message)

        start = time.perf_counter()
        self.metrics.in_flight.inc()
        shop = scope["path"] not in OPS_PATHS  # Little's L: the shop's requests only
        if shop:
            self.metrics.in_flight_seconds.enter()
        try:
            await self.app(scope, receive, send_with_replica)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await _internal_error(send_with_replica)
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.in_flight.dec()
            if shop:
                self.metrics.in_flight_seconds.leave()
            template = getattr(scope.get("route"), "path", None) or "other"
            method = scope["method"]
            counter = self._counters.get((template, method, status))
            if counter is None:
                counter = self.metrics.requests.labels(template, method, str(status))
                self._counters[template, method, status] = counter
            counter.inc()
            histogram = self._histograms.get((template, method))
            if histogram is None:
                histogram = self.metrics.request_duration.labels(template, method)
                self._histograms[template, method] = histogram
            histogram.observe(elapsed)
            if status < 500 and elapsed <= self.slo_s:  # goodput: answered within the SLO
                good = self._good.get((template, method))
                if good is None:
                    good = self.metrics.good_requests.labels(template, method)
                    self._good[template, method] = good
                good.inc()


async def _internal_error(send: Send) -> None:
    body = json.dumps(errors.error_body(500, "internal error (logged by the replica)")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


REPLICA_HEADER = {
    "X-Replica": {
        "description": "the replica that answered (LAB_REPLICA)",
        "required": True,
        "schema": {"type": "string"},
    }
}


class ShopApp(FastAPI):
    """FastAPI, with an OpenAPI document that keeps the request bodies' bounds exact
    and lists the ``X-Replica`` header every answer carries."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = super().openapi()
            for operations in document["paths"].values():
                for operation in operations.values():
                    for answer in operation["responses"].values():
                        answer["headers"] = {**answer.get("headers", {}), **REPLICA_HEADER}
            # FastAPI passes the document through its own model, which types `maximum`
            # as a float: 2**63-1 would read 2**63, one the API refuses. Pydantic's own
            # schema of a request body is exact.
            schemas = document["components"]["schemas"]
            for model in (OrderIn,):
                schemas[model.__name__] = model.model_json_schema(
                    ref_template="#/components/schemas/{model}"
                )
        return super().openapi()  # the document made above, cached by FastAPI


def _route(path: str) -> Any:
    for route in routes.router.routes:
        if getattr(route, "path", None) == path:
            return route
    raise LookupError(f"no route {path}")


def create_app(
    settings: ApiSettings, *, stop_requested: Callable[[], bool] = lambda: False
) -> FastAPI:
    """Build the app; connections open in its lifespan, not here.

    ``stop_requested`` tells the lifespan that the server was asked to stop (uvicorn's
    ``should_exit``), so a start-up still waiting for a dependency is abandoned.
    """
    metrics = ApiMetrics(settings.slo_seconds)
    board = FaultBoard(tuple(r.path for r in routes.router.routes if hasattr(r, "path")))
    for kind in FAULT_KINDS:
        metrics.faults_active.labels(kind=kind).set_function(partial(board.count, kind))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await lifecycle.start_unless_stopped(
            settings, metrics, stop_requested, board.dependency_fails
        )
        if services is None:  # the server shuts down without serving
            yield
            return
        app.state.services = services
        log.info(
            "replica %s ready: work=%s %g ms, concurrency %d",
            settings.replica,
            settings.api_work,
            settings.api_work_ms,
            settings.api_concurrency,
        )
        admin = None
        if settings.api_admin_token:
            admin = AdminServer(
                create_admin_app(board, settings.api_admin_token, settings.replica),
                settings.api_admin_port,
            )
        else:
            log.info("no LAB_API_ADMIN_TOKEN: no admin endpoint (no run-time faults)")
        try:
            if admin is not None:
                await admin.start()
            yield
        finally:
            board.remove()  # stops a CPU hog's thread
            if admin is not None:
                await admin.stop()
            await lifecycle.stop(services)

    app = ShopApp(
        title="prodlab shop",
        description="The system under test: a small shop behind HAProxy.",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.faults = board
    app.include_router(routes.router)
    app.include_router(ops.router)
    errors.install(app)
    # added first, so it runs inside ObserveRequests: fast answers are measured too
    app.add_middleware(fastpath.ProductReads, route=_route("/products/{product_id}"))
    # outside the fast path (which it faults too), inside the metrics (which count it)
    app.add_middleware(InjectFaults, board=board, routes=list(routes.router.routes))
    # every dependency call of a request shares one budget (LAB_API_DEADLINE_MS), which
    # starts on arrival: an injected delay spends it too
    app.add_middleware(RequestDeadline, budget_s=settings.api_deadline_ms / 1000)
    app.add_middleware(
        ObserveRequests, metrics=metrics, replica=settings.replica, slo_s=settings.slo_seconds
    )
    return app
