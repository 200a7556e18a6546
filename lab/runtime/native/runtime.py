"""``NativeRuntime``: compose.yaml's services as local processes on 127.0.0.1.

State, configs, data and logs live under ``.lab/`` (``settings.state_dir``). Start order
follows ``depends_on``; services of one level start together and are waited for
together, each with a readiness check, so ``lab up`` takes as long as the slowest chain.
Last of all starts the supervisor (``lab.runtime.native.supervisor``): it honours the
services' ``restart:`` policies while no ``lab`` command runs, through ``respawn``.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator, Mapping

import httpx

from lab import local_http
from lab import process_groups as groups
from lab.defaults import MAX_REPLICAS, NET_LINKS
from lab.errors import AlreadyRunning, ConfigError, LabStateError
from lab.process_groups import ProcRecord
from lab.runtime.admin import (
    ADMIN_HOST,
    ADMIN_TIMEOUT_S,
    AdminCallError,
    AdminMethod,
    admin_answer,
    encode_body,
)
from lab.runtime.admin import TOKEN_SECRET as ADMIN_TOKEN
from lab.runtime.base import Endpoint, Instance, InstanceState, LabStatus
from lab.runtime.common import Action, RuntimeBase, endpoint_key, knob_env
from lab.runtime.native.context import NativeContext, link_key
from lab.runtime.native.kinds import LAUNCHERS, NOT_NATIVE
from lab.runtime.native.launcher import Launcher
from lab.runtime.native.readiness import wait_all_ready
from lab.runtime.native.services import LoadBalancer
from lab.runtime.native.state import NativeState, StateStore
from lab.settings import Settings
from lab.topology import RestartPolicy, ServiceSpec, load_service_graph
from lab.wait import reserved_port

# Not in compose.yaml: under Compose, lab.agents.container_exporter measures containers.
PROCESS_EXPORTER = ServiceSpec(
    name="lab-exporter",
    kind="process-exporter",
    port=None,
    scalable=False,
    depends_on=(),
    replicas=1,
    restart=RestartPolicy("unless-stopped"),
)
SUPERVISOR_NAME = "lab-supervisor"


class NativeRuntime(RuntimeBase):
    name = "native"

    def __init__(self, settings: Settings) -> None:
        env = {**os.environ, **knob_env(settings)}
        super().__init__(settings, load_service_graph(settings.compose_file, env=env))
        self.store = StateStore(settings.state_dir)
        specs = [s for s in self.graph.start_order() if s.kind in LAUNCHERS]
        unknown = [
            s.name
            for s in self.graph.services.values()
            if s.kind not in LAUNCHERS and s.kind not in NOT_NATIVE
        ]
        if unknown:
            raise ConfigError(f"compose.yaml services with no native launcher: {unknown}")
        # the supervisor depends on everything: it starts last and stops first
        supervisor = ServiceSpec(
            name=SUPERVISOR_NAME,
            kind="supervisor",
            port=None,
            scalable=False,
            depends_on=tuple(s.name for s in (PROCESS_EXPORTER, *specs)),
            replicas=1,
        )
        self.specs: list[ServiceSpec] = [PROCESS_EXPORTER, *specs, supervisor]
        self.launchers: dict[str, Launcher] = {s.name: LAUNCHERS[s.kind](s) for s in self.specs}

    # -- lifecycle ----------------------------------------------------------------------

    def up(self, scales: Mapping[str, int] | None = None) -> LabStatus:
        with self._locked():
            old = self.store.load()
            if old is not None and old.any_alive():
                raise LabStateError(
                    "the lab is already up", hint="`lab status` to see it, `lab down` to stop it"
                )
            state = NativeState(replicas=self._replicas(scales))
            ctx = NativeContext(self.settings, self.graph, state)
            self._allocate_ports(ctx)
            self._mark_up()
            try:
                ctx.ensure_secrets()
                self._clear_registered_targets()
                for level in self._levels():
                    self._start_level(ctx, level)
                self._publish(ctx)
            except BaseException:
                with groups.shielded():
                    self._stop_all(state)
                    groups.sweep(self.settings.state_dir)
                    self.store.clear()
                    self._mark_down()
                raise
            return self._status(state)

    def down(self, *, volumes: bool = False) -> None:
        """Also ends any process left behind that carries this lab home's marker (a
        Locust whose orchestrator was killed, too)."""
        with self._locked():
            state = self.store.load()
            if state is not None:
                self._stop_all(state)
                self.store.clear()
            groups.sweep(self.settings.state_dir)
            self._clear_registered_targets()
            self._mark_down()
            if volumes:
                for sub in ("data", "secrets", "prometheus", "config"):
                    shutil.rmtree(self.settings.state_dir / sub, ignore_errors=True)

    def is_up(self) -> bool:
        state = self.store.load()
        return state is not None and state.any_alive()

    def status(self, service: str | None = None) -> LabStatus:
        state = self.store.load()
        if state is None:
            return LabStatus(runtime=self.name, up=False)
        return self._status(state, service)

    # -- changes while running ---------------------------------------------------------

    def scale(self, service: str, replicas: int) -> LabStatus:
        self._check_scale(service, replicas)
        spec = self.graph.get(service)
        with self._locked():
            ctx = self._context()
            current = ctx.state.of(service)
            launcher = self.launchers[service]
            if replicas > len(current):
                used = {r.index for r in current}
                free = [i for i in range(1, MAX_REPLICAS + 1) if i not in used][
                    : replicas - len(current)
                ]
                new = [self._record(ctx, spec, i) for i in free]
                self._start_records(ctx, launcher, new)
                if isinstance(self.launchers.get("lb"), LoadBalancer) and service == "api":
                    self._lb_enable(ctx, new)
            else:
                for rec in current[replicas:][::-1]:
                    self._retire(ctx, rec)
            ctx.state.replicas[service] = replicas
            self.store.save(ctx.state)
            self._publish(ctx)
            return self._status(ctx.state)

    def roll(self, service: str) -> LabStatus:
        """A spare replica with the new environment first, then each running one drained,
        stopped and started again on its own port; the spare goes last."""
        self._check_scale(service, 0)
        with self._locked():
            ctx = self._context()
            launcher, lb = self.launchers[service], service == "api" and "lb" in self.launchers
            old = [r for r in ctx.state.of(service) if r.desired == "running" and r.alive()]
            used = {r.index for r in ctx.state.of(service)}
            spare_index = next(i for i in range(1, MAX_REPLICAS + 2) if i not in used)
            spare = self._record(ctx, self.graph.get(service), spare_index)
            self._start_records(ctx, launcher, [spare])
            if lb:
                self._lb_enable(ctx, [spare])
            for rec in old:
                self._lb_disable(ctx, rec)
                groups.terminate(rec, sig=launcher.stop_signal)
                self._start_records(ctx, launcher, [rec])
                if lb:
                    self._lb_enable(ctx, [rec])
            self._retire(ctx, spare)
            self.store.save(ctx.state)
            self._publish(ctx)
            return self._status(ctx.state)

    def pause(self, instance: str) -> None:
        """Freeze one instance (SIGSTOP to its process group)."""
        self._signal(instance, signal.SIGSTOP)

    def resume(self, instance: str) -> None:
        """Thaw a paused instance (SIGCONT)."""
        self._signal(instance, signal.SIGCONT)

    def respawn(self, instance: str) -> ProcRecord | None:
        """Start again an instance that died while it should run (the supervisor's
        restart), wait until it is ready and, for an API replica, until HAProxy has it
        back. None when it needs no restart any more (stopped on purpose, scaled away,
        already back). Raises ``NotReadyError`` when it fails to start; it stays
        recorded, dead, for the supervisor's next try."""
        with self._locked():
            state = self.store.load()
            rec = state.instances.get(instance) if state is not None else None
            if state is None or rec is None or rec.desired != "running" or rec.alive():
                return None
            ctx = NativeContext(self.settings, self.graph, state)
            launcher = self.launchers[rec.service]
            self._spawn(ctx, launcher, rec)
            try:
                wait_all_ready(ctx, [(launcher, rec)], timeout=self.settings.ready_timeout_s)
            except BaseException:
                groups.kill(rec)
                self.store.save(state)
                raise
            lb_rec = state.instances.get("lb-1")
            if rec.service == "api" and lb_rec is not None and lb_rec.alive():
                self._lb_enable(ctx, [rec])
            self._publish(ctx)
            return rec

    def policy(self, service: str) -> RestartPolicy:
        """The ``restart:`` policy of ``service`` (``no`` for one not in the topology)."""
        spec = next((s for s in self.specs if s.name == service), None)
        return spec.restart if spec is not None else RestartPolicy()

    def _signal(self, instance: str, sig: signal.Signals) -> None:
        state = self._require_up()
        rec = state.instances.get(instance)
        if rec is None or not groups.signal_group(rec, sig):
            known = ", ".join(sorted(state.instances))
            raise ConfigError(f"no running instance {instance!r}", hint=f"instances: {known}")

    def endpoint(self, service: str) -> Endpoint:
        state = self._require_up()
        key = endpoint_key(service)
        if key not in state.ports:
            known = ", ".join(sorted(k for k in state.ports if k in self.launchers))
            raise ConfigError(f"no endpoint for {service!r}", hint=f"known: {known}")
        return Endpoint(self.settings.bind_host, state.ports[key])

    def read_secret(self, name: str) -> str:
        """One generated secret by name (``.lab/secrets/<name>``)."""
        return NativeContext(self.settings, self.graph, NativeState()).secret(name)

    def replicas(self) -> Mapping[str, int]:
        state = self.store.load()
        return dict(state.replicas) if state else self._replicas(None)

    def logs(self, service: str, *, follow: bool = False, tail: int = 100) -> Iterator[str]:
        from lab.runtime.native.logs import follow_logs

        if service != PROCESS_EXPORTER.name:
            self.graph.get(service)
        files = sorted(self.settings.state_dir.glob(f"logs/{service}-*.log"))
        return follow_logs(files, follow=follow, tail=tail)

    def scrape_host(self) -> str:
        """The native Prometheus runs here: the lab's own bind address."""
        return self.settings.bind_host

    # -- internals ---------------------------------------------------------------------

    def _allocate_ports(self, ctx: NativeContext) -> None:
        host, ports = self.settings.bind_host, ctx.state.ports
        ports.update(self._check_fixed_ports())
        ports["lb_stats"] = self.settings.lb_stats_port or reserved_port(host)
        for key in (
            "postgres",
            "redis",
            "nats",
            "nats_http",
            "postgres-exporter",
            "redis-exporter",
            "toxiproxy",
            *(link_key(link) for link in NET_LINKS),
            PROCESS_EXPORTER.name,
        ):
            if key not in ports:  # bound one by one as services start: none may reuse another's
                ports[key] = reserved_port(host, taken=ports.values())

    def _levels(self) -> list[list[ServiceSpec]]:
        depth: dict[str, int] = {}
        native = {s.name for s in self.specs}
        for spec in self.specs:
            deps = [d for d in spec.depends_on if d in native]
            depth[spec.name] = 1 + max((depth[d] for d in deps), default=-1)
        levels: list[list[ServiceSpec]] = [[] for _ in range(max(depth.values()) + 1)]
        for spec in self.specs:
            levels[depth[spec.name]].append(spec)
        return levels

    def _start_level(self, ctx: NativeContext, level: list[ServiceSpec]) -> None:
        batch: list[tuple[Launcher, ProcRecord]] = []
        for spec in level:
            launcher = self.launchers[spec.name]
            launcher.prepare(ctx)
            count = ctx.state.replicas.get(spec.name, 1) if spec.scalable else 1
            for index in range(1, count + 1):
                rec = self._record(ctx, spec, index)
                batch.append((launcher, self._spawn(ctx, launcher, rec)))
        wait_all_ready(ctx, batch, timeout=self.settings.ready_timeout_s)
        for spec in level:
            first = next((r for r in ctx.state.of(spec.name)), None)
            if first is not None:
                self.launchers[spec.name].after_ready(ctx, first)

    def _record(self, ctx: NativeContext, spec: ServiceSpec, index: int) -> ProcRecord:
        launcher = self.launchers[spec.name]
        port = reserved_port(ctx.host) if launcher.per_instance_port else None
        admin = reserved_port(ctx.host, taken={port or 0}) if launcher.admin_port else None
        rec = ProcRecord(
            name=f"{spec.name}-{index}", service=spec.name, index=index, port=port, admin_port=admin
        )
        ctx.state.instances[rec.name] = rec
        return rec

    def _spawn(self, ctx: NativeContext, launcher: Launcher, rec: ProcRecord) -> ProcRecord:
        groups.start(
            rec,
            launcher.command(ctx, rec),
            env={**launcher.env(ctx, rec), groups.MARKER: str(self.settings.state_dir)},
            log_dir=ctx.logs,
            user=launcher.user(ctx),
            cwd=self.settings.project_dir,
        )
        self.store.save(ctx.state)  # at once: a killed orchestrator must leave an exact list
        return rec

    def _start_records(
        self, ctx: NativeContext, launcher: Launcher, recs: list[ProcRecord]
    ) -> None:
        batch = [(launcher, self._spawn(ctx, launcher, rec)) for rec in recs]
        try:
            wait_all_ready(ctx, batch, timeout=self.settings.ready_timeout_s)
        except BaseException:
            for rec in recs:
                groups.kill(rec)
                ctx.state.instances.pop(rec.name, None)
            self.store.save(ctx.state)
            raise

    def _lb_enable(self, ctx: NativeContext, recs: list[ProcRecord]) -> None:
        lb = self.launchers["lb"]
        assert isinstance(lb, LoadBalancer)
        admin = lb.admin(ctx)
        for rec in recs:
            assert rec.port is not None
            admin.enable(rec.index, ctx.host, rec.port)
        for rec in recs:
            admin.wait_up(rec.index)
        lb.write_config(ctx)

    def _lb_disable(self, ctx: NativeContext, rec: ProcRecord) -> None:
        lb = self.launchers.get("lb")
        lb_rec = ctx.state.instances.get("lb-1")
        if rec.service == "api" and isinstance(lb, LoadBalancer) and lb_rec and lb_rec.alive():
            lb.admin(ctx).drain_and_disable(rec.index)

    def _retire(self, ctx: NativeContext, rec: ProcRecord) -> None:
        self._lb_disable(ctx, rec)
        groups.terminate(rec, sig=self.launchers[rec.service].stop_signal)
        del ctx.state.instances[rec.name]
        self.store.save(ctx.state)
        lb = self.launchers.get("lb")
        if rec.service == "api" and isinstance(lb, LoadBalancer):
            lb.write_config(ctx)

    def _change(self, instance: str, action: Action) -> None:
        with self._locked():
            ctx = self._context()
            rec = ctx.state.instances.get(instance)
            if rec is None:
                known = ", ".join(sorted(ctx.state.instances))
                raise ConfigError(f"no instance {instance!r}", hint=f"instances: {known}")
            launcher = self.launchers[rec.service]
            if action == "start":
                if rec.alive():
                    raise AlreadyRunning(f"{instance} is already running")
                self._start_records(ctx, launcher, [rec])
                if rec.service == "api" and "lb" in self.launchers:
                    self._lb_enable(ctx, [rec])
            elif action == "stop":
                # recorded before the signal: the supervisor must not take it for a crash
                rec.desired = "stopped"
                self.store.save(ctx.state)
                self._lb_disable(ctx, rec)
                groups.terminate(rec, sig=launcher.stop_signal)
            else:  # a crash: its restart policy decides whether it comes back
                groups.kill(rec)
            self.store.save(ctx.state)
            self._publish(ctx)

    def admin_call(
        self, instance: str, method: AdminMethod, path: str, body: Mapping[str, object] | None
    ) -> dict[str, object]:
        ctx = self._context()
        rec = ctx.state.instances.get(instance)
        if rec is None or rec.admin_port is None:
            known = ", ".join(sorted(r.name for r in ctx.state.of("api")))
            raise ConfigError(f"{instance!r} is not an API replica", hint=f"replicas: {known}")
        url = f"http://{ADMIN_HOST}:{rec.admin_port}{path}"
        token = ctx.secret(ADMIN_TOKEN)
        try:
            answer = local_http.request(
                method,
                url,
                content=encode_body(body) or None,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=ADMIN_TIMEOUT_S,
            )
        except httpx.HTTPError as exc:
            raise AdminCallError(
                f"{instance}: admin endpoint {url} did not answer: {exc}",
                hint=f"is {instance} running? see {ctx.logs / (instance + '.log')}",
            ) from exc
        return admin_answer(instance, method, path, answer.status_code, answer.text)

    def _context(self) -> NativeContext:
        return NativeContext(self.settings, self.graph, self._require_up())

    def _require_up(self) -> NativeState:
        state = self.store.load()
        if state is None or not state.any_alive():
            raise LabStateError("the lab is not up", hint="start it with `lab up`")
        return state

    def _publish(self, ctx: NativeContext) -> None:
        from lab.runtime.native.scrape import write_all_targets

        write_all_targets(ctx)

    def _stop_all(self, state: NativeState) -> None:
        # the start's levels, last first: whatever depends on a service stops before it,
        # and a level's services stop together
        ended = []  # reaped once at the end: 2 s in all, not 2 s per process
        for level in reversed(self._levels()):
            tier = [
                (rec, self.launchers[spec.name].stop_signal)
                for spec in level
                for rec in state.of(spec.name)
            ]
            ended += groups.terminate_together(tier)
        for rec in state.instances.values():  # anything not in the topology any more
            groups.kill(rec)
        groups.wait_reaped(ended)

    def _status(self, state: NativeState, service: str | None = None) -> LabStatus:
        ctx = NativeContext(self.settings, self.graph, state)
        names = [s.name for s in self.specs if service in (None, s.name)]
        instances = [self._instance(ctx, rec) for name in names for rec in state.of(name)]
        return LabStatus(runtime=self.name, up=state.any_alive(), instances=instances)

    def _instance(self, ctx: NativeContext, rec: ProcRecord) -> Instance:
        launcher = self.launchers.get(rec.service)
        if not rec.alive():
            st = InstanceState.STOPPED if rec.desired == "stopped" else InstanceState.EXITED
        else:
            try:
                ok = launcher is not None and launcher.ready(ctx, rec)
            except Exception:
                ok = False
            st = InstanceState.RUNNING if ok else InstanceState.UNHEALTHY
        port = rec.port or ctx.state.ports.get(rec.service)
        endpoint = Endpoint(ctx.host, port) if port else None
        return Instance(
            name=rec.name,
            service=rec.service,
            index=rec.index,
            state=st,
            pid=rec.pid,
            endpoint=endpoint,
            detail=rec.log,
        )
