"""``Lab``: one object, built from settings, that hands out everything else.

    lab = Lab(Settings.load(), listeners=[...])
    lab.runtime          # NativeRuntime or ComposeRuntime, chosen once
    lab.events           # the journal (.lab/events.jsonl) and its listeners
    lab.prometheus       # a client for the lab's Prometheus
    lab.metrics()        # measurements by name (lab.scenario.measure.Measurer)
    lab.load_driver()    # the Locust load generator for this lab (not started)

Changes to the running system go through ``Lab`` (``lab.scale``, ``lab.kill``...) so
that each is journalled and seen by every listener (Grafana annotations: the CLI
subscribes ``GrafanaAnnotator.on_event``), whoever asked for it (CLI or scenario runner).
``Lab`` is the real implementation of the scenario engine's ``lab.scenario.ports.Lab``.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import RuntimeUnavailable
from lab.events import EventLog, Listener
from lab.runtime.base import LabStatus, Runtime
from lab.settings import Settings

if TYPE_CHECKING:
    from lab.load.driver import LoadDriver
    from lab.metrics.prom import PrometheusClient
    from lab.run.timeseries import Table
    from lab.scenario.measure import Measurer

MAX_POINTS = 10_000  # Prometheus refuses range queries of more than 11,000 points


def docker_engine_reason(timeout: float = 30.0) -> str | None:
    """None when a Docker engine answers here; otherwise why not.

    A missing engine fails at once (the socket refuses), so the timeout only bounds a
    busy one: on a loaded 2-core machine `docker info` has taken more than 5 s to answer."""
    if shutil.which("docker") is None:
        return "no `docker` client on PATH"
    from lab import proc
    from lab.errors import LabCommandError

    try:
        proc.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=timeout)
    except LabCommandError as exc:
        lines = exc.stderr.strip().splitlines()
        return f"no Docker engine answers ({lines[-1] if lines else exc.message})"
    return None


class Lab:
    def __init__(self, settings: Settings, *, listeners: Iterable[Listener] = ()) -> None:
        self.settings = settings
        self._listeners = tuple(listeners)

    @cached_property
    def runtime_name(self) -> str:
        """The runtime in use: the one recorded by a running lab wins, then the setting,
        then auto-detection (compose when a Docker engine answers, else native)."""
        from lab.runtime.home import recorded_runtime

        recorded = recorded_runtime(self.settings.state_dir)
        if recorded and self.settings.runtime in ("auto", recorded):
            return recorded
        if self.settings.runtime != "auto":
            return self.settings.runtime
        return "compose" if docker_engine_reason() is None else "native"

    @cached_property
    def runtime(self) -> Runtime:
        from lab.runtime import open_runtime

        name = self.runtime_name
        if name == "compose":
            reason = docker_engine_reason()
            if reason is not None:
                raise RuntimeUnavailable(
                    f"the compose runtime needs a Docker engine: {reason}",
                    hint="start dockerd, or use --runtime native",
                )
        return open_runtime(name, self.settings)

    @cached_property
    def events(self) -> EventLog:
        log = EventLog(self.settings.state_dir / "events.jsonl")
        for listener in self._listeners:
            log.subscribe(listener)
        return log

    @cached_property
    def prometheus(self) -> PrometheusClient:
        from lab.metrics.prom import PrometheusClient

        return PrometheusClient(self.runtime.endpoint("prometheus").url)

    def close(self) -> None:
        """Release client connections (the lab itself keeps running)."""
        if "prometheus" in vars(self):
            self.prometheus.close()

    # -- what a scenario run reads and uses (lab.scenario.ports.Lab) ---------------------

    def is_up(self) -> bool:
        return self.runtime.is_up()

    def replicas(self) -> Mapping[str, int]:
        return self.runtime.replicas()

    def answers(self, service: str, path: str) -> bool:
        from lab.wait import http_ok

        return http_ok(f"{self.runtime.endpoint(service).url}{path}")

    def machine_cpu(self) -> float | None:
        import psutil

        return psutil.cpu_percent(None) / 100

    def metrics(self) -> Measurer:
        from lab.scenario.measure import Measurer

        return Measurer(self.prometheus)

    def load_driver(self) -> LoadDriver:
        """The Locust load generator aimed at the load balancer (call ``start()``)."""
        from lab.load.driver import LoadDriver

        return LoadDriver(
            self.settings, host_url=self.runtime.endpoint("lb").url, targets=self.runtime
        )

    def timeseries(self, start: float, end: float) -> Table:
        """Every ``lab:`` rule over ``[start, end]`` (raises ``PrometheusError``)."""
        from lab.run.timeseries import collect

        step = max(self.settings.scrape_interval_s, math.ceil((end - start) / MAX_POINTS))
        return collect(self.prometheus, start, end, step)

    def render_report(self, run_dir: Path) -> Path:
        from lab.report import render_run

        return render_run(run_dir)

    # -- changes to the running system, journalled -------------------------------------

    def up(self, scales: Mapping[str, int] | None = None) -> LabStatus:
        status = self.runtime.up(scales)
        self.events.emit(
            "up", f"lab up ({self.runtime.name})", replicas=dict(self.runtime.replicas())
        )
        return status

    def down(self, *, volumes: bool = False) -> None:
        """Stop the lab, and a load generator a killed scenario run left behind."""
        from lab.load.driver import reap_leftovers

        reap_leftovers(self.settings)
        self.runtime.down(volumes=volumes)
        self.events.emit("down", "lab down", volumes=volumes)

    def scale(self, service: str, replicas: int) -> LabStatus:
        before = self.runtime.replicas().get(service)
        status = self.runtime.scale(service, replicas)
        self.events.emit(
            "scale",
            f"scale {service} {before} → {replicas}",
            service=service,
            before=before,
            after=replicas,
            tags=("scale", service),
        )
        return status

    def set(self, knobs: Mapping[str, object]) -> dict[str, object]:
        """Change live knobs (``settings.LIVE_KNOBS``) of the running lab: the services
        that read them are restarted replica by replica with the new environment, so no
        request fails. From here on this lab's settings are the new ones (a later scale
        starts replicas with them). Returns the knobs as they were before (what undoes
        it); knobs already at their value change nothing."""
        from lab.settings import LIVE_KNOBS

        changed = self.settings.knobs_changed(knobs)
        if not changed:
            return {}
        before = {name: getattr(self.settings, name) for name in changed}
        self.settings = self.settings.with_knobs(changed)
        self.__dict__.pop("runtime", None)  # the next runtime reads the new settings
        services = sorted({s for name in changed for s in LIVE_KNOBS[name]})
        for service in services:
            if self.runtime.replicas().get(service, 0) > 0:
                self.runtime.roll(service)
        text = ", ".join(f"{k}={v}" for k, v in changed.items())
        self.events.emit(
            "set",
            f"set {text} (rolled {', '.join(services)})",
            knobs=changed,
            before=before,
            tags=("set", *services),
        )
        return before

    def kill(self, instance: str) -> None:
        self.runtime.kill(instance)
        self.events.emit("kill", f"kill {instance}", instance=instance, tags=("fault", "kill"))

    def stop(self, instance: str) -> None:
        self.runtime.stop(instance)
        self.events.emit("stop", f"stop {instance}", instance=instance, tags=("fault", "stop"))

    def start(self, instance: str) -> None:
        self.runtime.start(instance)
        self.events.emit("start", f"start {instance}", instance=instance, tags=("fault", "start"))

    def pause(self, instance: str) -> None:
        self.runtime.pause(instance)
        self.events.emit("pause", f"pause {instance}", instance=instance, tags=("fault", "pause"))

    def resume(self, instance: str) -> None:
        self.runtime.resume(instance)
        self.events.emit(
            "resume", f"resume {instance}", instance=instance, tags=("fault", "resume")
        )
