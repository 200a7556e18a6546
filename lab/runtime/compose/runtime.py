"""``ComposeRuntime``: compose.yaml's services as containers, driven by python-on-whales.

One ``DockerClient`` per lab, with an explicit project name (``settings.compose_project``)
and ``.lab/compose.env`` as its env file. Instance ``api-2`` is container
``<project>-api-2``. ``up`` and ``scale`` go through ``docker compose up --wait`` with the
desired replica counts; ``stop``/``kill``/``start`` act on one container (``kill`` as a
crash: Docker's restart policy brings it back, see ``_crash``). What is running
is always read back from Docker (``compose ps``), never assumed.

Scrape targets registered while the lab runs (Locust's exporter, a host process) are
file_sd files in ``.lab/prometheus/targets``, which the Prometheus container mounts
read-only; such a program listens on the gateway address of the project's network
(``scrape_host``), which Prometheus reaches and which is not published beyond this host.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from lab.errors import AlreadyRunning, ConfigError, LabCommandError, LabStateError
from lab.runtime.base import Endpoint, Instance, InstanceState, LabStatus
from lab.runtime.common import Action
from lab.runtime.compose import secrets, state
from lab.runtime.compose.state import ComposeState
from lab.runtime.docker_common import (
    DockerRuntime,
    command_error,
    compose_env,
    compose_graph,
    crash,
    host_endpoint,
    image_available,
    stream_lines,
    write_env_file,
)
from lab.settings import Settings
from lab.wait import wait_for

ONE_SHOT_KINDS = frozenset({"secrets"})
ALL_PROFILES = ("load", "grafana")
_HEALTH = {"healthy": InstanceState.RUNNING, "unhealthy": InstanceState.UNHEALTHY}


class ComposeRuntime(DockerRuntime):
    name = "compose"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, compose_graph(settings))
        self.project = settings.compose_project

    # -- lifecycle ----------------------------------------------------------------------

    def up(self, scales: Mapping[str, int] | None = None) -> LabStatus:
        with self._locked():
            if self.is_up():
                raise LabStateError(
                    f"compose project {self.project!r} is already up",
                    hint="`lab status` to see it, `lab down` to stop it",
                )
            self._check_fixed_ports()
            st = ComposeState(self.project, self._replicas(scales), profiles=self._profiles())
            self._mark_up()
            state.save_state(self.settings.state_dir, st)
            self._clear_registered_targets()  # before Prometheus mounts their folder
            docker = self._docker(st)
            try:
                self._call("build", docker.compose.build, services=["api"], quiet=True)
                self._call(
                    "up",
                    docker.compose.up,
                    detach=True,
                    wait=True,
                    wait_timeout=self._up_timeout(),
                    scales=st.replicas,
                    remove_orphans=True,
                    quiet=True,
                )
                if st.replicas.get("api"):
                    self._wait_lb(st.replicas["api"])
            except BaseException:
                self._down(st, volumes=False)
                raise
            return self.status()

    def down(self, *, volumes: bool = False) -> None:
        with self._locked():
            st = state.load_state(self.settings.state_dir) or ComposeState(self.project)
            self._down(st, volumes=volumes)

    def is_up(self) -> bool:
        return any(c.state.running for c in self._containers())

    def status(self, service: str | None = None) -> LabStatus:
        st = self._state()
        found = (self._instance(c, st) for c in self._containers())
        instances = [i for i in found if i is not None and service in (None, i.service)]
        return self._sorted_status(instances)

    # -- changes while running ---------------------------------------------------------

    def scale(self, service: str, replicas: int) -> LabStatus:
        self._check_scale(service, replicas)
        with self._locked():
            st = self._require_up()
            st.replicas[service] = replicas
            st.stopped = [s for s in st.stopped if not s.startswith(f"{service}-")]
            self._call(
                f"scale {service}",
                self._docker(st).compose.up,
                services=[service],
                detach=True,
                wait=True,
                wait_timeout=self._up_timeout(),
                scales={service: replicas},
                dependencies=False,
                quiet=True,
            )
            state.save_state(self.settings.state_dir, st)
            if service == "api":
                self._wait_lb(replicas)
            return self.status()

    def roll(self, service: str) -> LabStatus:
        """Per running container: one more container with the new env (``--no-recreate``,
        so the others stay), then the old one stopped and removed. Compose numbers new
        containers after the highest, so ``api-1`` comes back as ``api-3``."""
        self._check_scale(service, 0)
        with self._locked():
            st = self._require_up()
            count = st.replicas.get(service, 0)
            docker = self._docker(st)  # rewrites compose.env with these settings
            old = [
                c
                for c in self._containers()
                if (c.config.labels or {}).get("com.docker.compose.service") == service
                and c.state.running
            ]
            for container in old:
                self._call(
                    f"roll {service}",
                    docker.compose.up,
                    services=[service],
                    detach=True,
                    wait=True,
                    wait_timeout=self._up_timeout(),
                    scales={service: count + 1},
                    recreate=False,
                    dependencies=False,
                    quiet=True,
                )
                if service == "api":
                    self._wait_lb(count + 1)
                self._call(f"stop {container.name}", docker.container.stop, container, time=10)
                self._call(f"remove {container.name}", docker.container.remove, container)
                if service == "api":
                    self._wait_lb(count)
            return self.status()

    def pause(self, instance: str) -> None:
        """Freeze one container (``docker pause``: the cgroup freezer)."""
        st = self._require_up()
        self._call(f"pause {instance}", self._docker(st).container.pause, self._container(instance))

    def resume(self, instance: str) -> None:
        """Thaw a paused container (``docker unpause``)."""
        st = self._require_up()
        container = self._container(instance)
        self._call(f"resume {instance}", self._docker(st).container.unpause, container)

    def replicas(self) -> Mapping[str, int]:
        st = state.load_state(self.settings.state_dir)
        return dict(st.replicas) if st else self._replicas(None)

    def scrape_host(self) -> str:
        """The gateway of the network Prometheus is on: the host's own address on that
        bridge, reachable from the containers, not published beyond this machine."""
        self._require_up()
        prometheus = self._container("prometheus-1")
        networks = prometheus.network_settings.networks or {}
        for network in networks.values():
            if network.gateway:
                return str(network.gateway)
        raise LabStateError(
            f"the Prometheus container {prometheus.name} has no network gateway",
            hint=f"docker inspect {prometheus.name}",
        )

    def read_secret(self, name: str) -> str:
        """One generated secret by name (``SecretReader``), from the project's secrets volume."""
        docker = DockerClient(compose_project_name=self.project)
        return secrets.read_secret(docker, self._containers(), name)

    def logs(self, service: str, *, follow: bool = False, tail: int = 100) -> Iterator[str]:
        self.graph.get(service)
        command = ["docker", "compose", "-p", self.project, "logs", "--no-color"]
        command += ["--tail", str(tail), *(["--follow"] if follow else []), service]
        prefix = re.compile(r"^(?P<name>[\w.-]+?)\s*\|\s?(?P<line>.*)$")
        for text in stream_lines(command):
            match = prefix.match(text)
            if match is None:
                yield f"{service} | {text}"
                continue
            name = match["name"].removeprefix(f"{self.project}-")
            yield f"{name} | {match['line']}"

    # -- internals ---------------------------------------------------------------------

    def _docker(self, st: ComposeState) -> DockerClient:
        return DockerClient(
            compose_files=[self.settings.compose_file],
            compose_project_name=self.project,
            compose_project_directory=self.settings.project_dir,
            compose_env_files=[write_env_file(self.settings)],
            compose_profiles=st.profiles,
        )

    def _state(self) -> ComposeState:
        return state.load_state(self.settings.state_dir) or ComposeState(
            self.project, self._replicas(None)
        )

    def _require_up(self) -> ComposeState:
        st = state.load_state(self.settings.state_dir)
        if st is None or not self.is_up():
            raise LabStateError("the lab is not up", hint="start it with `lab up`")
        return st

    def _profiles(self) -> list[str]:
        """Grafana runs when its image is here or can be pulled (not on offline machines)."""
        spec_env = compose_env(self.settings)
        image = spec_env.get("LAB_GRAFANA_IMAGE") or "grafana/grafana:11.3.0"
        return ["grafana"] if image_available(image) else []

    def _containers(self) -> list[Container]:
        docker = DockerClient(compose_project_name=self.project)
        try:
            found: list[Container] = docker.container.list(
                all=True, filters=[("label", f"com.docker.compose.project={self.project}")]
            )
        except DockerException as exc:
            raise _command_error(exc) from exc
        return found

    def _container(self, instance: str) -> Container:
        wanted = f"{self.project}-{instance}"
        for container in self._containers():
            if container.name == wanted:
                return container
        known = ", ".join(sorted(i.name for i in self.status().instances))
        raise ConfigError(f"no instance {instance!r}", hint=f"instances: {known}")

    def _instance(self, container: Container, st: ComposeState) -> Instance | None:
        labels = container.config.labels or {}
        service = labels.get("com.docker.compose.service", "")
        spec = self.graph.services.get(service)
        if spec is None or spec.kind in ONE_SHOT_KINDS:
            return None
        index = int(labels.get("com.docker.compose.container-number", "1"))
        name = f"{service}-{index}"
        cstate = container.state
        if cstate.running:
            health = cstate.health.status if cstate.health else None
            current = _HEALTH.get(str(health), InstanceState.STARTING) if health else None
            current = current or InstanceState.RUNNING
        else:
            current = InstanceState.STOPPED if name in st.stopped else InstanceState.EXITED
        detail = "" if cstate.running else f"exit code {cstate.exit_code}"
        return Instance(
            name=name,
            service=service,
            index=index,
            state=current,
            container=container.name,
            endpoint=host_endpoint(container, spec.port),
            detail=detail,
        )

    def _exec(self, instance: str, command: list[str]) -> str:
        docker = self._docker(self._state())
        container = self._container(instance)
        out = self._call(f"exec on {instance}", docker.container.execute, container, command)
        return str(out or "")

    def _published(self, service: str, port: int) -> Endpoint:
        try:
            host, host_port = self._docker(self._state()).compose.port(service, port)
        except DockerException as exc:
            raise ConfigError(
                f"{service} publishes no port {port} in project {self.project}",
                hint="`lab status` shows which services run",
            ) from exc
        if host is None or host_port is None:
            raise ConfigError(f"{service}:{port} is not published")
        return Endpoint(host, int(host_port))

    def _change(self, instance: str, action: Action) -> None:
        with self._locked():
            st = self._require_up()
            container = self._container(instance)
            docker = self._docker(st)
            if action == "start":
                if container.state.running:
                    raise AlreadyRunning(f"{instance} is already running")
                self._call(f"start {instance}", docker.container.start, container)
                self._wait_healthy(docker, str(container.name), instance)
                st.stopped = [s for s in st.stopped if s != instance]
            elif action == "stop":
                self._call(f"stop {instance}", docker.container.stop, container, time=10)
                st.stopped = sorted({*st.stopped, instance})
            else:
                crash(container, instance)
            state.save_state(self.settings.state_dir, st)
            # a crash is not waited for: HAProxy finds out by its health checks, and
            # the restart policy may bring the replica back before it does
            if instance.startswith("api-") and action != "kill":
                running = sum(
                    1 for i in self.status().of("api") if i.state is InstanceState.RUNNING
                )
                self._wait_lb(running)

    def _wait_healthy(self, docker: DockerClient, name: str, instance: str) -> None:
        def current() -> Container:
            found: Container = docker.container.inspect(name)
            return found

        def healthy() -> bool:
            cstate = current().state
            health = cstate.health.status if cstate.health else "healthy"
            return bool(cstate.running and health == "healthy")

        def dead() -> str | None:
            cstate = current().state
            return None if cstate.running else f"exited ({cstate.exit_code})"

        wait_for(
            f"{instance} did not become healthy",
            healthy,
            timeout=self.settings.ready_timeout_s,
            interval=0.2,
            alive=dead,
            hint=f"docker logs {name}",
        )

    def _down(self, st: ComposeState, *, volumes: bool) -> None:
        docker = self._docker(ComposeState(self.project, st.replicas, list(ALL_PROFILES)))
        self._call(
            "down",
            docker.compose.down,
            volumes=volumes,
            remove_orphans=True,
            timeout=10,
            quiet=True,
        )
        state.clear(self.settings.state_dir)
        self._clear_registered_targets()
        self._mark_down()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DockerException as exc:
            raise _command_error(exc, what=what, project=self.project) from exc


def _command_error(exc: DockerException, what: str = "", project: str = "") -> LabCommandError:
    hint = ""
    if project:
        hint = f"see `docker compose -p {project} ps -a` and `docker compose -p {project} logs`"
    return command_error(exc, what, hint)
