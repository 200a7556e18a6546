"""Start-up and shutdown of one replica's connections and background tasks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis

from shop_api import cache, catalog, db, queue
from shop_api.admission import Admission
from shop_api.backpressure import OrderBackpressure
from shop_api.config import ApiSettings
from shop_api.metrics import ApiMetrics
from shop_api.outbox import Outbox
from shop_api.resilience import setup as resilience
from shop_api.schema import ensure_schema
from shop_api.work import WorkLimiter

log = logging.getLogger(__name__)

T = TypeVar("T")

STARTUP_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 1.0  # per step of the shutdown; the lab SIGKILLs after 10 s
STOP_POLL_S = 0.1


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
    products: catalog.ProductReader
    nats: Any
    limiter: WorkLimiter
    outbox: Outbox
    guards: resilience.Guards
    backpressure: OrderBackpressure
    cleanup: AsyncExitStack
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def bounded(task: asyncio.Future[Any], timeout: float) -> None:
    """Wait up to ``timeout`` for ``task``, then cancel it and wait as long again.

    Shutdown never waits forever on a task (on Python 3.11 ``asyncio.wait_for`` can
    swallow a cancellation) and never raises: the task's error is logged.
    """
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        log.warning("%s did not stop within %g s; abandoned", task, 2 * timeout)
    elif not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        log.warning("%s failed: %s: %s", task, type(exc).__name__, exc)


async def close_pool(pool: Any, timeout: float) -> None:
    """Close an asyncpg pool gracefully within ``timeout``, else terminate it."""
    try:
        await asyncio.wait_for(pool.close(), timeout)
    except Exception as exc:  # a connection is still busy or Postgres is gone
        log.warning("postgres pool not closed cleanly (%s); terminating it", exc)
        pool.terminate()


async def _close_nats(nc: Any) -> None:
    with suppress(Exception):
        await asyncio.wait_for(nc.close(), CLOSE_TIMEOUT_S)


async def _close_redis(redis: Redis) -> None:
    with suppress(Exception):
        await asyncio.wait_for(redis.aclose(), CLOSE_TIMEOUT_S)


async def start(
    settings: ApiSettings,
    metrics: ApiMetrics,
    inject: Callable[[str], bool] = lambda dependency: False,
) -> Services:
    """Connect to Postgres, Redis and NATS, create the schema and stream, start the relay.

    Each connection is registered for closing as soon as it exists, so a start-up that
    fails or is cancelled (SIGTERM while waiting for a dependency) closes what it opened.
    """
    guards = resilience.build(settings, metrics.registry, inject)
    async with AsyncExitStack() as cleanup:
        pool = await retrying(
            f"postgres at {settings.pg_host}:{settings.pg_port}",
            lambda: db.create_pool(
                settings, min_size=min(2, settings.pool_size), max_size=settings.pool_size
            ),
            timeout=STARTUP_TIMEOUT_S,
        )
        cleanup.push_async_callback(close_pool, pool, CLOSE_TIMEOUT_S)
        database = db.Database(pool, metrics, guards.postgres)
        async with database.connection() as conn:
            inserted = await ensure_schema(conn, seed_products=settings.seed_products)
            max_connections = int(await conn.fetchval("SHOW max_connections"))
        if inserted:
            log.info("seeded %d products", inserted)
        metrics.db_pool_max_size.set(settings.pool_size)
        metrics.pg_max_connections.set(max_connections)
        rows_per_ms = 0.0
        if settings.db_work == "cpu" and settings.db_query_ms > 0:
            rows_per_ms = await catalog.cpu_rows_per_ms(database)
            log.info("cpu query cost: %.0f rows per ms", rows_per_ms)
        nc = await queue.connect(
            settings, name=f"shop-api-{settings.replica}", timeout=STARTUP_TIMEOUT_S
        )
        cleanup.push_async_callback(_close_nats, nc)
        js = nc.jetstream()
        await retrying("the JetStream stream", lambda: queue.ensure_stream(js), timeout=10.0)
        redis = cache.connect(settings)
        cleanup.push_async_callback(_close_redis, redis)
        product_cache = cache.ProductCache(redis, settings.cache_ttl_s, metrics, guards.redis)
        services = Services(
            settings=settings,
            metrics=metrics,
            db=database,
            redis=redis,
            cache=product_cache,
            products=catalog.ProductReader(
                database,
                product_cache,
                metrics,
                work=settings.db_work,
                query_ms=settings.db_query_ms,
                single_flight=settings.cache_single_flight,
                cpu_rows_per_ms=rows_per_ms,
            ),
            nats=nc,
            limiter=WorkLimiter(
                mode=settings.api_work,
                work_ms=settings.api_work_ms,
                concurrency=settings.api_concurrency,
                metrics=metrics,
                admission=Admission(
                    queue_timeout_s=settings.api_queue_timeout_ms / 1000,
                    max_waiters=settings.api_max_waiters,
                ),
            ),
            outbox=Outbox(database, js, metrics, guards.nats, budget_s=guards.deadline_s),
            guards=guards,
            backpressure=OrderBackpressure(settings.orders_max_backlog, metrics),
            cleanup=cleanup.pop_all(),
        )
    relay = services.outbox.run_relay(services.stopping)
    services.tasks.append(asyncio.create_task(relay, name="outbox-relay"))
    if settings.orders_max_backlog:
        watch = services.backpressure.run(database, js, services.stopping)
        services.tasks.append(asyncio.create_task(watch, name="order-backlog"))
    metrics.queue_timeout_seconds.set(settings.api_queue_timeout_ms / 1000)
    metrics.max_waiters.set(settings.api_max_waiters)
    return services


async def start_unless_stopped(
    settings: ApiSettings,
    metrics: ApiMetrics,
    stop_requested: Callable[[], bool],
    inject: Callable[[str], bool] = lambda dependency: False,
) -> Services | None:
    """``start``, abandoned (None) if ``stop_requested()`` turns true before it is done.

    uvicorn only notes a signal (``Server.should_exit``) and waits for the lifespan's
    start-up, which may be waiting for a dependency for ``STARTUP_TIMEOUT_S``; polling the
    flag lets SIGTERM end a replica that never came up at once.
    """
    task = asyncio.create_task(start(settings, metrics, inject), name="startup")
    while not task.done():
        await asyncio.wait({task}, timeout=STOP_POLL_S)
        if not task.done() and stop_requested():
            log.info("stop requested during start-up; abandoning it")
            task.cancel()
            await bounded(task, CLOSE_TIMEOUT_S)
            if not task.done() or task.cancelled() or task.exception() is not None:
                return None
    services = task.result()
    if stop_requested():  # came up just as the stop arrived
        await stop(services)
        return None
    return services


async def stop(services: Services) -> None:
    """Stop the relay, let in-flight publishes finish briefly, close every connection.

    Runs after uvicorn has stopped accepting and finished (or timed out) the open
    requests; every step has a deadline, so the process exits within a few seconds.
    """
    services.stopping.set()
    for task in services.tasks:
        await bounded(task, CLOSE_TIMEOUT_S)
    await services.outbox.drain(timeout=CLOSE_TIMEOUT_S)
    await services.cleanup.aclose()
