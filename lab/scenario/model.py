"""The scenario file, as pydantic models: what `lab scenario schema` prints.

A scenario is phases of steps. Numbers may be written as ``${var}``: ``vars`` declares
them, a profile (``quick``, ``full``) overrides some and scales every duration by its
``time_scale``. ``${slo}`` is always the scenario's ``slo_seconds``. Variables and the
time scale are applied while validating (``context={"vars": ..., "time_scale": ...}``),
so a validated ``Scenario`` holds plain numbers: the scenario as it will run.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lab import defaults
from lab.errors import LabError
from lab.faults.net import NetFault, NetKind
from lab.runtime.admin import MAX_FAULT_S, AppFault, AppFaultKind
from lab.scenario.lesson import PhaseMeasure, Prediction, Watch
from lab.settings import LIVE_KNOBS, Settings

_VAR = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}$")
_DURATION = re.compile(r"^(?P<n>-?\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


def _resolve(value: Any, info: ValidationInfo) -> Any:
    """``"${name}"`` → the variable's value (profile overrides applied)."""
    if not isinstance(value, str) or not (match := _VAR.match(value.strip())):
        return value
    variables: dict[str, float] = (info.context or {}).get("vars", {})
    name = match["name"]
    if name not in variables:
        declared = ", ".join(sorted(variables)) or "none"
        raise ValueError(f"unknown variable ${{{name}}} (declared: {declared})")
    return variables[name]


def _seconds(value: Any, info: ValidationInfo, *, scaled: bool) -> Any:
    value = _resolve(value, info)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if not match:
            raise ValueError(f"not a duration: {value!r} (write 30, '30s', '2m', '500ms')")
        value = float(match["n"]) * _UNIT[match["unit"]]
    if scaled and isinstance(value, int | float) and not isinstance(value, bool):
        return value * float((info.context or {}).get("time_scale", 1.0))
    return value


def _duration(value: Any, info: ValidationInfo) -> Any:
    return _seconds(value, info, scaled=True)


def _timeout(value: Any, info: ValidationInfo) -> Any:
    return _seconds(value, info, scaled=False)


_NUM_INPUT = float | str
Count = Annotated[int, BeforeValidator(_resolve, json_schema_input_type=int | str), Field(ge=0)]
Number = Annotated[float, BeforeValidator(_resolve, json_schema_input_type=_NUM_INPUT)]
Positive = Annotated[
    float, BeforeValidator(_resolve, json_schema_input_type=_NUM_INPUT), Field(gt=0)
]
Duration = Annotated[
    float,
    BeforeValidator(_duration, json_schema_input_type=_NUM_INPUT),
    Field(gt=0, description="seconds (or '30s', '2m'), scaled by the profile's time_scale"),
]
Timeout = Annotated[
    float,
    BeforeValidator(_timeout, json_schema_input_type=_NUM_INPUT),
    Field(gt=0, description="seconds (or '30s', '2m'); never scaled by a profile"),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# -- topology and profiles -----------------------------------------------------------------


class Topology(Strict):
    """The system the scenario needs; the lab is booted (or reconciled) to match."""

    work: Literal["io", "cpu"] = defaults.API_WORK
    work_ms: Annotated[float, Field(ge=0)] = defaults.API_WORK_MS
    concurrency: Annotated[int, Field(ge=1, le=1024)] = defaults.API_CONCURRENCY
    cache_ttl_s: Annotated[float, Field(ge=0)] | None = None
    cache_single_flight: bool | None = Field(
        default=None, description="concurrent misses of one product share one database read"
    )
    db_work: Literal["io", "cpu"] | None = Field(
        default=None, description="a cache miss's database cost: io (pg_sleep) or cpu"
    )
    db_query_ms: Annotated[float, Field(ge=0, le=60_000)] | None = None
    db_pool_size: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        default=None, description="database connections per API replica; 0: concurrency + 4"
    )
    pg_max_connections: Annotated[int, Field(ge=5, le=10_000)] | None = None
    worker_work_ms: Annotated[float, Field(ge=0)] | None = None
    net_proxy: bool | None = Field(
        default=None, description="API/workers reach their dependencies through Toxiproxy"
    )
    replicas: dict[Name, Annotated[int, Field(ge=0, le=defaults.MAX_REPLICAS)]] = Field(
        default_factory=lambda: {"api": 1}, description="starting replicas per service"
    )


class Profile(Strict):
    description: str = ""
    time_scale: Annotated[float, Field(gt=0, le=10)] = 1.0
    vars: dict[Name, float] = Field(default_factory=dict, description="overrides of `vars`")


