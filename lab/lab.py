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

import logging
import math
import shutil
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import LabError, LabStateError, RuntimeUnavailable
from lab.events import EventLog, Listener
from lab.runtime.admin import AppFault
from lab.runtime.base import InstanceState, LabStatus, Runtime
from lab.settings import Settings

if TYPE_CHECKING:
    from lab.autoscale.controller import Controller
    from lab.autoscale.policy import Policy
    from lab.faults.net import NetFault
    from lab.faults.toxiproxy import ToxiproxyClient
    from lab.load.driver import LoadDriver
    from lab.metrics.prom import PrometheusClient
    from lab.run.audit import Audit
    from lab.run.dbprobe import DbProbe
    from lab.run.scaling import Autoscaling
    from lab.run.timeseries import Table
    from lab.scenario.measure import Measurer

log = logging.getLogger(__name__)
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
        from lab.load.driver import LoadDriver, WorkerPool

        # a runtime that runs Locust's workers as its own services does so when asked for N
        pool = self.runtime if isinstance(self.runtime, WorkerPool) else None
        return LoadDriver(
            self.settings,
            host_url=self.runtime.endpoint("lb").url,
            targets=self.runtime,
            processes=self.settings.load_workers or None,
            pool=pool if self.settings.load_workers else None,
        )

    def timeseries(self, start: float, end: float) -> Table:
        """Every ``lab:`` rule over ``[start, end]`` (raises ``PrometheusError``)."""
        from lab.run.timeseries import collect

        step = max(self.settings.scrape_interval_s, math.ceil((end - start) / MAX_POINTS))
        return collect(self.prometheus, start, end, step)

    def audit(self, since: float, *, drain_s: float) -> Audit:
        """The integrity audit (``lab.run.audit``) against this lab's Postgres and NATS:
        every order accepted is processed exactly once; the counts of those since
        ``since`` (epoch seconds). Waits up to ``drain_s`` for the queue to drain."""
        from lab.run.audit import Audit, audit

        try:
            pg, nats = self._dsn("postgres"), self._dsn("nats")
        except (LabError, OSError) as exc:
            return Audit(False, f"the audit could not reach the lab: {exc}")
        return audit(pg, nats, since=since, drain_s=drain_s)

    def database_probe(self, *, seconds: float, clients: int) -> DbProbe:
        """The queries/s this lab's Postgres serves, by pgbench (``lab.run.dbprobe``)."""
        from lab.run.dbprobe import probe

        dsn, products = self._dsn("postgres"), self.settings.seed_products
        return probe(dsn, seconds=seconds, clients=clients, products=products)

    def _dsn(self, service: str) -> str:
        """A client URL with the generated password: ``postgres`` or ``nats``."""
        from urllib.parse import quote

        where = self.runtime.endpoint(service).address
        if service == "postgres":
            password = quote(self.runtime.read_secret("pg_password"), safe="")
            return f"postgresql://lab:{password}@{where}/shop"
        return f"nats://lab:{quote(self.runtime.read_secret('nats_password'), safe='')}@{where}"

    # -- the autoscaler (lab.autoscale) -----------------------------------------------

    def autoscaler(self, policy: Policy, folder: Path, record: Autoscaling) -> Controller:
        """A running autoscaler on this lab, journaling into ``folder`` and ``record``."""
        from lab.autoscale.controller import Controller
        from lab.autoscale.journal import FileJournal

        controller = Controller(
            self, policy, FileJournal(folder, self.events, policy), record=record
        )
        controller.start()
        self.events.emit("autoscaler", f"autoscaler on: {policy.describe()}", tags=("autoscaler",))
        return controller

    def readiness(self, service: str) -> tuple[int, list[str]]:
        """Ready instances of ``service``, and the names of those alive but not ready."""
        instances = self.runtime.status(service).of(service)
        waiting = (InstanceState.STARTING, InstanceState.UNHEALTHY)
        ready = sum(1 for i in instances if i.state == InstanceState.RUNNING)
        return ready, [i.name for i in instances if i.state in waiting]

    def queue_lag(self) -> float | None:
        """The orders consumer's num_pending + num_ack_pending (KEDA's JetStream lag)."""
        from lab.autoscale.signals import queue_lag

        lag = queue_lag(self._dsn("nats"))
        return None if lag is None else float(lag)

    def lb_sessions(self) -> dict[str, tuple[str, int]] | None:
        """HAProxy's API servers: name → (status, sessions so far); None if unreadable."""
        import httpx

        from lab.runtime.lb_stats import backend_servers

        try:
            return backend_servers(self.runtime.endpoint("lb_stats"))
        except (httpx.HTTPError, LabError) as exc:
            log.warning("HAProxy stats: %s", exc)
            return None

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
        from lab.autoscale import daemon
        from lab.load.driver import reap_leftovers

        reap_leftovers(self.settings)
        daemon.stop(daemon.folder(self.settings))  # it would scale what is going down
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

    def restart(self, instance: str) -> None:
        self.runtime.restart(instance)
        self.events.emit(
            "restart", f"restart {instance}", instance=instance, tags=("fault", "restart")
        )

    def pause(self, instance: str) -> None:
        self.runtime.pause(instance)
        self.events.emit("pause", f"pause {instance}", instance=instance, tags=("fault", "pause"))

    def resume(self, instance: str) -> None:
        self.runtime.resume(instance)
        self.events.emit(
            "resume", f"resume {instance}", instance=instance, tags=("fault", "resume")
        )

    # -- application faults, through each replica's admin endpoint ---------------------

    def _api_replicas(self, replicas: Sequence[str] | None) -> list[str]:
        if replicas:
            return list(replicas)
        alive = (InstanceState.RUNNING, InstanceState.UNHEALTHY, InstanceState.STARTING)
        running = [i.name for i in self.runtime.status("api").of("api") if i.state in alive]
        if not running:
            raise LabStateError("no API replica is running", hint="`lab up` first")
        return running

    def app_fault(self, fault: AppFault, replicas: Sequence[str] | None = None) -> list[str]:
        """Switch ``fault`` on in ``replicas`` (default: every API replica); returns them.

        Each replica drops the fault by itself after ``fault.for_s``; a scenario run also
        removes it at its step's end (``lab.scenario.restore``)."""
        targets = self._api_replicas(replicas)
        for instance in targets:
            self.runtime.admin_call(instance, "POST", "/admin/faults", fault.body())
        self.events.emit(
            "fault",
            f"app fault {fault.describe()} on {', '.join(targets)}",
            tags=("fault", "app", fault.kind),
            replicas=targets,
            fault=fault.body(),
        )
        return targets

    def app_faults(self, replicas: Sequence[str] | None = None) -> dict[str, list[object]]:
        """The faults in force, per replica."""
        found: dict[str, list[object]] = {}
        for instance in self._api_replicas(replicas):
            answer = self.runtime.admin_call(instance, "GET", "/admin/faults", None)
            faults = answer.get("faults")
            found[instance] = list(faults) if isinstance(faults, list) else []
        return found

    def clear_app_faults(self, replicas: Sequence[str] | None = None) -> int:
        """Remove every application fault from ``replicas`` (default: all); how many."""
        removed = 0
        targets = self._api_replicas(replicas)
        for instance in targets:
            answer = self.runtime.admin_call(instance, "DELETE", "/admin/faults", None)
            gone = answer.get("removed")
            removed += len(gone) if isinstance(gone, list) else 0
        if removed:
            self.events.emit(
                "fault-cleared",
                f"app faults cleared on {', '.join(targets)} ({removed})",
                tags=("fault", "app", "restore"),
                replicas=targets,
            )
        return removed

    # -- network faults (Toxiproxy) -----------------------------------------------------

    def toxiproxy(self) -> ToxiproxyClient:
        """A client for the running lab's Toxiproxy (close it after use); refused when the
        running lab's links do not go through it (as recorded at ``up``)."""
        from lab.errors import LabStateError
        from lab.faults.toxiproxy import ToxiproxyClient
        from lab.runtime.home import recorded_net_proxy

        recorded = recorded_net_proxy(self.settings.state_dir)
        if not (self.settings.net_proxy if recorded is None else recorded):
            raise LabStateError(
                "the API and workers reach their dependencies directly, not through the proxy",
                hint="`lab down`, then `LAB_NET_PROXY=1 lab up` (or net_proxy = true in lab.toml)",
            )
        return ToxiproxyClient(self.runtime.endpoint("toxiproxy").url)

    def net_fault(self, fault: NetFault) -> None:
        """Inject a network fault on one dependency link."""
        self._net_change(fault, on=True)

    def end_net_fault(self, fault: NetFault) -> None:
        """Take a network fault away again (safe when it is already gone)."""
        self._net_change(fault, on=False)

    def _net_change(self, fault: NetFault, *, on: bool) -> None:
        from lab.faults import net

        with self.toxiproxy() as client:
            (net.apply if on else net.undo)(client, fault)
        self.events.emit(
            "net_fault" if on else "net_fault_end",
            f"fault {fault.describe()}" if on else f"fault over: {fault.describe()}",
            fault=fault.model_dump(),
            tags=("fault", "net", fault.to),
        )

    def net_faults(self) -> list[str]:
        """The network faults in place now, one line each."""
        from lab.faults import net

        with self.toxiproxy() as client:
            return net.active(client)

    def clear_net_faults(self) -> None:
        """Every link up, every toxic gone (Toxiproxy's reset)."""
        with self.toxiproxy() as client:
            client.reset()
        self.events.emit("net_faults_cleared", "network faults cleared", tags=("fault", "net"))
