"""Cache-aside for products on Redis.

A cache that is down must not take the catalog down: lookups that fail count as misses
and fall through to Postgres (``/readyz`` still reports Redis as unreachable).
A TTL of 0 disables the cache: no Redis read or write for products, and every lookup
counts as ``result="bypass"``.

Every Redis call goes through the Redis ``Guard``: bounded by the request's deadline,
retried per ``LAB_API_RETRY``, and skipped while Redis' breaker is open (a miss, read
from Postgres, without waiting on a Redis that is down: graceful degradation).
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from shop_api.config import Connections
from shop_api.errors import BackendUnavailable
from shop_api.metrics import ApiMetrics
from shop_api.models import Product
from shop_api.resilience import deadline
from shop_api.resilience.guard import Guard

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 0.5


def connect(settings: Connections) -> Redis:
    """A client (connections open lazily); an empty password means no AUTH.

    One immediate retry replaces a pooled connection that went stale (Redis restarted);
    no backoff, so a Redis outage costs a request milliseconds, not seconds.
    """
    return Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        password=settings.redis_password or None,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), retries=1),
    )


class ProductCache:
    def __init__(self, redis: Redis, ttl_s: float, metrics: ApiMetrics, guard: Guard) -> None:
        self.redis = redis
        self.guard = guard
        self.enabled = ttl_s > 0
        self.ttl_ms = max(1, round(ttl_s * 1000))
        self.metrics = metrics
        self._last_warning = 0.0
        metrics.cache_ttl_seconds.set(ttl_s)
        self._hit, self._miss, self._bypass = (
            metrics.cache_requests.labels(result) for result in ("hit", "miss", "bypass")
        )

    @staticmethod
    def key(product_id: int) -> str:
        return f"product:{product_id}"

    async def get(self, product_id: int) -> bytes | None:
        """The cached JSON of a product, or None on a miss (or when Redis is down)."""
        if not self.enabled:
            self._bypass.inc()
            return None
        cached: bytes | None = None
        try:
            raw = await self.guard.call(lambda: self.redis.get(self.key(product_id)))
            cached = raw.encode() if isinstance(raw, str) else raw
        except deadline.DeadlineExceeded:
            pass  # the request's budget, not Redis: the read that follows answers 504
        except (RedisError, OSError, BackendUnavailable) as exc:
            self._warn(exc)
        (self._miss if cached is None else self._hit).inc()
        return cached

    async def put(self, product: Product) -> bytes:
        body = product.model_dump_json().encode()
        if not self.enabled:
            return body
        try:
            await self.guard.call(
                lambda: self.redis.set(self.key(product.id), body, px=self.ttl_ms)
            )
        except (RedisError, OSError, BackendUnavailable) as exc:
            self._warn(exc)
        return body

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 10.0:
            self._last_warning = now
            log.warning("redis cache unavailable, serving from postgres: %s", exc)