# -- steps -----------------------------------------------------------------------------------


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
    rate: Annotated[float, BeforeValidator(_resolve, json_schema_input_type=_NUM_INPUT)] | None = (
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
        return {name: _resolve(v, info) for name, v in value.items()}

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


class Check(Strict):
    """A named condition: one of ``measure`` (a phase measure from Prometheus ``lab:``
    rules, optionally as a ratio to another phase), ``expr`` (PromQL, now),
    ``locust`` (the load generator's current stats) or ``knee`` (the knee found)."""

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
    op: Literal["<", "<=", ">", ">=", "=="]
    threshold: Number

    @model_validator(mode="after")
    def _one_source(self) -> Check:
        given = [k for k in ("measure", "expr", "locust", "knee") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a check needs exactly one of measure, expr, locust, knee")
        if (self.phase or self.ratio_to) and self.measure is None:
            raise ValueError("phase and ratio_to go with measure")
        return self


class CheckStep(Check):
    kind: Literal["check"]


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
    endpoint: ``errors`` (``route``, ``percent``[, ``status``]), ``latency`` (``route``,
    ``fixed_ms``[, ``jitter_ms``]), ``cpu-hog`` (``percent``) or ``unready``. It lasts
    ``for_s`` (the replica drops it then) and is cleared at the end of the run at the
    latest, on an error or Ctrl-C too."""

    kind: Literal["app_fault"]
    fault: AppFaultKind
    replicas: list[Annotated[str, Field(pattern=r"^api-\d+$")]] | None = Field(
        default=None, description="e.g. [api-1]; default: every API replica"
    )
    route: Annotated[str, Field(min_length=1, examples=["/products/{id}"])] | None = None
    percent: Annotated[float, Field(gt=0, le=100)] | None = None
    status: Annotated[int, Field(ge=500, le=599)] | None = None
    fixed_ms: Annotated[float, Field(ge=0, le=60_000)] | None = None
    jitter_ms: Annotated[float, Field(ge=0, le=60_000)] | None = None
    for_s: Annotated[float, Field(gt=0, le=MAX_FAULT_S)]

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
    | SetStep,
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
)


class Phase(Strict):
    """A part of the run, narrated as a lesson: the concept, a prediction with a number
    derived from the knobs, what to watch, and what a miss would mean."""

    name: Name
    narrative: Annotated[str, Field(min_length=1)]
    concept: str | None = None
    predict: list[Prediction] = Field(default_factory=list)
    watch: Watch | None = None
    miss: str | None = Field(default=None, description="what a missed prediction would mean")
    measure_after: Literal["last_change", "load"] = Field(
        default="last_change",
        description="measure from `settle` s after the phase's last change, or after its "
        "first load step (so a fault inside the phase is measured)",
    )
    steps: Annotated[list[Step], Field(min_length=1)]

    @field_validator("predict", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value

    def planned_seconds(self) -> float:
        total = 0.0
        for step in self.steps:
            if isinstance(step, HoldStep | NetFaultStep):
                total += step.duration or 0.0
            elif isinstance(step, FindKneeStep):
                total += step.planned_seconds()
        return total


class Scenario(Strict):
    name: Name
    title: Annotated[str, Field(min_length=1)]
    concept: Annotated[str, Field(min_length=1, description="the backend idea it teaches")]
    description: str = ""
    slo_seconds: Annotated[float, Field(gt=0, le=60)] = defaults.SLO_SECONDS
    settle: Timeout = Field(
        default=10.0, description="seconds skipped after each change before measuring"
    )
    topology: Topology = Field(default_factory=Topology)
    vars: dict[Name, float] = Field(default_factory=dict)
    profiles: dict[Name, Profile] = Field(default_factory=lambda: {"full": Profile()})
    phases: Annotated[list[Phase], Field(min_length=1)]
    checks: list[Check] = Field(default_factory=list)

    def phase_names(self) -> list[str]:
        return [p.name for p in self.phases]

    def planned_seconds(self) -> float:
        return sum(p.planned_seconds() for p in self.phases)

    def reference_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-references pydantic cannot see: (path, problem) pairs."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        names = self.phase_names()
        seen: set[str] = set()
        for i, phase in enumerate(self.phases):
            if phase.name in seen:
                problems.append((("phases", i, "name"), f"duplicate phase name {phase.name!r}"))
            seen.add(phase.name)
        has_knee = any(isinstance(s, FindKneeStep) for p in self.phases for s in p.steps)
        if not self.topology.net_proxy:
            problems += [
                (("phases", i, "steps", j), "a net_fault step needs topology.net_proxy: true")
                for i, phase in enumerate(self.phases)
                for j, step in enumerate(phase.steps)
                if isinstance(step, NetFaultStep)
            ]
        located: list[tuple[tuple[str | int, ...], Check | LoadStep]] = [
            (("phases", i, "steps", j), step)
            for i, phase in enumerate(self.phases)
            for j, step in enumerate(phase.steps)
            if isinstance(step, Check | LoadStep)
        ]
        located += [(("checks", k), check) for k, check in enumerate(self.checks)]
        for path, item in located:
            if isinstance(item, LoadStep):
                if item.knee_multiple is not None and not has_knee:
                    problems.append((path, "knee_multiple needs a find_knee step before it"))
                continue
            for field in ("phase", "ratio_to"):
                ref = getattr(item, field)
                if ref is not None and ref not in names:
                    problems.append(
                        ((*path, field), f"no phase {ref!r} (phases: {', '.join(names)})")
                    )
            if item.knee is not None and not has_knee:
                problems.append(((*path, "knee"), "no find_knee step in this scenario"))
        return problems
