"""Application faults switched on at run time (``lab fault app ...``), each with an expiry.

The OpenTelemetry demo's feature-flag faults, as one replica sees them:

* ``errors``: ``percent`` % of the requests to a route answer ``status`` (5xx) with a
  reason naming the fault; or, with ``dependency`` instead of ``route``, ``percent`` % of
  the API's attempts to call Postgres or Redis fail after the dependency did the work (an
  answer lost on the way back), which the API's retries see as the dependency failing;
* ``latency``: requests to a route wait ``fixed_ms`` plus up to ``jitter_ms`` (uniform)
  before they are served;
* ``cpu-hog``: a thread keeps ``percent`` % of a core busy in this process (it holds the
  GIL while it hashes, so the event loop really gets that much less time);
* ``unready``: ``/healthz`` and ``/readyz`` answer 503, so HAProxy (which checks
  ``/healthz``) takes the replica out of the pool.

Every fault expires (``for_s``, at most ``MAX_FAULT_S``): a lab that crashed mid-run
leaves nothing behind for longer than that. The board is written by the admin thread
(``shop_api.admin``) and read by the request path on the event loop: a fault list is an
immutable tuple swapped under a lock, so readers never lock.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shop_api.work import burn_cpu

MAX_FAULT_S = 3600.0
DEFAULT_FAULT_S = 300.0
HOG_WINDOW_S = 0.1  # the CPU hog burns percent% of each window


class FaultSpec(BaseModel):
    """Fields every fault has: how long it lasts."""

    model_config = ConfigDict(extra="forbid", strict=True)

    for_s: Annotated[float, Field(gt=0, le=MAX_FAULT_S)] = DEFAULT_FAULT_S


Dependency = Literal["postgres", "redis"]


class ErrorsFault(FaultSpec):
    kind: Literal["errors"] = "errors"
    route: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    dependency: Dependency | None = None
    percent: Annotated[float, Field(gt=0, le=100)]
    status: Annotated[int, Field(ge=500, le=599)] = 500

    @model_validator(mode="after")
    def _one_target(self) -> ErrorsFault:
        if (self.route is None) == (self.dependency is None):
            raise ValueError("give route (requests fail) or dependency (its calls fail)")
        return self


class LatencyFault(FaultSpec):
    kind: Literal["latency"] = "latency"
    route: Annotated[str, Field(min_length=1, max_length=200)]
    fixed_ms: Annotated[float, Field(ge=0, le=60_000)]
    jitter_ms: Annotated[float, Field(ge=0, le=60_000)] = 0.0


class CpuHogFault(FaultSpec):
    kind: Literal["cpu-hog"] = "cpu-hog"
    percent: Annotated[float, Field(gt=0, le=100)]


class UnreadyFault(FaultSpec):
    kind: Literal["unready"] = "unready"


AnyFault = Annotated[
    ErrorsFault | LatencyFault | CpuHogFault | UnreadyFault, Field(discriminator="kind")
]
FaultKind = Literal["errors", "latency", "cpu-hog", "unready"]
FAULT_KINDS: tuple[FaultKind, ...] = ("errors", "latency", "cpu-hog", "unready")


def route_key(route: str) -> str:
    """``/products/{id}`` and ``/products/{product_id}`` name the same route: the
    placeholders' names do not matter, only where they are."""
    parts = route.rstrip("/").split("/") if route != "/" else [""]
    return "/".join("{}" if p.startswith("{") and p.endswith("}") else p for p in parts)


@dataclass(frozen=True)
class ActiveFault:
    id: int
    spec: ErrorsFault | LatencyFault | CpuHogFault | UnreadyFault
    expires_at: float  # time.monotonic()
    stop: threading.Event = field(default_factory=threading.Event, compare=False)

    def remaining_s(self, now: float) -> float:
        return max(0.0, self.expires_at - now)


