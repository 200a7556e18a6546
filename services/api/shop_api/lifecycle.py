"""Start-up and shutdown of one replica's connections and background tasks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis

from shop_api import cache, db, queue
from shop_api.config import ApiSettings
from shop_api.metrics import ApiMetrics
from shop_api.outbox import Outbox
from shop_api.schema import ensure_schema
from shop_api.work import WorkLimiter

log = logging.getLogger(__name__)

T = TypeVar("T")

STARTUP_TIMEOUT_S = 30.0


async def retrying(what: str, attempt: Callable[[], Awaitable[T]], *, timeout: float) -> T:
    """Call ``attempt`` until it succeeds or ``timeout`` passes (dependencies may still be
    starting when a replica starts); the last error is in the raised ``ConnectionError``."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return await attempt()
        except Exception as exc:  # any failure means "not yet"
            if time.monotonic() + delay > deadline:
                raise ConnectionError(
                    f"{what} not reachable within {timeout:g} s: {type(exc).__name__}: {exc}"
                ) from exc
            log.info("waiting for %s: %s", what, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


@dataclass
class Services:
    """What the routes use; built by ``start`` inside the app's lifespan."""

    settings: ApiSettings
    metrics: ApiMetrics
    db: db.Database
    redis: Redis
    cache: cache.ProductCache
    nats: Any
    limiter: WorkLimiter
    outbox: Outbox
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def start(settings: ApiSettings, metrics: ApiMetrics) -> Services:
    """Connect to Postgres, Redis and NATS, create the schema and stream, start the relay."""
    pool = await retrying(
        f"postgres at {settings.pg_host}:{settings.pg_port}",
        lambda: db.create_pool(settings, min_size=2, max_size=settings.pool_size),
        timeout=STARTUP_TIMEOUT_S,
    )
    database = db.Database(pool, metrics)
    try:
        async with database.connection() as conn:
            inserted = await ensure_schema(conn, seed_products=settings.seed_products)
        if inserted:
            log.info("seeded %d products", inserted)
        nc = await queue.connect(
            settings, name=f"shop-api-{settings.replica}", timeout=STARTUP_TIMEOUT_S
        )
    except BaseException:
        await database.close()
        raise
    js = nc.jetstream()
    await retrying("the JetStream stream", lambda: queue.ensure_stream(js), timeout=10.0)
    redis = cache.connect(settings)
    services = Services(
        settings=settings,
        metrics=metrics,
        db=database,
        redis=redis,
        cache=cache.ProductCache(redis, settings.cache_ttl_s, metrics),
        nats=nc,
        limiter=WorkLimiter(
            mode=settings.api_work,
            work_ms=settings.api_work_ms,
            concurrency=settings.api_concurrency,
            metrics=metrics,
        ),
        outbox=Outbox(database, js, metrics),
    )
    services.tasks.append(asyncio.create_task(services.outbox.run_relay(), name="outbox-relay"))
    return services


async def stop(services: Services) -> None:
    """Stop the relay, let in-flight publishes finish briefly, close every connection."""
    for task in services.tasks:
        task.cancel()
    for task in services.tasks:
        with suppress(asyncio.CancelledError):
            await task
    await services.outbox.drain(timeout=2.0)
    with suppress(Exception):
        await asyncio.wait_for(services.nats.close(), timeout=2.0)
    with suppress(Exception):
        await services.redis.aclose()
    with suppress(Exception):
        await asyncio.wait_for(services.db.close(), timeout=5.0)
