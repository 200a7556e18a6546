"""Autoscaling policies: what to scale, on which signal, within which limits, how fast.

The defaults are Kubernetes' and KEDA's own (autoscaling/v2 ``behavior`` and KEDA's
ScaledObject): an HPA syncs every 15 s, ignores ratios within 10 % of 1, scales up by
max(100 %, 4 pods) per 15 s with no window, and down by 100 % per 15 s only after the
highest recommendation of the last 300 s allows it; KEDA polls every 30 s, activates
above the activation threshold and goes back to zero 300 s after the last activity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lab.errors import ConfigError

Seconds = Annotated[float, Field(ge=0)]
Replicas = Annotated[int, Field(ge=0, le=32)]

# what each API signal measures, per replica (p95: the whole service's, against its target)
METRICS = {
    "concurrency": "requests inside the replica (working or waiting) ÷ its slots",
    "slots": "busy work slots ÷ slots (at most 100 %: a full replica hides its queue)",
    "cpu": "process CPU, cores",
    "rps": "requests answered per second",
    "p95": "the service's p95 latency, seconds (an object metric: one value)",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(Strict):
    """One scaling policy: at most ``value`` pods, or ``value`` % of the replicas at the
    start of the period, added (or removed) per ``period_s``."""

    type: Literal["pods", "percent"]
    value: Annotated[int, Field(gt=0)]
    period_s: Annotated[float, Field(gt=0, le=1800)]


class Direction(Strict):
    """Scale-up or scale-down behaviour: the stabilisation window and the rate limits."""

    window_s: Seconds
    rules: tuple[Rule, ...]
    select: Literal["max", "min", "disabled"] = "max"


UP = Direction(
    window_s=0,
    rules=(Rule(type="percent", value=100, period_s=15), Rule(type="pods", value=4, period_s=15)),
)
DOWN = Direction(window_s=300, rules=(Rule(type="percent", value=100, period_s=15),))


class HpaPolicy(Strict):
    """An HPA on the API replicas."""

    metric: Literal["concurrency", "slots", "cpu", "rps", "p95"] = "concurrency"
    target: Annotated[float, Field(gt=0)] = Field(
        default=0.7, description="per replica (p95: seconds for the service)"
    )
    min_replicas: Annotated[int, Field(ge=1, le=32)] = 1
    max_replicas: Annotated[int, Field(ge=1, le=32)] = 4
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.1
    sync_s: Annotated[float, Field(ge=1, le=300)] = 15.0
    window_s: Annotated[float, Field(ge=1, le=60)] = Field(
        default=15.0, description="the metric is averaged over this many seconds"
    )
    up: Direction = UP
    down: Direction = DOWN

    @model_validator(mode="after")
    def _bounds(self) -> HpaPolicy:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class KedaPolicy(Strict):
    """A KEDA ScaledObject on the workers, NATS JetStream scaler (lag = the consumer's
    num_pending + num_ack_pending). From 1 replica up an HPA does the scaling on lag per
    replica (target ``lag_threshold``), with ``down`` as its behaviour."""

    lag_threshold: Annotated[int, Field(gt=0)] = 10
    activation_lag: Annotated[int, Field(ge=0)] = 0
    min_replicas: Replicas = 0
    max_replicas: Annotated[int, Field(ge=1, le=32)] = 4
    polling_s: Annotated[float, Field(ge=1, le=300)] = 30.0
    cooldown_s: Seconds = 300.0
    initial_cooldown_s: Seconds = Field(
        default=0.0, description="initialCooldownPeriod: before zero when never active"
    )
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.1
    up: Direction = UP
    down: Direction = DOWN

    @model_validator(mode="after")
    def _bounds(self) -> KedaPolicy:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self

    def hpa(self) -> HpaPolicy:
        """The HPA KEDA creates for 1..max replicas (an external AverageValue metric)."""
        return HpaPolicy(
            metric="rps",  # unused: the lag is one external value (see keda.Keda)
            target=self.lag_threshold,
            min_replicas=max(self.min_replicas, 1),
            max_replicas=self.max_replicas,
            tolerance=self.tolerance,
            sync_s=self.polling_s,
            up=self.up,
            down=self.down,
        )


class Policy(Strict):
    """What the autoscaler runs: an HPA on ``api``, a KEDA scaler on ``worker``, or both."""

    api: HpaPolicy | None = None
    worker: KedaPolicy | None = None

    def describe(self) -> str:
        parts = []
        if self.api is not None:
            a = self.api
            parts.append(
                f"api HPA on {a.metric} (target {a.target:g}), {a.min_replicas}–{a.max_replicas}"
                f" replicas, sync {a.sync_s:g} s, windows up {a.up.window_s:g} s"
                f" / down {a.down.window_s:g} s"
            )
        if self.worker is not None:
            w = self.worker
            parts.append(
                f"worker KEDA on lag (threshold {w.lag_threshold}, activation {w.activation_lag}),"
                f" {w.min_replicas}–{w.max_replicas} replicas, polling {w.polling_s:g} s,"
                f" cooldown {w.cooldown_s:g} s"
            )
        return "; ".join(parts)

    @model_validator(mode="after")
    def _something(self) -> Policy:
        if self.api is None and self.worker is None:
            raise ValueError("a policy scales api, worker or both")
        return self


def load_policy(path: Path) -> Policy:
    """A policy file (YAML); a bad one names the field."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the policy {path}: {exc}") from exc
    return parse_policy(raw, source=str(path))


def parse_policy(raw: object, *, source: str = "policy") -> Policy:
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ConfigError(
            f"{source}: {where}: {first['msg']}",
            hint="see docs/autoscaling.md for the fields",
        ) from exc