class FaultBoard:
    """The replica's active faults. ``routes`` are the templates a fault may name."""

    def __init__(self, routes: tuple[str, ...]) -> None:
        self.routes = {route_key(r): r for r in routes}
        self._faults: tuple[ActiveFault, ...] = ()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._random = random.Random()

    def template(self, route: str) -> str:
        """The route template ``route`` names; ``LookupError`` (saying which exist) if none."""
        found = self.routes.get(route_key(route))
        if found is None:
            known = ", ".join(sorted(self.routes.values()))
            raise LookupError(f"no route {route}; routes: {known}")
        return found

    def add(self, spec: ErrorsFault | LatencyFault | CpuHogFault | UnreadyFault) -> ActiveFault:
        if isinstance(spec, ErrorsFault | LatencyFault) and spec.route is not None:
            spec = spec.model_copy(update={"route": self.template(spec.route)})
        fault = ActiveFault(next(self._ids), spec, time.monotonic() + spec.for_s)
        with self._lock:
            self._faults = (*self._live(), fault)
        if isinstance(spec, CpuHogFault):
            threading.Thread(
                target=hog_cpu, args=(fault,), name=f"cpu-hog-{fault.id}", daemon=True
            ).start()
        return fault

    def remove(self, fault_id: int | None = None) -> list[ActiveFault]:
        """Remove one fault (or all when ``fault_id`` is None); return those removed."""
        with self._lock:
            gone = [f for f in self._faults if fault_id is None or f.id == fault_id]
            self._faults = tuple(f for f in self._faults if f not in gone)
        for fault in gone:
            fault.stop.set()
        return gone

    def _live(self) -> tuple[ActiveFault, ...]:
        now = time.monotonic()
        return tuple(f for f in self._faults if f.expires_at > now)

    def active(self) -> tuple[ActiveFault, ...]:
        """The faults in force now (expired ones are dropped as a side effect)."""
        faults = self._faults
        if not faults:
            return faults
        live = self._live()
        if len(live) != len(faults):
            with self._lock:
                self._faults = self._live()
        return live

    def count(self, kind: FaultKind) -> float:
        return float(sum(f.spec.kind == kind for f in self.active()))

    def unready(self) -> UnreadyFault | None:
        for fault in self.active():
            if isinstance(fault.spec, UnreadyFault):
                return fault.spec
        return None

    def for_route(self, template: str) -> tuple[float, ErrorsFault | None]:
        """For one request to ``template``: seconds to delay, and the error to answer
        (None: serve it). Each errors fault fires with its own probability."""
        delay = 0.0
        error: ErrorsFault | None = None
        for fault in self.active():
            spec = fault.spec
            if isinstance(spec, LatencyFault) and spec.route == template:
                delay += (spec.fixed_ms + self._random.uniform(0, spec.jitter_ms)) / 1000
            elif (
                isinstance(spec, ErrorsFault)
                and spec.route == template
                and error is None
                and self._random.uniform(0, 100) < spec.percent
            ):
                error = spec
        return delay, error

    def dependency_fails(self, dependency: str) -> bool:
        """For one attempt to call ``dependency``: whether an errors fault makes it fail."""
        for fault in self.active():
            spec = fault.spec
            if (
                isinstance(spec, ErrorsFault)
                and spec.dependency == dependency
                and self._random.uniform(0, 100) < spec.percent
            ):
                return True
        return False


def hog_cpu(fault: ActiveFault) -> None:
    """Burn ``percent`` % of each ``HOG_WINDOW_S`` until the fault expires or is removed."""
    assert isinstance(fault.spec, CpuHogFault)
    busy = HOG_WINDOW_S * fault.spec.percent / 100
    while not fault.stop.is_set() and time.monotonic() < fault.expires_at:
        start = time.monotonic()
        burn_cpu(busy)
        fault.stop.wait(max(0.0, HOG_WINDOW_S - (time.monotonic() - start)))
