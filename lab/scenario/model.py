"""The scenario file, as pydantic models: what `lab scenario schema` prints.

A scenario is phases of steps. Numbers may be written as ``${var}``: ``vars`` declares
them, a profile (``quick``, ``full``) overrides some and scales every duration by its
``time_scale``. ``${slo}`` is always the scenario's ``slo_seconds``. Variables and the
time scale are applied while validating (``context={"vars": ..., "time_scale": ...}``),
so a validated ``Scenario`` holds plain numbers: the scenario as it will run.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
)

from lab import defaults
from lab.capacity.usl import MIN_POINTS
from lab.scenario.fields import (
    Name,
    Strict,
    Timeout,
)
from lab.scenario.lesson import Prediction, Watch
from lab.scenario.step_model import (
    Check,
    FindKneeStep,
    HoldStep,
    LoadStep,
    NetFaultStep,
    Step,
)


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


class CapacitySpec(Strict):
    """Make the run a capacity plan (``lab capacity``): the USL fitted to the knees of its
    ``find_knee`` steps (one per replica count), checked on ``held_out``, and a plan from
    the user model in ``users`` and what the run measured."""

    users: Annotated[str, Field(min_length=1, description="user model, relative to the file")]
    held_out: Annotated[int, Field(ge=1, description="replica count the fit must predict")]
    tolerance: Annotated[float, Field(gt=0, lt=1)] = 0.15
    worker_phase: Name = Field(description="the phase whose window measures one worker")
    db_probe_s: Annotated[float, Field(ge=1, le=60)] = 5.0
    db_probe_clients: Annotated[int, Field(ge=1, le=64)] = 8


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
    capacity: CapacitySpec | None = None
    try_next: str = Field(
        default="", description="the report's last word: the knob to change, the next lesson"
    )

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
        knees = sum(isinstance(s, FindKneeStep) for p in self.phases for s in p.steps)
        has_knee = knees > 0
        if self.capacity is not None:
            if self.capacity.worker_phase not in names:
                problems.append(
                    (("capacity", "worker_phase"), f"no phase {self.capacity.worker_phase!r}")
                )
            if knees < MIN_POINTS + 1:
                problems.append(
                    (
                        ("capacity",),
                        f"the USL needs {MIN_POINTS} knees besides the held-out one: "
                        f"{MIN_POINTS + 1} find_knee steps (have {knees})",
                    )
                )
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
        return problems + self._short_measured_phases()

    def _short_measured_phases(self) -> list[tuple[tuple[str | int, ...], str]]:
        """A phase is measured only when it lasts the rules' window (a shorter one would
        read the previous phase's rates), so one that predicts, or that a check names,
        must plan at least that long: else its measures are "no data" at run time."""
        named = {c.phase for c in self.checks if c.phase is not None}
        return [
            (
                ("phases", i, "steps"),
                f"phase {phase.name!r} is measured (it predicts, or a check names it) but "
                f"plans {phase.planned_seconds():g} s of holds; a phase is measured only "
                f"when it lasts {defaults.RULE_WINDOW_S:g} s (hold longer)",
            )
            for i, phase in enumerate(self.phases)
            if (phase.predict or phase.name in named)
            and phase.planned_seconds() < defaults.RULE_WINDOW_S
        ]
