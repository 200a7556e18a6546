"""The shop: catalog reads (cache-aside) and orders (stored, then queued via the outbox).

Every handler here runs inside one of the replica's work slots (see ``work.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, cast
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response

from shop_api import idempotency
from shop_api.errors import responses
from shop_api.lifecycle import Services
from shop_api.models import (
    MAX_ID,
    MAX_OFFSET,
    MAX_PAGE,
    OrderAccepted,
    OrderIn,
    OrderStatus,
    Product,
    ProductPage,
)
from shop_api.outbox import OrderMessage

router = APIRouter()


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def _services_dep(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency in a thread pool, a thread hop per request
    return services(request)


ServicesDep = Annotated[Services, Depends(_services_dep)]

PRODUCTS_PAGE = "SELECT id, name, price_cents, stock FROM products ORDER BY id LIMIT $1 OFFSET $2"
INSERT_ORDER = (
    "INSERT INTO orders (id, product_id, quantity, customer)"
    " SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM products WHERE id = $2)"
    " RETURNING created_at"
)
ORDER_BY_ID = "SELECT id AS order_id, status, created_at, processed_at FROM orders WHERE id = $1"


@router.get(
    "/products/{product_id}", response_model=Product, responses=responses(404, 422, 503, 504)
)
async def get_product(
    product_id: Annotated[int, Path(ge=1, le=MAX_ID)], svc: ServicesDep
) -> Response:
    async with svc.limiter.slot():
        body = await svc.products.read(product_id)
    if body is None:
        raise HTTPException(404, f"product {product_id} does not exist")
    return Response(body, media_type="application/json")


@router.get("/products", response_model=ProductPage, responses=responses(422, 503, 504))
async def list_products(
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ProductPage:
    async with svc.limiter.slot():
        rows = await svc.db.fetch("products_page", PRODUCTS_PAGE, limit, offset)
    items = [Product.model_validate(dict(row)) for row in rows]
    return ProductPage(items=items, limit=limit, offset=offset)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.KEY_HEADER,
        min_length=1,
        max_length=idempotency.MAX_KEY_LENGTH,
        pattern=idempotency.KEY_PATTERN,
        description="Retry safely: the same key and body give the same order, never a second"
        " one; the same key with another body is a 422",
    ),
]


ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Stored and queued (or, for a repeated Idempotency-Key, the first order)",
        "headers": {
            idempotency.REPLAYED_HEADER: {
                "description": "`true` when the answer is the stored one for this key",
                "required": False,
                "schema": {"type": "string", "enum": ["true"]},
            }
        },
    }
}


@router.post(
    "/orders",
    status_code=202,
    response_model=OrderAccepted,
    responses={**ACCEPTED, **responses(400, 415, 422, 503, 504)},
)
async def create_order(
    order: OrderIn,
    svc: ServicesDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrderAccepted:
    """Store the order and its outbox row in one transaction; 202 once committed.

    Refused with 503 while the order backlog is over ``LAB_ORDERS_MAX_BACKLOG``."""
    svc.backpressure.admit()
    message = OrderMessage(order_id=uuid4(), product_id=order.product_id, quantity=order.quantity)
    async with svc.limiter.slot():
        async with (
            svc.db.connection() as conn,
            svc.db.timed("insert_order"),
            conn.transaction(),
        ):
            if idempotency_key is not None:
                try:
                    replay = await idempotency.claim(conn, idempotency_key, order, message.order_id)
                except idempotency.KeyReused as exc:
                    raise HTTPException(422, str(exc)) from exc
                if replay is not None:  # nothing was written: the transaction is empty
                    svc.metrics.idempotent_replays.inc()
                    response.headers[idempotency.REPLAYED_HEADER] = "true"
                    return OrderAccepted(order_id=replay.order_id)
            created = await conn.fetchval(
                INSERT_ORDER, message.order_id, order.product_id, order.quantity, order.customer
            )
            if created is None:
                # A well-formed order naming no product: the body is wrong (422), and the
                # FK violation the INSERT would have raised never happens (no 500).
                raise HTTPException(422, f"product_id {order.product_id} does not exist")
            await svc.outbox.add(conn, message)
        svc.metrics.orders_accepted.inc()
        svc.outbox.publish_soon(message)
    return OrderAccepted(order_id=message.order_id)


@router.get(
    "/orders/{order_id}", response_model=OrderStatus, responses=responses(404, 422, 503, 504)
)
async def get_order(order_id: UUID, svc: ServicesDep) -> OrderStatus:
    async with svc.limiter.slot():
        row = await svc.db.fetchrow("order_by_id", ORDER_BY_ID, order_id)
    if row is None:
        raise HTTPException(404, f"order {order_id} does not exist")
    return OrderStatus.model_validate(dict(row))
