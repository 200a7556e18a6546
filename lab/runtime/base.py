"""The ``Runtime`` protocol that both the native and the compose runtime implement.

A *service* is an entry of compose.yaml (``api``); an *instance* is one running copy
of it (``api-2``). Instances are numbered from 1, like Compose's containers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from lab.runtime.admin import AdminMethod


class InstanceState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"  # alive and passing its readiness check
    UNHEALTHY = "unhealthy"  # alive, readiness check failing
    STOPPED = "stopped"  # stopped on purpose (lab stop / fault)
    EXITED = "exited"  # died on its own, or killed


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Instance:
    name: str  # "api-2"
    service: str  # "api"
    index: int  # 2
    state: InstanceState
    pid: int | None = None  # native runtime
    container: str | None = None  # compose runtime
    endpoint: Endpoint | None = None
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["state"] = str(self.state)
        data["endpoint"] = self.endpoint.url if self.endpoint else None
        return data


@dataclass(frozen=True)
class LabStatus:
    runtime: str
    up: bool
    instances: list[Instance] = field(default_factory=list)

    def replicas(self, service: str) -> int:
        """Instances of ``service`` that are running and ready."""
        return sum(
            1 for i in self.instances if i.service == service and i.state is InstanceState.RUNNING
        )

    def of(self, service: str) -> list[Instance]:
        return [i for i in self.instances if i.service == service]

    def to_json(self) -> dict[str, object]:
        return {
            "runtime": self.runtime,
            "up": self.up,
            "instances": [i.to_json() for i in self.instances],
        }


@runtime_checkable
class Runtime(Protocol):
    """Where the lab runs. Both implementations pass
    tests/procs/runtime/test_runtime_compliance.py."""

    name: str

    def up(self, scales: Mapping[str, int] | None = None) -> LabStatus:
        """Start every service (replica counts from ``scales`` or the defaults) and wait
        until each is ready. Raises ``LabStateError`` if the lab is already up. A failed
        start stops whatever it had started."""
        ...

    def down(self, *, volumes: bool = False) -> None:
        """Stop everything this lab started. Safe to call when nothing runs.
        ``volumes`` also deletes its data and generated secrets."""
        ...

    def is_up(self) -> bool: ...

    def status(self, service: str | None = None) -> LabStatus:
        """Every instance and its state; only ``service``'s when given (what the
        autoscaler reads on every sync: natively each instance's state is a probe)."""
        ...

    def scale(self, service: str, replicas: int) -> LabStatus:
        """Set the number of running instances of a scalable service; wait until ready;
        the load balancer and Prometheus follow without a restart."""
        ...

    def roll(self, service: str) -> LabStatus:
        """Restart every replica of ``service`` with this runtime's settings, one at a
        time: a spare replica starts first, each old one is drained from the load balancer
        before it stops, so as many replicas as before keep serving throughout."""
        ...

    def stop(self, instance: str) -> None:
        """Stop one instance gracefully (SIGTERM)."""
        ...

    def kill(self, instance: str) -> None:
        """Kill one instance at once (SIGKILL) as a crash would: unlike ``stop``, its
        ``restart:`` policy brings it back (natively the supervisor, under Docker the
        daemon)."""
        ...

    def restart(self, instance: str) -> None:
        """Stop one instance gracefully, then start it and wait until it is ready."""
        ...

    def start(self, instance: str) -> None:
        """Start a stopped or killed instance again and wait until it is ready."""
        ...

    def pause(self, instance: str) -> None:
        """Freeze one instance (SIGSTOP; ``docker pause``): alive, answering nothing."""
        ...

    def resume(self, instance: str) -> None:
        """Thaw a paused instance (SIGCONT; ``docker unpause``)."""
        ...

    def endpoint(self, service: str) -> Endpoint:
        """Where a user (or the lab) reaches ``service`` from this machine."""
        ...

    def logs(self, service: str, *, follow: bool = False, tail: int = 100) -> Iterator[str]:
        """Log lines of every instance of ``service``, prefixed with the instance name."""
        ...

    def read_secret(self, name: str) -> str:
        """One of the lab's generated secrets (``pg_password``, ``nats_password``...)."""
        ...

    def replicas(self) -> Mapping[str, int]:
        """Desired replica count of each scalable service."""
        ...

    def scrape_host(self) -> str:
        """The address on this machine where a program outside the lab (the load
        generator) must serve metrics for this lab's Prometheus to reach them."""
        ...

    def add_scrape_target(self, job: str, address: str, labels: Mapping[str, str]) -> None:
        """Have Prometheus scrape ``address`` as ``job``'s one target within seconds,
        without a restart (a job of ``lab.runtime.common.REGISTERED_JOBS``)."""
        ...

    def remove_scrape_target(self, job: str) -> None:
        """Stop scraping ``job``'s registered target; safe when there is none."""
        ...

    def admin_call(
        self, instance: str, method: AdminMethod, path: str, body: Mapping[str, object] | None
    ) -> dict[str, object]:
        """Call API replica ``instance``'s loopback-only admin endpoint with the lab's
        token (``lab.runtime.admin``); its JSON answer, or ``AdminCallError``."""
        ...
