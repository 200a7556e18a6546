"""PostgreSQL access: an asyncpg pool that counts its waiters and times every query.

Every use goes through the Postgres ``Guard`` (``shop_api.resilience``): the request's
deadline bounds pool acquire and query together, the breaker may refuse at once, and the
reads (``fetch*``) are retried per ``LAB_API_RETRY``. ``connection()`` is one attempt, for
a block that is not safe to repeat (the order's transaction).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from shop_api.config import Connections
from shop_api.errors import postgres_errors
from shop_api.metrics import ApiMetrics
from shop_api.resilience.guard import Guard

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
COMMAND_TIMEOUT_S = 5.0


async def create_pool(settings: Connections, *, min_size: int, max_size: int) -> Any:
    """An asyncpg pool for the shop database (``asyncpg.Pool``; untyped upstream)."""
    return await asyncpg.create_pool(
        host=settings.pg_host,
        port=settings.pg_port,
        user=settings.pg_user,
        password=settings.pg_password or None,
        database=settings.pg_db,
        min_size=min_size,
        max_size=max_size,
        timeout=CONNECT_TIMEOUT_S,
        command_timeout=COMMAND_TIMEOUT_S,
    )


class Database:
    """The pool plus the metrics around it. Queries are named for the histogram label."""

    def __init__(self, pool: Any, metrics: ApiMetrics, guard: Guard) -> None:
        self.pool = pool
        self.metrics = metrics
        self.guard = guard
        self._releasing: set[asyncio.Task[None]] = set()
        metrics.track_pool(pool.get_size, pool.get_idle_size)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A pooled connection for the block, as one guarded attempt (never retried).

        Connection failures surface as ``BackendUnavailable("postgres", ...)`` (a 503),
        a missed deadline as ``DeadlineExceeded`` (a 504), an open breaker as
        ``BreakerOpen`` (a 503 at once).
        """
        async with self.guard.attempt(), self._acquired() as conn:
            yield conn

    @asynccontextmanager
    async def _acquired(self) -> AsyncIterator[Any]:
        """A pooled connection; callers waiting for one show in ``shop_db_pool_waiters``
        and their wait in ``shop_db_pool_wait_seconds``.

        A block cut mid-query (the request's deadline, a client gone) hands the connection
        back in the background: asyncpg's release first has the server cancel the query
        (a new connection) and then resets the session, two or more round trips that on a
        slow link would add ~2 × its latency to an answer the deadline promised now. The
        connection stays out of the pool until it is clean, so the pool's limit holds.
        """
        async with postgres_errors():
            self.metrics.db_pool_waiters.inc()
            start = time.perf_counter()
            try:
                conn = await self.pool.acquire(timeout=COMMAND_TIMEOUT_S)
            finally:
                self.metrics.db_pool_waiters.dec()
                self.metrics.db_pool_wait.observe(time.perf_counter() - start)
            try:
                yield conn
            except asyncio.CancelledError:
                self._release_later(conn)
                raise
            except BaseException:
                await self.pool.release(conn)
                raise
            await self.pool.release(conn)

    def _release_later(self, conn: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._release_quietly(conn))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release_quietly(self, conn: Any) -> None:
        try:
            await self.pool.release(conn)
        except Exception as exc:  # the pool replaces a connection it could not reset
            log.info("postgres connection released after a cut query: %s", exc)

    @asynccontextmanager
    async def timed(self, query: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.db_query_duration.labels(query=query).observe(time.perf_counter() - start)

    async def _read(self, method: str, query: str, sql: str, args: tuple[object, ...]) -> Any:
        async def once() -> Any:
            async with self._acquired() as conn, self.timed(query):
                return await getattr(conn, method)(sql, *args)

        return await self.guard.call(once, idempotent=True)

    async def fetchrow(self, query: str, sql: str, *args: object) -> Any:
        """One row of a read (retried per the policy: reads are idempotent)."""
        return await self._read("fetchrow", query, sql, args)

    async def fetch(self, query: str, sql: str, *args: object) -> list[Any]:
        rows: list[Any] = await self._read("fetch", query, sql, args)
        return rows

    async def fetchval(self, query: str, sql: str, *args: object) -> Any:
        return await self._read("fetchval", query, sql, args)

    async def close(self) -> None:
        await self.pool.close()
