"""One settings object for the whole lab.

Precedence, lowest first:

1. the defaults below;
2. the config file: ``lab.toml`` in the project directory, or the file named by
   ``LAB_CONFIG``;
3. ``LAB_*`` environment variables (``LAB_LB_PORT=8081``);
4. command-line flags, applied by the CLI with ``Settings.with_overrides``.

Nothing here is read at import time: ``Settings.load()`` reads the environment when it
is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lab import defaults as d
from lab.errors import ConfigError

RuntimeName = Literal["auto", "native", "compose", "swarm"]
WorkMode = Literal["io", "cpu"]
RetryMode = Literal["off", "naive", "budgeted"]  # shop_api.resilience.retry

# Knobs a running lab can change (``lab set``, a scenario's ``set`` step): each with the
# services that read it, whose replicas are restarted one at a time with the new value.
LIVE_KNOBS: dict[str, tuple[str, ...]] = {
    "api_work": ("api",),
    "api_work_ms": ("api",),
    "api_concurrency": ("api",),
    "cache_ttl_s": ("api",),
    "cache_single_flight": ("api",),
    "db_work": ("api",),
    "db_query_ms": ("api",),
    "db_pool_size": ("api",),
    # the API's defences, so a scenario can run with and without them
    "api_deadline_ms": ("api",),
    "api_retry": ("api",),
    "api_retries": ("api",),
    "api_retry_budget": ("api",),
    "api_breaker": ("api",),
    "api_breaker_cooldown_s": ("api",),
    "api_queue_timeout_ms": ("api",),
    "api_max_waiters": ("api",),
    "orders_max_backlog": ("api",),
    "worker_work_ms": ("worker",),
    "worker_ack_wait_s": ("worker",),
}


def default_project_dir() -> Path:
    """The directory holding ``compose.yaml``: the repository this package lives in."""
    return Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAB_", extra="ignore", frozen=True)

    project_dir: Path = Field(default_factory=default_project_dir)
    home: Path | None = Field(
        default=None, description="state, logs and data of the running lab (default .lab/)"
    )
    runs_dir: Path | None = Field(default=None, description="where run folders go (runs/)")
    runtime: RuntimeName = "auto"
    compose_project: str = "prodlab"

    bind_host: str = Field(default=d.BIND_HOST, description="address every service listens on")
    lb_port: int = Field(default=d.LB_PORT, description="HAProxy, the API's front door")
    prometheus_port: int = d.PROMETHEUS_PORT
    locust_port: int = d.LOCUST_PORT
    grafana_port: int = d.GRAFANA_PORT
    lb_stats_port: int = Field(default=0, description="HAProxy stats/metrics; 0 = pick a free one")

    api_replicas: int = Field(default=d.API_REPLICAS, ge=0, le=d.MAX_REPLICAS)
    worker_replicas: int = Field(default=d.WORKER_REPLICAS, ge=0, le=d.MAX_REPLICAS)

    api_work: WorkMode = d.API_WORK
    api_work_ms: float = Field(default=d.API_WORK_MS, ge=0)
    api_concurrency: int = Field(
        default=d.API_CONCURRENCY, ge=1, description="in-flight work per API replica"
    )
    worker_work_ms: float = Field(default=d.WORKER_WORK_MS, ge=0)
    worker_ack_wait_s: float = Field(default=d.WORKER_ACK_WAIT_S, gt=0)
    cache_ttl_s: float = Field(default=d.CACHE_TTL_S, ge=0, description="0 disables the cache")
    cache_single_flight: bool = Field(
        default=d.CACHE_SINGLE_FLIGHT, description="concurrent misses of a product share a read"
    )
    db_work: WorkMode = Field(default=d.DB_WORK, description="a cache miss's database cost")
    db_query_ms: float = Field(default=d.DB_QUERY_MS, ge=0, le=60_000)
    db_pool_size: int = Field(
        default=d.DB_POOL_SIZE, ge=0, le=10_000, description="per API replica; 0: concurrency + 4"
    )
    pg_max_connections: int = Field(default=d.PG_MAX_CONNECTIONS, ge=5, le=10_000)
    seed_products: int = Field(default=d.SEED_PRODUCTS, ge=1)
    net_proxy: bool = Field(
        default=d.NET_PROXY, description="API/worker reach their dependencies through Toxiproxy"
    )
    slo_seconds: float = Field(default=d.SLO_SECONDS, gt=0)
    api_queue_timeout_ms: float = Field(
        default=d.API_QUEUE_TIMEOUT_MS, ge=0, le=60_000, description="admission control; 0: off"
    )
    api_max_waiters: int = Field(
        default=d.API_MAX_WAITERS, ge=0, le=100_000, description="admission control; 0: off"
    )
    orders_max_backlog: int = Field(
        default=d.ORDERS_MAX_BACKLOG, ge=0, le=10_000_000, description="backpressure; 0: off"
    )
    scrape_interval_s: float = Field(default=d.SCRAPE_INTERVAL_S, gt=0)
    load_workers: int = Field(
        default=0, ge=0, le=256, description="Locust worker processes; 0: one per core"
    )
    api_deadline_ms: float = Field(
        default=d.API_DEADLINE_MS, ge=0, le=600_000, description="per request; 0: none"
    )
    api_retry: RetryMode = Field(default=d.API_RETRY, description="off, naive or budgeted")
    api_retries: int = Field(default=d.API_RETRIES, ge=0, le=10)
    api_retry_budget: float = Field(default=d.API_RETRY_BUDGET, ge=0, le=1)
    api_breaker: bool = Field(default=d.API_BREAKER, description="breakers on Postgres and Redis")
    api_breaker_cooldown_s: float = Field(default=d.API_BREAKER_COOLDOWN_S, gt=0, le=600)

    ready_timeout_s: float = Field(default=d.READY_TIMEOUT_S, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config = os.environ.get("LAB_CONFIG")
        project = Path(os.environ.get("LAB_PROJECT_DIR") or default_project_dir())
        toml_path = Path(config) if config else project / "lab.toml"
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return (init_settings, env_settings, toml)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults < lab.toml < LAB_* environment < ``overrides`` (flags)."""
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            raise ConfigError(
                _describe(exc), hint="check lab.toml, LAB_* variables and flags"
            ) from exc

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with flags applied (``None`` means "flag not given")."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        try:
            return type(self).model_validate({**self.model_dump(), **given})
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from exc

    def with_knobs(self, knobs: Mapping[str, object]) -> Settings:
        """A copy with live knobs changed (``LIVE_KNOBS``); a bad name or value raises
        ``ConfigError`` naming the knob."""
        unknown = sorted(set(knobs) - set(LIVE_KNOBS))
        if unknown:
            raise ConfigError(
                f"{', '.join(unknown)}: not a knob a running lab can change",
                hint=f"live knobs: {', '.join(LIVE_KNOBS)}",
            )
        try:
            return type(self).model_validate({**self.model_dump(), **knobs})
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from exc

    def knobs_changed(self, knobs: Mapping[str, object]) -> dict[str, object]:
        """The part of ``knobs`` that differs from these settings (after validation)."""
        wanted = self.with_knobs(knobs)
        return {k: getattr(wanted, k) for k in knobs if getattr(wanted, k) != getattr(self, k)}

    @property
    def state_dir(self) -> Path:
        return (self.home or self.project_dir / ".lab").resolve()

    @property
    def runs_path(self) -> Path:
        return (self.runs_dir or self.project_dir / "runs").resolve()

    @property
    def compose_file(self) -> Path:
        return self.project_dir / "compose.yaml"


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"])
        parts.append(f"{field}: {error['msg']}")
    return "invalid settings: " + "; ".join(parts)
