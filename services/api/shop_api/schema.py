"""The shop's tables, created idempotently, and the seeded catalog.

Several replicas (and workers) may start at once: the DDL and the seed run in one
transaction under a transaction-scoped advisory lock, so they take turns, and every
statement is ``IF NOT EXISTS`` / ``ON CONFLICT DO NOTHING`` so the later ones do nothing.
"""

from __future__ import annotations

from typing import Any

# pg_advisory_xact_lock key; any constant shared by everything that runs this DDL.
SCHEMA_LOCK_KEY = 0x5_0D1AB

DDL = """
CREATE TABLE IF NOT EXISTS products (
    id          bigint PRIMARY KEY,
    name        text        NOT NULL,
    price_cents integer     NOT NULL CHECK (price_cents >= 0),
    stock       bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS orders (
    id           uuid        PRIMARY KEY,
    product_id   bigint      NOT NULL REFERENCES products (id),
    quantity     integer     NOT NULL CHECK (quantity > 0),
    customer     text        NOT NULL,
    status       text        NOT NULL DEFAULT 'accepted'
                             CHECK (status IN ('accepted', 'processed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox (
    id         bigserial   PRIMARY KEY,
    order_id   uuid        NOT NULL REFERENCES orders (id),
    subject    text        NOT NULL,
    payload    bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts   integer     NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_created_at_idx ON outbox (created_at);
-- Idempotency-Key of POST /orders (shop_api.idempotency): written in the order's own
-- transaction; the FK is checked at commit, so the key can be claimed before the order.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key         text        PRIMARY KEY,
    fingerprint bytea       NOT NULL,
    order_id    uuid        NOT NULL REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED,
    created_at  timestamptz NOT NULL DEFAULT now()
);
"""

# Deterministic, varied prices; a stock large enough that a lab run never empties it.
SEED = """
INSERT INTO products (id, name, price_cents, stock)
SELECT g, 'Product ' || g, 100 + (g * 7919) % 99900, $2::bigint
FROM generate_series(1, $1::bigint) AS g
ON CONFLICT (id) DO NOTHING
"""

INITIAL_STOCK = 1_000_000


async def ensure_schema(conn: Any, *, seed_products: int = 0) -> int:
    """Create the tables if missing and seed products 1..``seed_products``.

    Returns how many products were inserted (0 when the catalog was already there).
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
        await conn.execute(DDL)
        if seed_products <= 0:
            return 0
        present = await conn.fetchval(
            "SELECT count(*) FROM products WHERE id BETWEEN 1 AND $1", seed_products
        )
        if present >= seed_products:
            return 0
        status: str = await conn.execute(SEED, seed_products, INITIAL_STOCK)
        return int(status.rsplit(" ", 1)[-1])
