"""Service settings, read from ``LAB_*`` environment variables once at start-up.

Each field maps to one variable: ``pg_port`` is ``LAB_PG_PORT`` (see docs/contracts.md).
Secrets may come from a file instead: ``LAB_PG_PASSWORD_FILE`` wins over
``LAB_PG_PASSWORD``. An empty variable counts as unset, so compose's ``${X:-}`` and a
missing variable behave the same. An empty Redis password means no AUTH; an empty NATS
user means no authentication.

Nothing here runs at import time: ``ApiSettings.from_env(os.environ)`` is called by
``python -m shop_api`` (and ``WorkerSettings.from_env`` by the worker).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shop_api.resilience.retry import RetryMode

SECRET_FIELDS = ("pg_password", "redis_password", "nats_password", "api_admin_token")


class ConfigError(Exception):
    """A ``LAB_*`` variable is missing, malformed or points at an unreadable file."""


def env_name(field: str) -> str:
    return f"LAB_{field.upper()}"


def _read_secret(path: str, variable: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{variable}={path}: cannot read the secret file ({exc})") from exc


class EnvSettings(BaseModel):
    """Base: fields named after their variable, loaded by ``from_env``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Fields filled by ``from_env`` itself rather than from one variable.
    derived: ClassVar[frozenset[str]] = frozenset({"replica"})

    replica: str = Field(min_length=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        values: dict[str, str] = {}
        for field in cls.model_fields:
            if field in cls.derived:
                continue
            name = env_name(field)
            file_value = env.get(f"{name}_FILE", "")
            if field in SECRET_FIELDS and file_value:
                values[field] = _read_secret(file_value, f"{name}_FILE")
            elif env.get(name, ""):
                values[field] = env[name]
        values["replica"] = env.get("LAB_REPLICA", "") or socket.gethostname()
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = [
                f"{env_name(str(err['loc'][0])) if err['loc'] else '?'}: {err['msg']}"
                for err in exc.errors()
            ]
            raise ConfigError("bad settings: " + "; ".join(problems)) from exc


class Connections(EnvSettings):
    """How to reach PostgreSQL, Redis and NATS (shared by the API and the worker)."""

    pg_host: str = "127.0.0.1"
    pg_port: int = Field(5432, ge=1, le=65535)
    pg_user: str = "lab"
    pg_db: str = "shop"
    pg_password: str = ""
    redis_host: str = "127.0.0.1"
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_password: str = ""
    nats_host: str = "127.0.0.1"
    nats_port: int = Field(4222, ge=1, le=65535)
    nats_user: str = ""
    nats_password: str = ""

    def redacted(self) -> dict[str, object]:
        """The settings for a start-up log line, passwords masked."""
        shown = self.model_dump()
        for field in SECRET_FIELDS:
            if field in shown:
                shown[field] = "***" if shown[field] else ""
        return shown


class ApiSettings(Connections):
    """One API replica."""

    # Containers listen on every interface (compose leaves this unset, see contracts.md);
    # the native runtime always passes 127.0.0.1.
    api_host: str = "0.0.0.0"  # noqa: S104
    api_port: int = Field(8000, ge=1, le=65535)
    api_work: Literal["io", "cpu"] = "io"
    api_work_ms: float = Field(40.0, ge=0, le=60_000)
    api_concurrency: int = Field(4, ge=1, le=10_000)
    cache_ttl_s: float = Field(30.0, ge=0)  # 0: no product cache at all
    # Concurrent misses of one product share one database read.
    cache_single_flight: bool = False
    # What a product read costs the database on a cache miss: ``io`` holds a connection
    # and a backend for db_query_ms (pg_sleep), ``cpu`` burns about that much CPU in
    # Postgres itself.
    db_work: Literal["io", "cpu"] = "io"
    db_query_ms: float = Field(2.0, ge=0, le=60_000)
    db_pool_size: int = Field(0, ge=0, le=10_000)  # 0: concurrency + 4, at most 40
    seed_products: int = Field(10_000, ge=1, le=10_000_000)
    slo_seconds: float = Field(0.25, gt=0, le=60)
    # Defences around dependency calls (shop_api.resilience); the defaults leave them off,
    # so the lessons that do not study them measure the bare system.
    api_deadline_ms: float = Field(0.0, ge=0, le=600_000)  # 0: no per-request deadline
    api_retry: RetryMode = "off"
    api_retries: int = Field(3, ge=0, le=10)  # retries after the first attempt
    api_retry_budget: float = Field(0.1, ge=0, le=1)  # retries per call, at most
    api_breaker: bool = False
    api_breaker_cooldown_s: float = Field(5.0, gt=0, le=600)
    # Admission control (shop_api.admission): 0 leaves the wait for a slot unbounded.
    api_queue_timeout_ms: float = Field(0.0, ge=0, le=60_000)
    api_max_waiters: int = Field(0, ge=0, le=100_000)
    # Backpressure: POST /orders answers 503 while more orders than this wait (0: off).
    orders_max_backlog: int = Field(0, ge=0, le=10_000_000)
    # The admin endpoint (shop_api.admin) on 127.0.0.1; no token, no endpoint.
    api_admin_port: int = Field(8001, ge=1, le=65535)
    api_admin_token: str = ""

    @property
    def pool_size(self) -> int:
        """Connections per replica: ``db_pool_size``, or when it is 0 one per concurrency
        slot plus a few for the outbox relay and /readyz, capped so many replicas stay
        under Postgres' max_connections."""
        return self.db_pool_size or min(self.api_concurrency + 4, 40)
