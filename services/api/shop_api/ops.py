"""Operational endpoints: liveness, readiness (names the failing dependency), metrics.

None of these take a work slot: a saturated replica still answers its probes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import generate_latest

from shop_api.errors import error_response
from shop_api.lifecycle import Services
from shop_api.metrics import CONTENT_TYPE
from shop_api.models import ErrorBody, Health, Ready
from shop_api.routes import services

router = APIRouter()

PROBE_TIMEOUT_S = 1.0


class MetricsResponse(Response):
    """Prometheus' text format 0.0.4 (see ``shop_api.metrics.CONTENT_TYPE``)."""

    media_type = CONTENT_TYPE


UNREADY: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "An injected `unready` fault is active"}
}


def _injected_unready(request: Request) -> JSONResponse | None:
    """503 while an ``unready`` fault is active. HAProxy checks ``/healthz``, so this
    fault fails both probes: that is what takes the replica out of the pool."""
    fault = request.app.state.faults.unready()
    if fault is None:
        return None
    return error_response(503, "injected fault: unready (lab fault app unready)")


@router.get("/healthz", response_model=Health, responses=UNREADY)
async def healthz(request: Request) -> Health | JSONResponse:
    return _injected_unready(request) or Health(
        status="ok", replica=request.app.state.settings.replica
    )


async def _probe(check: Callable[[], Awaitable[object]]) -> str | None:
    """None when ``check`` succeeds in time, else why it failed."""
    try:
        await asyncio.wait_for(check(), PROBE_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {PROBE_TIMEOUT_S:g} s"
    except Exception as exc:  # any failure is the reason
        return f"{type(exc).__name__}: {exc}"
    return None


async def _nats_ok(svc: Services) -> None:
    if not svc.nats.is_connected:
        raise ConnectionError("not connected (reconnecting)")
    await svc.nats.flush(timeout=PROBE_TIMEOUT_S)


@router.get(
    "/readyz",
    response_model=Ready,
    responses={
        503: {
            "model": ErrorBody,
            "description": "Unready: `failed` names each dependency"
            " (absent when an `unready` fault is injected)",
        }
    },
)
async def readyz(request: Request) -> Ready | JSONResponse:
    """200 when Postgres, Redis and NATS all answer; else 503 naming the ones that did not."""
    injected = _injected_unready(request)
    if injected is not None:
        return injected
    svc = services(request)

    async def postgres() -> None:
        await svc.db.fetchval("readyz", "SELECT 1")

    async def redis() -> None:
        await svc.redis.ping()

    names = ("postgres", "redis", "nats")
    results = await asyncio.gather(_probe(postgres), _probe(redis), _probe(lambda: _nats_ok(svc)))
    failed = {name: why for name, why in zip(names, results, strict=True) if why is not None}
    if failed:
        reason = "; ".join(f"{name} unreachable: {why}" for name, why in failed.items())
        return error_response(503, reason, failed=failed)
    return Ready(status="ready", replica=svc.settings.replica)


@router.get(
    "/metrics",
    response_class=MetricsResponse,
    responses={
        200: {
            "description": "This replica's metrics (docs/contracts.md names them)",
            "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> MetricsResponse:
    # rendering ~700 samples takes 10-25 ms of CPU: in a thread, the event loop keeps
    # serving between the interpreter's switches (5 ms) instead of stalling every request
    # in flight for the whole scrape, once a second (it lowered the knee by a quarter)
    body = await asyncio.to_thread(generate_latest, request.app.state.metrics.registry)
    return MetricsResponse(body)
