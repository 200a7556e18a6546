"""NATS JetStream: the connection, and the ORDERS stream the API publishes to.

Shared with the worker, so the stream, subject and consumer names live in one place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shop_api.config import Connections

log = logging.getLogger(__name__)

STREAM = "ORDERS"
SUBJECT = "orders.created"
CONSUMER = "workers"
# Re-publishes with the same Nats-Msg-Id inside this window are dropped by JetStream.
DUPLICATE_WINDOW_S = 120.0
MSG_ID_HEADER = "Nats-Msg-Id"


def _quiet_errors(who: str) -> Callable[[Exception], Awaitable[None]]:
    """A NATS error callback (must be a coroutine function) that logs one line per
    distinct error per 10 s, instead of a traceback on every reconnect attempt."""
    last: dict[str, float] = {}

    async def on_error(exc: Exception) -> None:
        key = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if now - last.get(key, 0.0) >= 10.0:
            last[key] = now
            log.warning("%s: nats: %s", who, key)

    return on_error


async def connect(settings: Connections, *, name: str, timeout: float) -> Any:
    """Connect to NATS, retrying until ``timeout``; reconnect forever afterwards."""

    async def disconnected() -> None:
        log.warning("%s: disconnected from NATS", name)

    async def reconnected() -> None:
        log.warning("%s: reconnected to NATS", name)

    options: dict[str, Any] = {
        "servers": [f"nats://{settings.nats_host}:{settings.nats_port}"],
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 2,
        "error_cb": _quiet_errors(name),
        "disconnected_cb": disconnected,
        "reconnected_cb": reconnected,
    }
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password
    try:
        return await asyncio.wait_for(nats.connect(**options), timeout)
    except TimeoutError as exc:
        raise ConnectionError(
            f"NATS at {settings.nats_host}:{settings.nats_port} not reachable within {timeout:g} s"
        ) from exc


def stream_config() -> StreamConfig:
    return StreamConfig(
        name=STREAM,
        subjects=[SUBJECT],
        storage=StorageType.FILE,
        retention=RetentionPolicy.WORK_QUEUE,  # a message leaves once acked
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_S,
    )


async def ensure_stream(js: Any) -> None:
    """Create the ORDERS stream if missing (identical concurrent creates are fine)."""
    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        await js.add_stream(stream_config())
        log.info("created JetStream stream %s", STREAM)
