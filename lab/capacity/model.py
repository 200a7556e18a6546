"""The plan's two inputs: the user model (a YAML file, stated) and ``Measured`` (the lab's).

    model = load_user_model(Path("scenarios/capacity/users.yaml"))   # ConfigError names the field
    measured = Measured(usl=fitted, knee_rps_per_replica=94.6, api_db_pool=8, ...)

The user model is what is assumed about users; ``Measured`` is what the lab measured or
is configured with. The plan (plan.py) keeps the two apart in every row's basis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from lab.capacity.usl import UslFit
from lab.errors import ConfigError

USER_COUNTS = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
"""Daily active users planned for when a model does not say."""


class Mix(BaseModel):
    """Shares of requests by kind, as the lab's load generator sends them; they sum to 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    browse: float = Field(ge=0, le=1)  # GET /products/{id}: cached, a query on a miss
    list: float = Field(ge=0, le=1)  # GET /products: one query
    order: float = Field(ge=0, le=1)  # POST /orders: a transaction, then the worker's
    check: float = Field(ge=0, le=1)  # GET /orders/{id}: one query

    @model_validator(mode="after")
    def _sums_to_one(self) -> Mix:
        total = self.browse + self.list + self.order + self.check
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"the shares must sum to 1 (they sum to {total:g})")
        return self


class UserModel(BaseModel):
    """How users behave: every figure here is an assumption, stated."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = ""
    users: list[PositiveInt] = Field(default_factory=lambda: list(USER_COUNTS), min_length=1)
    sessions_per_user_per_day: float = Field(gt=0)
    requests_per_session: float = Field(gt=0)
    mix: Mix
    peak_to_average: float = Field(ge=1)
    think_time_s: float = Field(ge=0)
    catalogue_products: int = Field(ge=1, le=10_000_000)
    zipf_exponent: float = Field(ge=0, le=5)  # product k is read with weight 1 / k**s
    hot_read_share: float = Field(default=0.9, gt=0, lt=1)  # the cache working set covers it
    headroom: float = Field(default=0.3, ge=0, le=10)  # capacity above the peak


@dataclass(frozen=True)
class Measured:
    """The lab's figures the plan extrapolates from; ``source`` says where they came from
    (a run folder, a document) and goes into every row's basis."""

    usl: UslFit  # knees at ≥ 6 replica counts, fitted
    knee_rps_per_replica: float  # one replica's knee (open loop, p95 at the SLO)
    api_db_pool: int  # connections per API replica
    pg_max_connections: int
    db_max_queries_per_s: float  # the most queries/s one Postgres served
    worker_orders_per_s: float  # one worker's orders/s
    cache_ttl_s: float  # the product cache's TTL (0: no cache)
    worker_db_pool: int = 2  # shop_worker opens a pool of 2
    pg_reserved_connections: int = 3  # Postgres' superuser_reserved_connections default
    db_queries_per_order: float = 3.0  # the API's insert, the worker's attempt and its update
    response_s: float = 0.0  # mean response time below the knee (Little: N = X·(R + Z))
    measured_hit_ratio: float | None = None  # the lab's cache hit ratio, for the basis
    cache_item_bytes: int = 1024  # one product in the cache (assumed unless measured)
    source: str = "the lab's measurements"

    def __post_init__(self) -> None:
        positive = {
            "knee_rps_per_replica": self.knee_rps_per_replica,
            "api_db_pool": self.api_db_pool,
            "db_max_queries_per_s": self.db_max_queries_per_s,
            "worker_orders_per_s": self.worker_orders_per_s,
            "cache_item_bytes": self.cache_item_bytes,
        }
        bad = [name for name, value in positive.items() if not value > 0]
        if bad:
            raise ValueError(f"Measured: {', '.join(bad)} must be > 0")
        if self.pg_max_connections <= self.pg_reserved_connections:
            raise ValueError("Measured: pg_max_connections must exceed the reserved connections")
        if self.cache_ttl_s < 0 or self.response_s < 0 or self.worker_db_pool < 0:
            raise ValueError("Measured: cache_ttl_s, response_s, worker_db_pool must be ≥ 0")

    @property
    def connection_limit(self) -> int:
        """Connections the services may open: max_connections less the reserved ones."""
        return self.pg_max_connections - self.pg_reserved_connections


def load_user_model(path: Path) -> UserModel:
    """Read and validate a user model; a bad file raises ``ConfigError`` naming each bad
    field and its line."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        lines = _key_lines(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the user model ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_user_model(data, source=str(path), lines=lines)


def parse_user_model(
    data: Any, *, source: str = "user model", lines: dict[str, int] | None = None
) -> UserModel:
    try:
        return UserModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"]) or "(top level)"
            at = (lines or {}).get(field) or (lines or {}).get(field.rsplit(".", 1)[0])
            where = f"{field} (line {at})" if at else field
            problems.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
        raise ConfigError(
            f"{source}: {'; '.join(problems)}", hint="fix the user model; see its comments"
        ) from None


def _key_lines(text: str) -> dict[str, int]:
    """The line (1-based) of every mapping key, by dotted path."""
    out: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = f"{prefix}.{key.value}" if prefix else str(key.value)
                out[path] = key.start_mark.line + 1
                walk(value, path)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return out
