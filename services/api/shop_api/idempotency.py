"""``Idempotency-Key`` on ``POST /orders``, with Stripe's semantics.

A client that retries an order (a timeout, a 503, a dropped connection) sends the same
key again. The first request with a key stores ``(key, fingerprint of the body, order
id)`` in ``idempotency_keys`` *in the transaction that inserts the order and its outbox
row*, so the key exists exactly when the order does. A later request with the key:

* the same body: answered 202 with the stored order id, and no second order;
* a different body: 422 naming the header (a key is not reusable for another order).

The key is the table's primary key: of two concurrent requests with one key, the second
``INSERT ... ON CONFLICT DO NOTHING`` waits for the first transaction and then sees its
row (or, if it rolled back, inserts its own). Keys are kept (Stripe keeps them 24 h; a
lab run is shorter than that, so nothing expires them here).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shop_api.models import OrderIn

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x21-\x7e]+$"  # printable ASCII, no spaces: what a UUID or a token is

CLAIM = (
    "INSERT INTO idempotency_keys (key, fingerprint, order_id) VALUES ($1, $2, $3)"
    " ON CONFLICT (key) DO NOTHING RETURNING order_id"
)
STORED = "SELECT fingerprint, order_id FROM idempotency_keys WHERE key = $1"


def fingerprint(order: OrderIn) -> bytes:
    """The body as the API understood it (so key order and spacing do not matter)."""
    canonical = json.dumps(order.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


class KeyReused(Exception):
    """The key was first used with another body: a 422."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"header.{KEY_HEADER}: key {key!r} was already used for an order with a"
            " different body; use a new key for a new order"
        )


@dataclass(frozen=True)
class Replay:
    """The key was used before with this body: answer with the first order."""

    order_id: UUID


async def claim(conn: Any, key: str, order: OrderIn, order_id: UUID) -> Replay | None:
    """Inside the order's transaction: claim ``key`` for ``order_id`` (None), or find
    the order it already names (``Replay``); ``KeyReused`` if the bodies differ."""
    print_ = fingerprint(order)
    if await conn.fetchval(CLAIM, key, print_, order_id) is not None:
        return None
    row = await conn.fetchrow(STORED, key)
    if row is None:  # cannot happen: the conflicting row is committed and never deleted
        raise RuntimeError(f"idempotency key {key!r} conflicted but is not stored")
    if bytes(row["fingerprint"]) != print_:
        raise KeyReused(key)
    return Replay(order_id=row["order_id"])
