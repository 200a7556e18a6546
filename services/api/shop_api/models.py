"""Request and response bodies: the OpenAPI document is generated from these.

Input models are strict (``"1"`` and ``true`` are not ints), and every input constraint
is in the schema too, so a request the schema allows is one the API accepts. The one
exception is what only the database knows: an order for an unknown ``product_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

# Ids are positive Postgres bigints: one beyond this could never be stored, so it is a
# 422 rather than an int8 overflow (a 500) in the query.
MAX_ID = 2**63 - 1
MAX_QUANTITY = 1000
MAX_CUSTOMER_LENGTH = 100
MAX_PAGE = 100
MAX_OFFSET = 10_000_000


ProductId = Annotated[int, Field(ge=1, le=MAX_ID)]

# The customer as the schema states it: at most 100 characters, no NUL, and one that
# is not blank. Python's ``\s`` is what ``str.strip`` removes, and ``_customer`` checks
# exactly that (pydantic's own strip is Rust's, a different set of blanks), so the
# model and the schema agree; tests/unit/shop_api/test_shop_units.py checks it.
CUSTOMER_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def _customer(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (Postgres text cannot hold them)")
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


Customer = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_CUSTOMER_LENGTH),
    AfterValidator(_customer),
    Field(json_schema_extra={"pattern": CUSTOMER_PATTERN}),
]


class OrderIn(BaseModel):
    """``POST /orders`` body."""

    model_config = ConfigDict(strict=True, extra="forbid")

    product_id: ProductId
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    customer: Customer

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers_are_ints(cls, data: Any) -> Any:
        """JSON Schema calls 586.0 an integer (no fractional part), so the API takes it
        as 586; 1.5, "586" and true stay refused. (A ``BeforeValidator`` on the field
        would do the same but turn its bounds into floats in the schema: 2**63-1 would
        read as 2**63.)"""
        if not isinstance(data, dict):
            return data
        return {
            key: int(value)
            if key in ("product_id", "quantity") and isinstance(value, float) and value.is_integer()
            else value
            for key, value in data.items()
        }


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


class Health(BaseModel):
    status: Literal["ok"]
    replica: str


class Ready(BaseModel):
    status: Literal["ready"]
    replica: str


ErrorCode = Literal[
    "bad_request",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "unsupported_media_type",
    "invalid_request",
    "internal_error",
    "unavailable",
    "deadline_exceeded",
]


class FieldProblem(BaseModel):
    """One input that was refused (pydantic's error, without the input itself)."""

    loc: list[str | int] = Field(description='where, e.g. ["body", "quantity"]')
    msg: str
    type: str = Field(description="pydantic's error type, e.g. greater_than_equal")


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorCode = Field(description="the kind of failure, one word per status")
    reason: str = Field(description="one readable line: what was wrong or what failed")
    problems: list[FieldProblem] | None = Field(
        None, description="422 for malformed input only: each refused input"
    )
    failed: dict[str, str] | None = Field(
        None, description="/readyz 503 only: each unreachable dependency and why"
    )
