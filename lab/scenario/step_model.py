"""The steps of a phase, as pydantic models (one per ``kind``), and checks."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lab import defaults
from lab.autoscale.policy import Policy
from lab.errors import LabError
from lab.faults.net import NetFault, NetKind
from lab.runtime.admin import MAX_FAULT_S, AppFault, AppFaultKind
from lab.scenario.fields import (
    _NUM_INPUT,
    Count,
    Duration,
    Name,
    Number,
    Positive,
    Strict,
    Timeout,
    _duration,
    resolve,
)
from lab.scenario.lesson import PhaseMeasure
from lab.settings import LIVE_KNOBS, Settings


class Mix(Strict):
    """Relative weights of the shop's four requests (loadtests/shop.py's ``weight_*``)."""

    browse: Annotated[int, Field(ge=0)] = defaults.LOAD_MIX["browse"]
    list: Annotated[int, Field(ge=0)] = defaults.LOAD_MIX["list"]
    order: Annotated[int, Field(ge=0)] = defaults.LOAD_MIX["order"]
    check: Annotated[int, Field(ge=0)] = defaults.LOAD_MIX["check"]

    @model_validator(mode="after")
    def _some(self) -> Mix:
        if self.browse + self.list + self.order + self.check == 0:
            raise ValueError("at least one weight must be above 0")
        return self


class LoadStep(Strict):
    """Set the load: an open loop (``rate`` req/s, arrivals due whatever the answers; the
    pool of ``users`` sends them) or a closed loop (``users``, each waiting for its
    answer and ``think_time``). ``knee_multiple`` scales the knee found earlier: its rate
    (a knee searched by rate) or its users."""

    kind: Literal["load"]
    rate: Annotated[float, BeforeValidator(resolve, json_schema_input_type=_NUM_INPUT)] | None = (
        Field(default=None, ge=0, description="open loop: arrivals per second")
    )
    users: Count | None = Field(
        default=None, description="closed loop: users; open loop: the pool size (else derived)"
    )
    knee_multiple: Positive | None = Field(
        default=None, description="this times the knee found earlier (its rate, or its users)"
    )
    think_time: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="closed loop: seconds a user waits between requests"
    )
    mix: Mix | None = Field(default=None, description="request weights (default 70/10/10/10)")
    skew: Annotated[float, Field(ge=0, le=5)] | None = Field(
        default=None, description="Zipf exponent of product popularity (0 = uniform)"
    )
    arrivals: Literal["constant", "poisson"] | None = Field(
        default=None, description="open loop: even gaps, or random ones (Poisson arrivals)"
    )
    ramp: Annotated[float, BeforeValidator(_duration, json_schema_input_type=_NUM_INPUT)] | None = (
        Field(default=None, ge=0, description="open loop: seconds to reach the new rate")
    )
    spawn_rate: Positive = Field(default=50.0, description="users started per second")

    @model_validator(mode="after")
    def _one_size(self) -> LoadStep:
        if self.users is not None and self.knee_multiple is not None:
            raise ValueError("give users or knee_multiple, not both")
        if self.rate is not None and self.knee_multiple is not None:
            raise ValueError("give rate or knee_multiple, not both")
        if self.users is None and self.knee_multiple is None and self.rate is None:
            raise ValueError("give rate, users or knee_multiple")
        if self.rate is not None and self.think_time is not None:
            raise ValueError("think_time is for a closed loop (users), not a rate")
        open_only = {"ramp": self.ramp, "arrivals": self.arrivals}
        for name, value in open_only.items():
            if value is not None and self.rate is None and self.knee_multiple is None:
                raise ValueError(f"{name} is for an open loop (rate)")
        return self


class HoldStep(Strict):
    """Keep everything as it is for a while (the phase is measured over its steady part)."""

    kind: Literal["hold"]
    duration: Duration


class ScaleStep(Strict):
    kind: Literal["scale"]
    service: Name
    replicas: Annotated[int, Field(ge=0, le=defaults.MAX_REPLICAS)]


class FaultStep(Strict):
    """A process fault on one instance: ``instance: api-2`` or ``service`` + ``index``."""

    kind: Literal["fault"]
    action: Literal["stop", "kill", "start", "restart", "pause", "resume"] = Field(
        description="kill: a crash (its restart policy may bring it back); stop: on purpose "
        "(never restarted); restart: stop + start; pause: freeze (SIGSTOP / docker pause) "
        "until resume. Whatever is still down or paused is undone at the run's end."
    )
    instance: Annotated[str, Field(pattern=r"^[a-z0-9_-]+-\d+$")] | None = None
    service: Name | None = None
    index: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> FaultStep:
        pair = self.service is not None and self.index is not None
        partial = (self.service is None) != (self.index is None)
        if partial or (self.instance is not None) == pair:
            raise ValueError("give instance (e.g. api-2), or service and index")
        return self

    @property
    def target(self) -> str:
        return self.instance or f"{self.service}-{self.index}"


class NetFaultStep(Strict):
    """A network fault on one dependency link (lab.faults.net), undone after ``duration``,
    else at the end of the run (and on Ctrl-C or an error)."""

    kind: Literal["net_fault"]
    fault: NetKind
    to: Literal["postgres", "redis", "nats"]
    ms: Annotated[int, Field(ge=0)] = 0
    jitter: Annotated[int, Field(ge=0)] = 0
    rate: Annotated[int, Field(ge=0, description="bandwidth, KB/s")] = 0
    bytes: Annotated[int, Field(ge=0)] = 0
    toxicity: Annotated[float, Field(ge=0, le=1)] = 1.0
    stream: Literal["upstream", "downstream"] = "downstream"
    duration: Duration | None = None

    @model_validator(mode="after")
    def _valid_fault(self) -> NetFaultStep:
        self.net_fault()  # the fault's own rules (latency needs ms, ...)
        return self

    def net_fault(self) -> NetFault:
        fields = self.model_dump(exclude={"kind", "fault", "duration"})
        return NetFault.model_validate({"kind": self.fault, **fields})


KnobValue = bool | int | float | str


class SetStep(Strict):
    """Change knobs of the running lab (``set: {cache_ttl_s: 2}``): the services that read
    them restart replica by replica with the new values, drained from the load balancer
    first, so no request fails. The run puts the old values back at its end."""

    kind: Literal["set"]
    knobs: Annotated[dict[str, KnobValue], Field(min_length=1)] = Field(
        description="live knobs (lab.settings.LIVE_KNOBS) and their new values"
    )

    @field_validator("knobs", mode="before")
    @classmethod
    def _resolved(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        return {name: resolve(v, info) for name, v in value.items()}

    @field_validator("knobs")
    @classmethod
    def _live(cls, value: dict[str, KnobValue]) -> dict[str, KnobValue]:
        for name, knob in value.items():
            if name not in LIVE_KNOBS:
                raise ValueError(
                    f"{name}: not a knob a running lab can change (live: {', '.join(LIVE_KNOBS)})"
                )
            field = Settings.model_fields[name]
            kind: Any = field.annotation
            if field.metadata:
                kind = Annotated[kind, *field.metadata]
            adapter: TypeAdapter[Any] = TypeAdapter(kind)
            try:
                value[name] = adapter.validate_python(knob)
            except ValidationError as exc:
                reason = "; ".join(e["msg"] for e in exc.errors())
                raise ValueError(f"{name}: {reason} (got {knob!r})") from None
        return value


class WaitUntilStep(Strict):
    """Wait until a PromQL condition returns a sample; a timeout fails check ``name``."""

    kind: Literal["wait_until"]
    expr: Annotated[str, Field(min_length=1, examples=["lab:api_replicas:up >= 4"])]
    timeout: Timeout = 60.0
    name: str | None = Field(default=None, description="record the wait as a check")


ClientStat = Literal["rps", "p50", "p95", "p99", "fail_ratio", "users"]
# what an autoscaler did (lab.run.scaling), over the phase or the whole run
AutoscalerStat = Literal[
    "api_scale_events", "worker_scale_events", "api_max_replicas", "worker_max_replicas",
    "api_min_replicas", "worker_min_replicas", "scale_ups", "breach_to_served_s",
]  # fmt: skip


class Check(Strict):
    """A named condition: one of ``measure`` (a phase measure from Prometheus ``lab:``
    rules, optionally as a ratio to another phase), ``expr`` (PromQL, now),
    ``locust`` (the load generator's current stats), ``knee`` (the knee found) or
    ``autoscaler`` (what it did: scale events, replicas it asked for, the slowest
    scale-up from breach to first request served)."""

    name: Annotated[str, Field(min_length=1)]
    measure: PhaseMeasure | None = None
    phase: Name | None = Field(
        default=None, description="phase measured (default: current phase, or the whole run)"
    )
    ratio_to: Name | None = Field(default=None, description="divide by this phase's measure")
    expr: str | None = None
    locust: ClientStat | None = None
    knee: Literal["users", "rps", "rate", "p95", "prediction_error", "confirmed"] | None = Field(
        default=None,
        description="prediction_error: |rps − predicted| / predicted; confirmed: 1 or 0",
    )
    autoscaler: AutoscalerStat | None = None
    op: Literal["<", "<=", ">", ">=", "=="]
    threshold: Number

    @model_validator(mode="after")
    def _one_source(self) -> Check:
        sources = ("measure", "expr", "locust", "knee", "autoscaler")
        given = [k for k in sources if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a check needs exactly one of {', '.join(sources)}")
        if self.ratio_to and self.measure is None:
            raise ValueError("ratio_to goes with measure")
        if self.phase and self.measure is None and self.autoscaler is None:
            raise ValueError("phase goes with measure or autoscaler")
        return self


class CheckStep(Check):
    kind: Literal["check"]


class AutoscaleStep(Strict):
    """Turn the autoscaler on with ``policy`` (the fields of a ``lab autoscale on`` policy
    file: ``api`` for an HPA, ``worker`` for KEDA; docs/autoscaling.md), replacing one
    already on, or off (``disable: true``: YAML reads ``off`` as a boolean). It runs with
    the run and stops at its end, on Ctrl-C or an error, before the replicas are put back."""

    kind: Literal["autoscale"]
    policy: Policy | None = None
    disable: bool = False

    @field_validator("policy", mode="before")
    @classmethod
    def _resolved(cls, value: Any, info: ValidationInfo) -> Any:
        return _resolve_all(value, info)

    @model_validator(mode="after")
    def _one(self) -> AutoscaleStep:
        if (self.policy is None) != self.disable:
            raise ValueError("give a policy, or disable: true")
        return self


def _resolve_all(value: Any, info: ValidationInfo) -> Any:
    """``${name}`` anywhere in nested mappings and lists (durations stay seconds)."""
    if isinstance(value, dict):
        return {k: _resolve_all(v, info) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_all(v, info) for v in value]
    return resolve(value, info)


class AnnotateStep(Strict):
    kind: Literal["annotate"]
    message: Annotated[str, Field(min_length=1)]


class FindKneeStep(Strict):
    """Find the knee from below: start at ``start`` × the capacity predicted from the knobs
    (by rate: req/s; by users: users = rate × SLO, Little's law at the SLO), step up by
    ``step`` × it until p95 crosses ``threshold`` (the SLO by default), then bisect between
    the last good and the first bad step down to ``resolution`` × it, and hold the last
    good load for ``confirm`` seconds. The knee is measured, never written down."""

    kind: Literal["find_knee"]
    by: Literal["rate", "users"] = "rate"
    start: Annotated[Positive, Field(le=1)] = 0.5
    step: Positive = 0.25
    stop: Positive = Field(default=2.0, description="give up past this × the prediction")
    resolution: Positive = 0.05
    hold: Duration
    settle: Timeout = Field(default=1.5, description="seconds of each hold not measured")
    drain: Timeout = Field(
        default=3.0, description="seconds at a light load after a step that broke the SLO"
    )
    confirm: Duration | None = Field(default=None, description="hold at the knee (default: hold)")
    spawn_rate: Positive = 100.0
    threshold: Positive | None = Field(default=None, description="p95 seconds; default: SLO")

    @model_validator(mode="after")
    def _range(self) -> FindKneeStep:
        if self.stop <= self.start:
            raise ValueError("stop must be above start")
        return self

    def planned_seconds(self) -> float:
        """An upper bound: every step up, four bisections, the drains and the confirmation."""
        steps = math.ceil((self.stop - self.start) / self.step) + 1
        return (steps + 4) * self.hold + 5 * self.drain + (self.confirm or self.hold)


class AppFaultStep(Strict):
    """An application fault in API replicas (as ``lab fault app``), through their admin
    endpoint: ``errors`` (``route`` or ``dependency``, ``percent``[, ``status``]),
    ``latency`` (``route``, ``fixed_ms``[, ``jitter_ms``]), ``cpu-hog`` (``percent``) or
    ``unready``. It lasts ``for_s`` (the replica drops it then) and is cleared at the end
    of the run at the latest, on an error or Ctrl-C too."""

    kind: Literal["app_fault"]
    fault: AppFaultKind
    replicas: list[Annotated[str, Field(pattern=r"^api-\d+$")]] | None = Field(
        default=None, description="e.g. [api-1]; default: every API replica"
    )
    route: Annotated[str, Field(min_length=1, examples=["/products/{id}"])] | None = None
    dependency: Literal["postgres", "redis"] | None = Field(
        default=None, description="errors: a share of the API's calls to it fail (retried)"
    )
    percent: Annotated[float, Field(gt=0, le=100)] | None = None
    status: Annotated[int, Field(ge=500, le=599)] | None = None
    fixed_ms: Annotated[float, Field(ge=0, le=60_000)] | None = None
    jitter_ms: Annotated[float, Field(ge=0, le=60_000)] | None = None
    for_s: Annotated[Duration, Field(le=MAX_FAULT_S)] = Field(
        description="seconds (or '30s'), scaled by the profile's time_scale like a hold"
    )

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> AppFaultStep:
        self.as_fault()
        return self

    def as_fault(self) -> AppFault:
        """The fault to ask for; ``ValueError`` naming a field it needs but lacks."""
        try:
            return AppFault(
                kind=self.fault,
                for_s=self.for_s,
                route=self.route,
                dependency=self.dependency,
                percent=self.percent,
                status=self.status,
                fixed_ms=self.fixed_ms,
                jitter_ms=self.jitter_ms,
            )
        except LabError as exc:
            raise ValueError(exc.message) from None


Step = Annotated[
    LoadStep
    | HoldStep
    | ScaleStep
    | FaultStep
    | NetFaultStep
    | WaitUntilStep
    | CheckStep
    | AnnotateStep
    | FindKneeStep
    | AppFaultStep
    | SetStep
    | AutoscaleStep,
    Field(discriminator="kind"),
]
STEP_KINDS = (
    "load",
    "hold",
    "scale",
    "fault",
    "net_fault",
    "wait_until",
    "check",
    "annotate",
    "find_knee",
    "app_fault",
    "set",
    "autoscale",
)
