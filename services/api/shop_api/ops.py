"""Operational endpoints: liveness, readiness (names the failing dependency), metrics.

None of these take a work slot: a saturated replica still answers its probes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shop_api.lifecycle import Services
from shop_api.routes import services

router = APIRouter()

PROBE_TIMEOUT_S = 1.0


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    return {"status": "ok", "replica": request.app.state.settings.replica}


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


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 when Postgres, Redis and NATS all answer; else 503 naming the ones that did not."""
    svc = services(request)

    async def postgres() -> None:
        await svc.db.fetchval("readyz", "SELECT 1")

    async def redis() -> None:
        await svc.redis.ping()

    names = ("postgres", "redis", "nats")
    results = await asyncio.gather(_probe(postgres), _probe(redis), _probe(lambda: _nats_ok(svc)))
    failed = {name: why for name, why in zip(names, results, strict=True) if why is not None}
    replica = svc.settings.replica
    if failed:
        reason = "; ".join(f"{name} unreachable: {why}" for name, why in failed.items())
        body = {"status": "unready", "replica": replica, "reason": reason, "failed": failed}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "replica": replica})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
