"""``NativeRuntime``: compose.yaml's services as local processes on 127.0.0.1.

State, configs, data and logs live under ``.lab/`` (``settings.state_dir``). Start order
follows ``depends_on``; services of one level start together and are waited for
together, each with a readiness check, so ``lab up`` takes as long as the slowest chain.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator, Mapping
from pathlib import Path

from lab.errors import ConfigError, LabStateError
from lab.runtime.base import Endpoint, Instance, InstanceState, LabStatus
from lab.runtime.native import procs
from lab.runtime.native.context import NativeContext
from lab.runtime.native.launchers import LAUNCHERS, NOT_NATIVE, Launcher, LoadBalancer
from lab.runtime.native.readiness import wait_all_ready
from lab.runtime.native.state import NativeState, ProcRecord, StateStore
from lab.settings import Settings
from lab.topology import ServiceSpec, Topology, load_topology
from lab.wait import free_port, port_free

PROCSTATS = ServiceSpec(
    name="lab-exporter",
    kind="procstats",
    port=None,
    scalable=False,
    user_port=None,
    depends_on=(),
    replicas=1,
)


class NativeRuntime:
    name = "native"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = StateStore(settings.state_dir)
        self.topology: Topology = load_topology(settings.compose_file, env=knob_env(settings))
        specs = [s for s in self.topology.start_order() if s.kind in LAUNCHERS]
        unknown = [
            s.name
            for s in self.topology.services.values()
            if s.kind not in LAUNCHERS and s.kind not in NOT_NATIVE
        ]
        if unknown:
            raise ConfigError(f"compose.yaml services with no native launcher: {unknown}")
        self.specs: list[ServiceSpec] = [PROCSTATS, *specs]
        self.launchers: dict[str, Launcher] = {s.name: LAUNCHERS[s.kind](s) for s in self.specs}

    # -- lifecycle ----------------------------------------------------------------------

    def up(self, scales: Mapping[str, int] | None = None) -> LabStatus:
        with self.store.locked():
            old = self.store.load()
            if old is not None and old.any_alive():
                raise LabStateError(
                    "the lab is already up", hint="`lab status` to see it, `lab down` to stop it"
                )
            state = NativeState(replicas=self._replicas(scales))
            ctx = NativeContext(self.settings, self.topology, state)
            self._allocate_ports(ctx)
            (self.settings.state_dir / "runtime").write_text("native\n", encoding="utf-8")
            try:
                ctx.ensure_secrets()
                for level in self._levels():
                    self._start_level(ctx, level)
                self._publish(ctx)
            except BaseException:
                with procs.shielded():
                    self._stop_all(state)
                    procs.sweep(self.settings.state_dir)
                    self.store.clear()
                raise
            return self._status(state)

    def down(self, *, volumes: bool = False) -> None:
        with self.store.locked():
            state = self.store.load()
            if state is not None:
                self._stop_all(state)
                self.store.clear()
            procs.sweep(self.settings.state_dir)
            _reap_load_generator(self.settings.state_dir)
            (self.settings.state_dir / "runtime").unlink(missing_ok=True)
            if volumes:
                for sub in ("data", "secrets", "prometheus", "config"):
                    shutil.rmtree(self.settings.state_dir / sub, ignore_errors=True)

    def is_up(self) -> bool:
        state = self.store.load()
        return state is not None and state.any_alive()

    def status(self) -> LabStatus:
        state = self.store.load()
        if state is None:
            return LabStatus(runtime=self.name, up=False)
        return self._status(state)

    # -- changes while running ---------------------------------------------------------

    def scale(self, service: str, replicas: int) -> LabStatus:
        spec = self.topology.get(service)
        if not spec.scalable:
            raise ConfigError(f"{service} does not scale", hint="scalable: api, worker")
        if replicas < 0 or replicas > 32:
            raise ConfigError(f"replicas must be between 0 and 32, not {replicas}")
        with self.store.locked():
            ctx = self._context()
            current = ctx.state.of(service)
            launcher = self.launchers[service]
            if replicas > len(current):
                used = {r.index for r in current}
                free = [i for i in range(1, 33) if i not in used][: replicas - len(current)]
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

    def stop(self, instance: str) -> None:
        self._change(instance, "stop")

    def kill(self, instance: str) -> None:
        self._change(instance, "kill")

    def start(self, instance: str) -> None:
        self._change(instance, "start")

    def pause(self, instance: str) -> None:
        self._signal(instance, signal.SIGSTOP)

    def resume(self, instance: str) -> None:
        self._signal(instance, signal.SIGCONT)

    def _signal(self, instance: str, sig: signal.Signals) -> None:
        state = self._require_up()
        rec = state.instances.get(instance)
        if rec is None or not procs.signal_group(rec, sig):
            known = ", ".join(sorted(state.instances))
            raise ConfigError(f"no running instance {instance!r}", hint=f"instances: {known}")

    def endpoint(self, service: str) -> Endpoint:
        state = self._require_up()
        key = {"api": "lb"}.get(service, service)
        if key not in state.ports:
            known = ", ".join(sorted(k for k in state.ports if k in self.launchers))
            raise ConfigError(f"no endpoint for {service!r}", hint=f"known: {known}")
        return Endpoint(self.settings.bind_host, state.ports[key])

    def replicas(self) -> Mapping[str, int]:
        state = self.store.load()
        return dict(state.replicas) if state else self._replicas(None)

    def logs(self, service: str, *, follow: bool = False, tail: int = 100) -> Iterator[str]:
        from lab.runtime.native.logs import follow_logs

        self.topology.get(service) if service != PROCSTATS.name else None
        files = sorted(self.settings.state_dir.glob(f"logs/{service}-*.log"))
        return follow_logs(files, follow=follow, tail=tail)

    # -- internals ---------------------------------------------------------------------

    def _replicas(self, scales: Mapping[str, int] | None) -> dict[str, int]:
        wanted = {"api": self.settings.api_replicas, "worker": self.settings.worker_replicas}
        for name, spec in self.topology.services.items():
            if spec.scalable and spec.kind not in NOT_NATIVE:
                wanted.setdefault(name, spec.replicas)
        for name, count in (scales or {}).items():
            if not self.topology.get(name).scalable:
                raise ConfigError(f"{name} does not scale", hint="scalable: api, worker")
            wanted[name] = count
        return wanted

    def _allocate_ports(self, ctx: NativeContext) -> None:
        host, ports = self.settings.bind_host, ctx.state.ports
        for key, setting in (("lb", "lb_port"), ("prometheus", "prometheus_port")):
            port = int(getattr(self.settings, setting))
            if not port_free(host, port):
                raise LabStateError(
                    f"{host}:{port} (for {key}) is taken by another program",
                    hint=f"free it, or pick another: LAB_{setting.upper()}=... or lab.toml",
                )
            ports[key] = port
        ports["lb_stats"] = self.settings.lb_stats_port or free_port(host)
        for key in (
            "postgres",
            "redis",
            "nats",
            "nats_http",
            "postgres-exporter",
            "redis-exporter",
            PROCSTATS.name,
        ):
            ports.setdefault(key, free_port(host))

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
        port = free_port(ctx.host) if self.launchers[spec.name].per_instance_port else None
        rec = ProcRecord(name=f"{spec.name}-{index}", service=spec.name, index=index, port=port)
        ctx.state.instances[rec.name] = rec
        return rec

    def _spawn(self, ctx: NativeContext, launcher: Launcher, rec: ProcRecord) -> ProcRecord:
        procs.start(
            rec,
            launcher.command(ctx, rec),
            env={**launcher.env(ctx, rec), procs.MARKER: str(self.settings.state_dir)},
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
                procs.kill(rec)
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
        procs.terminate(rec, sig=self.launchers[rec.service].stop_signal)
        del ctx.state.instances[rec.name]
        self.store.save(ctx.state)
        lb = self.launchers.get("lb")
        if rec.service == "api" and isinstance(lb, LoadBalancer):
            lb.write_config(ctx)

    def _change(self, instance: str, action: str) -> None:
        with self.store.locked():
            ctx = self._context()
            rec = ctx.state.instances.get(instance)
            if rec is None:
                known = ", ".join(sorted(ctx.state.instances))
                raise ConfigError(f"no instance {instance!r}", hint=f"instances: {known}")
            launcher = self.launchers[rec.service]
            if action == "start":
                if rec.alive():
                    raise LabStateError(f"{instance} is already running")
                self._start_records(ctx, launcher, [rec])
                if rec.service == "api" and "lb" in self.launchers:
                    self._lb_enable(ctx, [rec])
            else:
                if action == "stop":
                    self._lb_disable(ctx, rec)
                    procs.terminate(rec, sig=launcher.stop_signal)
                else:
                    procs.kill(rec)
                rec.desired = "stopped"
            self.store.save(ctx.state)
            self._publish(ctx)

    def _context(self) -> NativeContext:
        return NativeContext(self.settings, self.topology, self._require_up())

    def _require_up(self) -> NativeState:
        state = self.store.load()
        if state is None or not state.any_alive():
            raise LabStateError("the lab is not up", hint="start it with `lab up`")
        return state

    def _publish(self, ctx: NativeContext) -> None:
        from lab.runtime.native.targets import write_all_targets

        write_all_targets(ctx)

    def _stop_all(self, state: NativeState) -> None:
        order = [s.name for s in self.specs][::-1]
        for service in order:
            for rec in state.of(service):
                launcher = self.launchers.get(service)
                procs.terminate(rec, sig=launcher.stop_signal if launcher else signal.SIGTERM)
        for rec in state.instances.values():  # anything not in the topology any more
            procs.kill(rec)

    def _status(self, state: NativeState) -> LabStatus:
        ctx = NativeContext(self.settings, self.topology, state)
        instances = [self._instance(ctx, rec) for spec in self.specs for rec in state.of(spec.name)]
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


def knob_env(settings: Settings) -> dict[str, str]:
    """The environment compose.yaml's ``${LAB_...}`` knobs resolve against: settings win."""
    knobs = {
        "LAB_API_WORK": settings.api_work,
        "LAB_API_WORK_MS": f"{settings.api_work_ms:g}",
        "LAB_API_CONCURRENCY": str(settings.api_concurrency),
        "LAB_CACHE_TTL_S": f"{settings.cache_ttl_s:g}",
        "LAB_SEED_PRODUCTS": str(settings.seed_products),
        "LAB_WORKER_WORK_MS": f"{settings.worker_work_ms:g}",
        "LAB_WORKER_ACK_WAIT_S": f"{settings.worker_ack_wait_s:g}",
        "LAB_SLO_SECONDS": f"{settings.slo_seconds:g}",
        "LAB_API_REPLICAS": str(settings.api_replicas),
        "LAB_WORKER_REPLICAS": str(settings.worker_replicas),
    }
    return {**os.environ, **knobs}


def _reap_load_generator(state_dir: Path) -> None:
    """End a Locust left behind by a scenario whose orchestrator was killed."""
    try:
        from lab.load.driver import reap_stale
    except ImportError:
        return
    reap_stale(state_dir / "locust")
