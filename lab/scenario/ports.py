"""The engine's seam: what a scenario run needs of the lab, its load and its metrics.

The scenario engine depends on these Protocols only. ``lab.lab.Lab`` (the facade) is the
real implementation: it journals every change, hands out the Locust ``LoadDriver`` and a
Prometheus-backed ``Measurer``. Unit tests pass a fake lab, a fake load and fake metrics
with a fake ``Clock``, and run a whole scenario file in milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from lab.autoscale.policy import Policy
from lab.events import EventLog
from lab.faults.net import NetFault
from lab.load.traffic import Percentiles, Traffic
from lab.run.audit import Audit
from lab.run.dbprobe import DbProbe
from lab.run.scaling import Autoscaling
from lab.run.timeseries import Table
from lab.runtime.admin import AppFault
from lab.scenario.measure import Window
from lab.settings import Settings


class Stats(Protocol):
    """The load generator's current view (``lab.load.locust_api.LoadStats``)."""

    @property
    def users(self) -> int: ...

    @property
    def rps(self) -> float: ...

    @property
    def fail_ratio(self) -> float: ...

    @property
    def p50(self) -> float | None: ...

    @property
    def p95(self) -> float | None: ...

    @property
    def p99(self) -> float | None: ...


class Load(Protocol):
    """What a run needs of the load generator (``lab.load.driver.LoadDriver``); leaving
    the ``with`` block ends every load generator process."""

    def __enter__(self) -> Load: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    @property
    def processes(self) -> int:
        """Load generator processes (one per core it may use)."""
        ...

    def start(self) -> None: ...

    def swarm(
        self,
        users: int,
        spawn_rate: float,
        *,
        target_rps: float | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        """Closed loop, or with ``target_rps`` an open loop sent by a pool of ``users``."""
        ...

    def hdr(self, start: float, end: float, quantiles: tuple[float, ...]) -> Percentiles | None:
        """Exact client latency quantiles over ``[start, end]`` (None: none available)."""
        ...

    def stats(self) -> Stats: ...

    def cpu(self) -> dict[str, float]:
        """CPU each load generator process used since the last call, in cores, by its
        name (empty when none runs)."""
        ...

    def stop_load(self) -> None: ...

    def copy_csvs(self, dest: Path) -> list[Path]: ...


class Metrics(Protocol):
    """Measurements by name (``lab.scenario.measure.RULES``) or PromQL."""

    def rule(self, key: str, window: Window | None = None) -> float | None:
        """The rule's average over ``window`` (ending now), or its value now."""
        ...

    def replicas(self, window: Window | None = None) -> dict[str, int]:
        """Healthy instances per service, averaged over ``window`` (or now)."""
        ...

    def expr(self, expr: str, at: float | None = None) -> float | None:
        """A PromQL expression's value now (or at unix time ``at``); None without data."""
        ...

    def holds(self, expr: str) -> bool:
        """Whether a PromQL condition returns a sample now."""
        ...


class Lab(Protocol):
    """The lab as a scenario run sees it (``lab.lab.Lab``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def runtime_name(self) -> str: ...

    @property
    def events(self) -> EventLog: ...

    def is_up(self) -> bool: ...

    def up(self, scales: Mapping[str, int] | None = None) -> object: ...

    def down(self, *, volumes: bool = False) -> None: ...

    def scale(self, service: str, replicas: int) -> object: ...

    def set(self, knobs: Mapping[str, object]) -> dict[str, object]:
        """Change live knobs by a rolling restart; returns the values they replaced."""
        ...

    def kill(self, instance: str) -> None: ...

    def stop(self, instance: str) -> None: ...

    def start(self, instance: str) -> None:
        """Start a stopped or killed instance; ``AlreadyRunning`` if it runs."""
        ...

    def restart(self, instance: str) -> None:
        """Stop gracefully, start again, wait until ready."""
        ...

    def pause(self, instance: str) -> None:
        """Freeze an instance (SIGSTOP): it holds its connections and answers nothing."""
        ...

    def resume(self, instance: str) -> None:
        """Thaw a paused instance (SIGCONT)."""
        ...

    def net_fault(self, fault: NetFault) -> None:
        """Inject a network fault on a dependency link (through Toxiproxy)."""
        ...

    def end_net_fault(self, fault: NetFault) -> None:
        """Take a network fault away (safe when it is already gone)."""
        ...

    def replicas(self) -> Mapping[str, int]:
        """Replicas per service as the runtime set them (the plan, not a measurement)."""
        ...

    def audit(self, since: float, *, drain_s: float) -> Audit:
        """The integrity audit: every accepted order processed exactly once."""
        ...

    def database_probe(self, *, seconds: float, clients: int) -> DbProbe:
        """The queries/s this lab's Postgres serves (pgbench) and its max_connections."""
        ...

    def app_fault(self, fault: AppFault, replicas: Sequence[str] | None = None) -> list[str]:
        """Switch an application fault on in ``replicas`` (default: every API replica);
        returns the replicas it was switched on in."""
        ...

    def clear_app_faults(self, replicas: Sequence[str] | None = None) -> int:
        """Remove every application fault from ``replicas``; how many were removed."""
        ...

    def answers(self, service: str, path: str) -> bool:
        """Whether ``service``'s endpoint answers 2xx on ``path`` now."""
        ...

    def machine_cpu(self) -> float | None:
        """The share of all cores in use on this machine since the last call."""
        ...

    def metrics(self) -> Metrics: ...

    def load_driver(self) -> Load: ...

    def timeseries(self, start: float, end: float) -> Table:
        """Every ``lab:`` rule over ``[start, end]``, for ``timeseries.csv``."""
        ...

    def render_report(self, run_dir: Path) -> Path:
        """Render a finished run folder's report; returns ``report.html``."""
        ...

    def autoscaler(self, policy: Policy, folder: Path, record: Autoscaling) -> Autoscaler:
        """Start an autoscaler with ``policy``, journaling into ``folder`` and ``record``."""
        ...


class Autoscaler(Protocol):
    """A running autoscaler (``lab.autoscale.controller.Controller``)."""

    def stop(self, timeout: float = 120.0) -> None: ...


class Clock(Protocol):
    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
