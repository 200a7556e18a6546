"""The integrity audit at the end of a run: was every accepted order processed exactly once?

Read straight from the system's own records, never from its metrics:

* Postgres: no order still ``accepted`` (stuck), no outbox row left (unpublished), and
  the stock moved exactly once per processed order. Only the worker moves stock, by the
  order's quantity, once per order, so for every product
  ``SEED_STOCK - stock == sum(quantity of its processed orders)``; a product that moved
  more (an order taken twice) or less (a lost movement) is named with its orders.
* JetStream: the orders consumer has nothing pending and nothing delivered but unacked.

The queue may still hold work when the load stops, so the audit first waits (at most
``drain_s``) until nothing is stuck, pending or in the outbox, then judges. The checks
hold over the whole database (every run so far); the counts of the run's own orders
(``since``) are reported beside them. Deliveries count every attempt (``attempts``):
``redelivered = deliveries - processed`` is what at-least-once cost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.defaults import ORDERS_CONSUMER, ORDERS_STREAM, SEED_STOCK

POLL_S = 0.5
SHOWN = 5  # mismatches and order ids named in the detail

PENDING = (
    "SELECT (SELECT count(*) FROM orders WHERE status = 'accepted') AS stuck,"
    " (SELECT count(*) FROM outbox) AS outbox"
)
COUNTS = (
    "SELECT count(*) AS orders,"
    " count(*) FILTER (WHERE status = 'processed') AS processed,"
    " coalesce(sum(attempts) FILTER (WHERE status = 'processed'), 0) AS deliveries"
    " FROM orders WHERE created_at >= to_timestamp($1)"
)
STUCK = "SELECT id FROM orders WHERE status = 'accepted' ORDER BY created_at LIMIT $1"
# products whose stock moved by something else than their processed orders' quantities
STOCK = """
SELECT p.id, $1::bigint - p.stock AS moved, coalesce(o.quantity, 0) AS expected,
       coalesce(o.ids, '{}') AS order_ids, count(*) OVER () AS total
FROM products p
LEFT JOIN (
    SELECT product_id, sum(quantity) AS quantity,
           (array_agg(id::text ORDER BY created_at))[1:$2] AS ids
    FROM orders WHERE status = 'processed' GROUP BY product_id
) o ON o.product_id = p.id
WHERE $1::bigint - p.stock <> coalesce(o.quantity, 0)
ORDER BY p.id LIMIT $2
"""


@dataclass
class Audit:
    passed: bool
    detail: str
    orders: int = 0  # accepted (stored) during the run
    processed: int = 0  # of those, processed
    deliveries: int = 0  # worker deliveries of those processed (attempts)
    stuck: int = 0  # still `accepted` after the drain wait (all runs)
    outbox_left: int = 0
    stock_mismatched: int = 0  # products whose stock disagrees with their orders
    stock_mismatches: list[str] = field(default_factory=list)  # the first few, named
    num_pending: int | None = None
    num_ack_pending: int | None = None
    waited_s: float = 0.0

    @property
    def redelivered(self) -> int:
        return max(0, self.deliveries - self.processed)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "redelivered": self.redelivered}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Audit:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


def audit(pg_dsn: str, nats_url: str, *, since: float, drain_s: float) -> Audit:
    """Wait up to ``drain_s`` for the queue to drain, then audit (see the module)."""
    try:
        return asyncio.run(_audit(pg_dsn, nats_url, since=since, drain_s=drain_s))
    except Exception as exc:  # an audit that cannot run fails, saying why
        return Audit(False, f"the audit could not run: {type(exc).__name__}: {exc}")


async def _audit(pg_dsn: str, nats_url: str, *, since: float, drain_s: float) -> Audit:
    import asyncpg
    import nats

    conn = await asyncpg.connect(pg_dsn, timeout=10)
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        started = time.monotonic()
        while True:
            row = await conn.fetchrow(PENDING)
            info = await js.consumer_info(ORDERS_STREAM, ORDERS_CONSUMER)
            stuck, outbox = int(row["stuck"]), int(row["outbox"])
            pending, unacked = int(info.num_pending or 0), int(info.num_ack_pending or 0)
            if stuck == outbox == pending == unacked == 0:
                break
            if time.monotonic() - started >= drain_s:
                break
            await asyncio.sleep(POLL_S)
        waited = time.monotonic() - started
        counts = await conn.fetchrow(COUNTS, since)
        stuck_ids = [str(r["id"]) for r in await conn.fetch(STUCK, SHOWN)]
        rows = await conn.fetch(STOCK, SEED_STOCK, SHOWN)
    finally:
        await nc.close()
        await conn.close()
    mismatches = [
        f"product {r['id']}: stock moved {r['moved']}, its processed orders account for "
        f"{r['expected']} (orders {', '.join(r['order_ids']) or 'none'})"
        for r in rows
    ]
    result = Audit(
        passed=False,
        detail="",
        orders=int(counts["orders"]),
        processed=int(counts["processed"]),
        deliveries=int(counts["deliveries"]),
        stuck=stuck,
        outbox_left=outbox,
        stock_mismatched=int(rows[0]["total"]) if rows else 0,
        stock_mismatches=mismatches,
        num_pending=pending,
        num_ack_pending=unacked,
        waited_s=round(waited, 2),
    )
    problems = _problems(result, stuck_ids, drain_s)
    result.passed = not problems
    result.detail = "; ".join(problems) if problems else _summary(result)
    return result


def _problems(a: Audit, stuck_ids: list[str], drain_s: float) -> list[str]:
    found = []
    if a.stuck:
        found.append(
            f"{a.stuck} order(s) still accepted after {drain_s:g} s: {', '.join(stuck_ids)}"
        )
    if a.outbox_left:
        found.append(f"{a.outbox_left} outbox row(s) never published")
    if a.num_pending or a.num_ack_pending:
        found.append(
            f"the {ORDERS_CONSUMER} consumer still has {a.num_pending} pending and "
            f"{a.num_ack_pending} unacknowledged message(s)"
        )
    if a.stock_mismatched:
        more = a.stock_mismatched - len(a.stock_mismatches)
        found.append(
            f"stock not moved exactly once per processed order: {'; '.join(a.stock_mismatches)}"
            + (f" (and {more} more product(s))" if more > 0 else "")
        )
    return found


def _summary(a: Audit) -> str:
    return (
        f"{a.orders} order(s) accepted in the run, {a.processed} processed exactly once "
        f"({a.deliveries} deliveries, {a.redelivered} redelivered), nothing stuck, "
        "outbox empty, "
        f"queue drained (waited {a.waited_s:g} s)"
    )
