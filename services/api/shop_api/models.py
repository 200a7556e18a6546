"""Request and response bodies. Input models are strict: ``"1"`` is not an int here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Ids are positive Postgres bigints: one beyond this could never be stored, so it is a
# 422 rather than an int8 overflow (a 500) in the query.
MAX_ID = 2**63 - 1
MAX_QUANTITY = 1000
MAX_CUSTOMER_LENGTH = 100
MAX_PAGE = 100
MAX_OFFSET = 10_000_000

ProductId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (Postgres text cannot hold them)")
    return value


Customer = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CUSTOMER_LENGTH),
    AfterValidator(_no_nul),
]


class OrderIn(BaseModel):
    """``POST /orders`` body."""

    model_config = ConfigDict(strict=True, extra="forbid")

    product_id: ProductId
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    customer: Customer


class Product(BaseModel):
    id: int
    name: str
    price_cents: int
    stock: int


class ProductPage(BaseModel):
    items: list[Product]
    limit: int
    offset: int


class OrderAccepted(BaseModel):
    order_id: UUID


class OrderStatus(BaseModel):
    order_id: UUID
    status: Literal["accepted", "processed"]
    created_at: datetime
    processed_at: datetime | None
