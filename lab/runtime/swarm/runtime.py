"""``SwarmRuntime``: compose.yaml's services as a Docker Swarm stack.

``lab up --runtime swarm`` initialises a single-node swarm when this engine is in none
(``docker swarm init --advertise-addr 127.0.0.1``; ``lab down`` leaves it again, and never
a swarm it found), renders the stack file from ``docker compose config``
(``lab.runtime.swarm.stack``) and deploys it with ``docker stack deploy``. Instance
``api-2`` is the newest task of slot 2 of service ``<stack>_api``.

Swarm acts on services, not on tasks, so the one-instance changes map this way:
``kill`` SIGKILLs the task's process (``condition: on-failure`` starts a new task in the
slot), ``stop`` stops its container gracefully (exit 0: the task completes and Swarm
leaves the slot empty), ``start`` runs ``docker service update --force`` (Swarm has no
"start this task": every task of the service is replaced, one at a time, spare first),
``pause``/``resume`` freeze the container. ``roll`` re-deploys the stack with the new
settings: Swarm rolls the services whose spec changed, start-first. The one-instance
changes, ``pause``, ``admin_call`` and the per-instance endpoints act on containers of
this node (the manager the lab runs on); what runs elsewhere is seen through its tasks.
What is running is always read back from Swarm (tasks) and Docker (containers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from lab import proc
from lab.errors import (
    AlreadyRunning,
    ConfigError,
    LabCommandError,
    LabError,
    LabStateError,
    NotReadyError,
)
from lab.fsio import atomic_write_text
from lab.passwords import NAMES as SECRET_NAMES
from lab.passwords import ensure_secrets
from lab.runtime.base import Endpoint, Instance, InstanceState, LabStatus
from lab.runtime.common import Action
from lab.runtime.docker_common import (
    DockerRuntime,
    command_error,
    compose_env,
    compose_graph,
    crash,
    image_available,
    stream_lines,
    write_env_file,
)
from lab.runtime.swarm import stack, state
from lab.runtime.swarm.state import SwarmState
from lab.settings import Settings
from lab.wait import wait_for

LOAD_WORKERS = "locust-worker"  # compose.yaml's Locust workers
NAMESPACE = "com.docker.stack.namespace"
PENDING = frozenset({"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready"})
PENDING |= {"starting"}
WANTED = frozenset({"running", "ready", "accepted"})  # desired states of a wanted task
_HEALTH = {"healthy": InstanceState.RUNNING, "unhealthy": InstanceState.UNHEALTHY}
_LOG_PREFIX = re.compile(r"^(?P<service>[\w-]+)\.(?P<slot>\d+)\.\w+@\S+\s*\|\s?(?P<line>.*)$")


@dataclass(frozen=True)
class Task:
    """One Swarm task, as much of it as the lab reads."""

    service: str  # compose.yaml's name (``api``)
    slot: int  # replicated: the slot; global: the node's number
    state: str  # running, complete, failed, shutdown, pending...
    desired: str
    container: str  # id, "" before it has one
    node: str
    error: str
    created: str


class Lagging(Exception):
    """A service of the stack not converged yet (what the convergence wait saw last)."""


class SwarmRuntime(DockerRuntime):
    name = "swarm"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, compose_graph(settings))
        self.stack = settings.compose_project
        self.docker = DockerClient()

    # -- lifecycle ----------------------------------------------------------------------

    def up(self, scales: Mapping[str, int] | None = None) -> LabStatus:
        with self._locked():
            if self.is_up():
                raise LabStateError(
                    f"swarm stack {self.stack!r} is already up",
                    hint="`lab status` to see it, `lab down` to stop it",
                )
            self._check_fixed_ports()
            self._check_left_volumes()
            st = SwarmState(self.stack, self._replicas(scales), profiles=self._profiles())
            st.created_swarm = self._ensure_swarm()
            self._mark_up()
            state.save_state(self.settings.state_dir, st)
            self._clear_registered_targets()  # before Prometheus mounts their folder
            try:
                self._call("build", self._compose(st).compose.build, services=["api"], quiet=True)
                self._deploy(st)
                self._wait_converged(st)
                if st.replicas.get("api"):
                    self._wait_lb(st.replicas["api"])
            except BaseException:
                self._down(st, volumes=False)
                raise
            return self.status()

    def _check_left_volumes(self) -> None:
        """Refuse volumes an earlier stack of this name left, when this home has no
        passwords yet: their Postgres was initialised with another home's password (the
        stack's name is the engine's, not the home's), so the API would wait for a login
        that never works until the convergence wait gave up, three minutes later."""
        if (self.settings.state_dir / state.SECRETS_DIR / "pg_password").exists():
            return
        found = self._leftovers("volume")
        if found:
            raise LabStateError(
                f"volumes of an earlier swarm lab {self.stack!r} are left ({', '.join(found)}),"
                " made with another lab home's passwords, which this home does not have",
                hint=f"`lab down --volumes` from the home that made them, or `docker volume rm "
                f"{' '.join(found)}` (their data goes with them)",
            )

    def down(self, *, volumes: bool = False) -> None:
        with self._locked():
            st = state.load_state(self.settings.state_dir) or SwarmState(self.stack)
            self._down(st, volumes=volumes)

    def is_up(self) -> bool:
        return bool(self._services())

    def status(self, service: str | None = None) -> LabStatus:
        st = self._state()
        containers = self._containers()
        tasks = [t for t in self._current_tasks(st) if service in (None, t.service)]
        instances = [self._instance(t, st, containers) for t in tasks]
        return self._sorted_status(instances)

    # -- changes while running ---------------------------------------------------------

    def scale(self, service: str, replicas: int) -> LabStatus:
        self._check_scale(service, replicas)
        with self._locked():
            st = self._require_up()
            st.replicas[service] = replicas
            st.stopped = [s for s in st.stopped if not s.startswith(f"{service}-")]
            state.save_state(self.settings.state_dir, st)
            self._call(
                f"scale {service}",
                self.docker.service.scale,
                {self._service_name(service): replicas},
                detach=True,
            )
            self._wait_converged(st, services=[service])
            if service == "api":
                self._wait_lb(replicas)
            return self.status()

    def roll(self, service: str) -> LabStatus:
        """Re-deploy the stack with this runtime's settings: Swarm rolls every service
        whose spec changed, one task at a time, the new one started (and healthy) before
        the old one stops; HAProxy retries a request the stopping one refuses."""
        self._check_scale(service, 0)
        with self._locked():
            st = self._require_up()
            self._deploy(st)
            self._wait_rolled(service)
            self._wait_converged(st, services=[service])
            if service == "api":
                self._wait_lb(st.replicas.get("api", 0))
            return self.status()

    def pause(self, instance: str) -> None:
        """Freeze one task's container (``docker pause``: the cgroup freezer). Swarm sees
        its health check fail and replaces it after ``retries`` × ``interval`` (30 s)."""
        self._require_up()
        self._call(f"pause {instance}", self.docker.container.pause, self._container(instance))

    def resume(self, instance: str) -> None:
        self._require_up()
        self._call(f"resume {instance}", self.docker.container.unpause, self._container(instance))

    def replicas(self) -> Mapping[str, int]:
        st = state.load_state(self.settings.state_dir)
        return dict(st.replicas) if st else self._replicas(None)

    def scrape_host(self) -> str:
        """The gateway of ``docker_gwbridge``: every task's way out of the overlay network,
        the host's own address on that bridge (not published beyond this machine)."""
        self._require_up()
        found = self._inspect("network", ["docker_gwbridge"])
        for config in (found[0].get("IPAM") or {}).get("Config") or [] if found else []:
            if config.get("Gateway"):
                return str(config["Gateway"])
        raise LabStateError(
            "docker_gwbridge has no gateway", hint="docker network inspect docker_gwbridge"
        )

    def read_secret(self, name: str) -> str:
        """One generated secret, from the file its Swarm secret was created from (Swarm
        never hands a secret back)."""
        if name not in SECRET_NAMES:
            raise ConfigError(f"{name!r} is not a secret's name", hint=", ".join(SECRET_NAMES))
        path = self.settings.state_dir / state.SECRETS_DIR / name
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError as exc:
            raise LabStateError(
                f"no secret {name!r} in {path.parent}", hint="start the lab with `lab up`"
            ) from exc

    def logs(self, service: str, *, follow: bool = False, tail: int = 100) -> Iterator[str]:
        self.graph.get(service)
        command = ["docker", "service", "logs", "--no-trunc", "--tail", str(tail)]
        command += [*(["--follow"] if follow else []), self._service_name(service)]
        for text in stream_lines(command):
            match = _LOG_PREFIX.match(text)
            if match is None:
                yield f"{service} | {text}"
                continue
            yield f"{service}-{match['slot']} | {match['line']}"

    # -- Locust's workers as services (lab.load.driver.WorkerPool) -------------------------

    def load_master_host(self) -> str:
        """The swarm's address for this node, or (a one-node swarm on 127.0.0.1) the
        bridge every task reaches the host by."""
        out = proc.run(["docker", "info", "--format", "{{.Swarm.NodeAddr}}"], timeout=30)
        address = out.stdout.strip()
        return self.scrape_host() if address in ("", "127.0.0.1") else address

    def load_target_url(self) -> str:
        return "http://lb:8080"  # compose.yaml's LB, by name on the stack's network

    def start_load_workers(self, count: int, master: str) -> None:
        with self._locked():
            st = self._require_up()
            st.load_workers, st.load_master = count, master
            st.replicas[LOAD_WORKERS] = count
            state.save_state(self.settings.state_dir, st)
            self._deploy(st)
            self._wait_converged(st, services=[LOAD_WORKERS])

    def load_worker_pids(self) -> dict[str, int]:
        service = self._service_name(LOAD_WORKERS)
        pids: dict[str, int] = {}
        for c in self._containers().values():
            labels = (c.get("Config") or {}).get("Labels") or {}
            pid = (c.get("State") or {}).get("Pid")
            if labels.get("com.docker.swarm.service.name") != service or not pid:
                continue
            # the task's name is <service>.<slot>.<id>: the worker is locust-worker-<slot>
            slot = str(labels.get("com.docker.swarm.task.name", "")).split(".")[1:2]
            pids[f"{LOAD_WORKERS}-{slot[0] if slot else pid}"] = int(pid)
        return pids

    def stop_load_workers(self) -> None:
        with self._locked():
            st = state.load_state(self.settings.state_dir)
            if st is None or not st.load_workers or not self.is_up():
                return
            st.load_workers, st.load_master = 0, ""
            st.replicas.pop(LOAD_WORKERS, None)
            state.save_state(self.settings.state_dir, st)
            self._deploy(st)  # prunes the workers' service

    # -- the stack ----------------------------------------------------------------------

    def _deploy(self, st: SwarmState) -> None:
        folder = self.settings.state_dir / state.SECRETS_DIR
        ensure_secrets(folder)
        folder.chmod(0o700)
        for path in folder.iterdir():
            path.chmod(0o600)
        config = self._call("compose config", self._compose(st).compose.config, return_json=True)
        kinds = {name: spec.kind for name, spec in self.graph.services.items()}
        options = stack.StackOptions(
            replicas=st.replicas,
            secrets_dir=folder,
            secret_names=SECRET_NAMES,
            data_node=self._data_node(),
            load_master=st.load_master if st.load_workers else "",
        )
        rendered = stack.render(config, kinds, options)
        path = self.settings.state_dir / state.STACK_FILE
        atomic_write_text(path, yaml.safe_dump(rendered, sort_keys=False))
        self._call(
            "stack deploy",
            self.docker.stack.deploy,
            self.stack,
            [path],
            prune=True,
            resolve_image="never",
        )

    def _compose(self, st: SwarmState) -> DockerClient:
        """A compose client for ``build`` and ``config`` (the stack file's source)."""
        return DockerClient(
            compose_files=[self.settings.compose_file],
            compose_project_name=self.stack,
            compose_project_directory=self.settings.project_dir,
            compose_env_files=[write_env_file(self.settings)],
            compose_profiles=[*st.profiles, *(["load"] if st.load_workers else [])],
        )

    def _profiles(self) -> list[str]:
        image = compose_env(self.settings).get("LAB_GRAFANA_IMAGE") or "grafana/grafana:11.3.0"
        return ["grafana"] if image_available(image) else []

    def _ensure_swarm(self) -> bool:
        """Initialise a single-node swarm when this engine is in none; True if so."""
        current = self._swarm_state()
        if current == "active":
            return False
        if current != "inactive":
            raise LabStateError(
                f"this Docker engine's swarm state is {current!r}",
                hint="`docker info` shows it; `docker swarm leave --force` resets it",
            )
        self._call("swarm init", self.docker.swarm.init, advertise_address="127.0.0.1")
        print("lab: initialised a single-node Docker swarm (`lab down` leaves it again)")
        return True

    def _swarm_state(self) -> str:
        try:
            out = proc.run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"], timeout=30)
        except LabCommandError as exc:
            raise LabStateError(
                "Docker does not answer", hint="scripts/docker-setup.sh starts it"
            ) from exc
        return out.stdout.strip()

    def _data_node(self) -> bool:
        """Whether a node is labelled ``prodlab.tier=data`` (the data tier goes there)."""
        ids = proc.run(["docker", "node", "ls", "-q"], timeout=30).stdout.split()
        nodes = self._inspect("node", ids)
        return any(
            ((n.get("Spec") or {}).get("Labels") or {}).get(stack.DATA_LABEL) == "data"
            for n in nodes
        )

    # -- reading Swarm back -------------------------------------------------------------

    def _services(self) -> dict[str, str]:
        """Service id → compose.yaml name, for this stack's services."""
        try:
            out = proc.run(
                ["docker", "service", "ls", "--format", "{{.Name}}",
                 "--filter", f"label={NAMESPACE}={self.stack}"],
                timeout=30,
            )  # fmt: skip
        except LabCommandError:
            return {}  # no swarm, or Docker down: nothing of this stack runs
        found = self._inspect("service", out.stdout.split())
        prefix = f"{self.stack}_"
        return {str(s["ID"]): str(s["Spec"]["Name"]).removeprefix(prefix) for s in found}

    def _tasks(self) -> list[Task]:
        services = self._services()
        if not services:
            return []
        ids = proc.run(
            ["docker", "service", "ps", "-q", "--no-trunc", *services], timeout=30
        ).stdout.split()
        nodes: dict[str, int] = {}
        tasks = []
        for raw in self._inspect("task", sorted(set(ids))):
            status = raw.get("Status") or {}
            node = str(raw.get("NodeID") or "")
            slot = raw.get("Slot") or nodes.setdefault(node, len(nodes) + 1)
            tasks.append(
                Task(
                    service=services.get(str(raw.get("ServiceID")), "?"),
                    slot=int(slot),
                    state=str(status.get("State", "")),
                    desired=str(raw.get("DesiredState", "")),
                    container=str((status.get("ContainerStatus") or {}).get("ContainerID") or ""),
                    node=node,
                    error=str(status.get("Err") or ""),
                    created=str(raw.get("CreatedAt", "")),
                )
            )
        return tasks

    def _current_tasks(self, st: SwarmState) -> list[Task]:
        """The newest task of every slot that is wanted (desired running) or was stopped
        on purpose; one-shot services have none."""
        newest: dict[tuple[str, int], Task] = {}
        for task in sorted(self._tasks(), key=lambda t: t.created):
            newest[(task.service, task.slot)] = task
        return [
            t
            for t in newest.values()
            if t.desired in ("running", "ready", "accepted")
            or f"{t.service}-{t.slot}" in st.stopped
        ]

    def _containers(self) -> dict[str, dict[str, Any]]:
        """This node's containers of the stack, by id."""
        ids = proc.run(
            ["docker", "ps", "-aq", "--no-trunc", "--filter", f"label={NAMESPACE}={self.stack}"],
            timeout=30,
        ).stdout.split()
        return {str(c["Id"]): c for c in self._inspect("container", ids)}

    def _inspect(self, kind: str, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        try:
            out = proc.run(["docker", "inspect", "--type", kind, *ids], timeout=60)
        except LabCommandError as exc:  # one went away meanwhile: inspect one by one
            if len(ids) == 1:
                if "No such" in exc.stderr or "not found" in exc.stderr.lower():
                    return []
                raise
            return [found for one in ids for found in self._inspect(kind, [one])]
        found: list[dict[str, Any]] = json.loads(out.stdout or "[]")
        return found

    def _instance(
        self, task: Task, st: SwarmState, containers: Mapping[str, dict[str, Any]]
    ) -> Instance:
        name = f"{task.service}-{task.slot}"
        container = containers.get(task.container)
        current, detail = InstanceState.EXITED, task.error or task.state
        if task.state == "running":
            current, detail = InstanceState.RUNNING, ""
            health = ((container or {}).get("State") or {}).get("Health")
            if health:
                current = _HEALTH.get(str(health.get("Status")), InstanceState.STARTING)
        elif task.state in PENDING:
            current, detail = InstanceState.STARTING, task.state
        elif name in st.stopped:
            current = InstanceState.STOPPED
        spec = self.graph.services.get(task.service)
        endpoint = None
        if container is not None and spec is not None:
            endpoint = _published_port(container, spec.port)
        return Instance(
            name=name,
            service=task.service,
            index=task.slot,
            state=current,
            container=str(container["Name"]).lstrip("/") if container else task.container[:12],
            endpoint=endpoint,
            detail=detail,
        )

    def _container(self, instance: str) -> str:
        """The id of ``instance``'s container on this node."""
        st = self._state()
        for task in self._current_tasks(st):
            if f"{task.service}-{task.slot}" == instance:
                if not task.container or task.container not in self._containers():
                    raise LabStateError(
                        f"{instance} has no container on this node ({task.state})",
                        hint="the lab acts on containers of the manager it runs on",
                    )
                return task.container
        known = ", ".join(sorted(i.name for i in self.status().instances))
        raise ConfigError(f"no instance {instance!r}", hint=f"instances: {known}")

    def _exec(self, instance: str, command: list[str]) -> str:
        container = self._container(instance)
        out = self._call(f"exec on {instance}", self.docker.container.execute, container, command)
        return str(out or "")

    def _published(self, service: str, port: int) -> Endpoint:
        containers = self._containers()
        for task in self._current_tasks(self._state()):
            container = containers.get(task.container)
            if task.service == service and container is not None:
                found = _published_port(container, port)
                if found is not None:
                    return found
        raise ConfigError(
            f"{service} publishes no port {port} on this node",
            hint="`lab status` shows which services run",
        )

    # -- waiting ------------------------------------------------------------------------

    def _wait_converged(self, st: SwarmState, services: list[str] | None = None) -> None:
        """Until every replicated service (or ``services``) has exactly its desired
        number of running, healthy tasks and the global ones one per node."""
        wanted = services or sorted(set(self._services().values()))
        lagging: list[str] = []  # the service the wait saw last behind

        def converged() -> bool:
            status = self.status()
            for service in wanted:
                spec = self.graph.get(service)
                want = 1 if spec.kind in stack.GLOBAL_KINDS else st.replicas.get(service, 1)
                instances = [i for i in status.of(service) if i.name not in st.stopped]
                ready = [i for i in instances if i.state is InstanceState.RUNNING]
                if len(ready) < want or len(instances) != len(ready):
                    lagging[:] = [service]
                    # raised, not returned: the timeout's message then names the laggard
                    others = ", ".join(
                        f"{i.name} {i.state.value}" for i in instances if i not in ready
                    )
                    raise Lagging(
                        f"{service}: {len(ready)} of {want} running ({others or 'none yet'})"
                    )
            return True

        try:
            wait_for(
                "the swarm stack did not converge",
                converged,
                timeout=self._up_timeout(),
                interval=0.5,
                alive=lambda: None,
                hint=f"`docker stack ps {self.stack}` shows each task's state and error",
            )
        except NotReadyError as exc:
            if not lagging:
                raise
            # what the laggard said last: once the stack is down its logs are gone with it
            # (a task "starting" for minutes has told why: a password, a host it waits for)
            raise NotReadyError(
                f"{exc.message}; the last lines of {lagging[0]}:\n{self._last_lines(lagging[0])}",
                exc.hint,
            ) from None

    def _last_lines(self, service: str, count: int = 8) -> str:
        try:
            lines = list(self.logs(service, tail=count))
        except LabError as exc:
            return f"  (no logs: {exc.message})"
        return "\n".join(f"  {line}" for line in lines[-count:]) or "  (none)"

    def _wait_rolled(self, service: str) -> None:
        """Until Swarm's rolling update of ``service`` is over (or there was none)."""
        name = self._service_name(service)

        def update_state() -> str:
            raw = self._inspect("service", [name])
            return str(((raw[0] if raw else {}).get("UpdateStatus") or {}).get("State", ""))

        wait_for(
            f"the rolling update of {service} did not complete",
            lambda: update_state() in ("", "completed"),
            timeout=self._up_timeout(),
            interval=0.5,
            alive=lambda: (
                f"Swarm {update_state()} it" if update_state().startswith(("paused", "rollback"))
                else None
            ),
            hint=f"docker service inspect --pretty {name}",
        )  # fmt: skip

    # -- one instance -------------------------------------------------------------------

    def _change(self, instance: str, action: Action) -> None:
        with self._locked():
            st = self._require_up()
            service = instance.rpartition("-")[0]
            if action == "start":
                if instance not in st.stopped and any(
                    i.name == instance and i.state is InstanceState.RUNNING
                    for i in self.status().instances
                ):
                    raise AlreadyRunning(f"{instance} is already running")
                st.stopped = [s for s in st.stopped if s != instance]
                state.save_state(self.settings.state_dir, st)
                self._call(
                    f"start {instance}",
                    self.docker.service.update,
                    self._service_name(service),
                    force=True,
                    detach=True,
                )
                self._wait_rolled(service)
                self._wait_converged(st, services=[service])
            elif action == "stop":
                container = self._container(instance)
                st.stopped = sorted({*st.stopped, instance})
                state.save_state(self.settings.state_dir, st)
                self._call(f"stop {instance}", self.docker.container.stop, container, time=10)
            else:
                crash(self.docker.container.inspect(self._container(instance)), instance)
            if service == "api" and action != "kill":
                running = sum(
                    1 for i in self.status().of("api") if i.state is InstanceState.RUNNING
                )
                self._wait_lb(running)

    # -- down ---------------------------------------------------------------------------

    def _down(self, st: SwarmState, *, volumes: bool) -> None:
        if self._swarm_state() == "active":
            if self._services():
                self._call("stack rm", self.docker.stack.remove, self.stack)
            self._wait_gone(volumes=volumes)
        state.clear(self.settings.state_dir, secrets=volumes)
        self._clear_registered_targets()
        self._mark_down()
        if st.created_swarm and self._swarm_state() == "active" and not self._others():
            self._call("swarm leave", self.docker.swarm.leave, force=True)
            # the bridge `swarm init` made for the tasks' way out; the next init makes it again
            proc.run(["docker", "network", "rm", "docker_gwbridge"], timeout=30, check=False)

    def _wait_gone(self, *, volumes: bool) -> None:
        """Until no container and no network of the stack is left (Swarm removes them
        after ``stack rm`` returns); then its volumes, if asked."""
        wait_for(
            f"the containers and networks of stack {self.stack} did not go",
            lambda: not self._leftovers("container") and not self._leftovers("network"),
            timeout=90,
            interval=0.5,
            hint=f"docker ps -a --filter label={NAMESPACE}={self.stack}",
        )
        if volumes:
            found = self._leftovers("volume")
            if found:
                proc.run(["docker", "volume", "rm", *found], timeout=60)

    def _leftovers(self, kind: str) -> list[str]:
        """The stack's containers, networks or volumes still on this node."""
        label = f"label={NAMESPACE}={self.stack}"
        cmd = ["docker", kind, "ls", "-q", "--filter", label]
        if kind == "container":
            cmd = ["docker", "ps", "-aq", "--filter", label]
        return proc.run(cmd, timeout=30).stdout.split()

    def _others(self) -> bool:
        """Whether services that are not this lab's run in the swarm."""
        out = proc.run(["docker", "service", "ls", "-q"], timeout=30).stdout.split()
        return bool(out)

    # -- helpers ------------------------------------------------------------------------

    def _service_name(self, service: str) -> str:
        return f"{self.stack}_{service}"

    def _state(self) -> SwarmState:
        return state.load_state(self.settings.state_dir) or SwarmState(
            self.stack, self._replicas(None)
        )

    def _require_up(self) -> SwarmState:
        st = state.load_state(self.settings.state_dir)
        if st is None or not self.is_up():
            raise LabStateError("the lab is not up", hint="start it with `lab up`")
        return st

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DockerException as exc:
            hint = f"see `docker stack ps {self.stack}`, `docker service logs {self.stack}_<name>`"
            raise command_error(exc, what, hint) from exc


def _published_port(container: Mapping[str, Any], port: int | None) -> Endpoint | None:
    """Where a container (``docker inspect`` JSON) publishes ``port`` on this host."""
    if port is None:
        return None
    ports = ((container.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp")
    for binding in ports or []:
        host, host_port = binding.get("HostIp"), binding.get("HostPort")
        if host is not None and host_port:
            host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104
            return Endpoint(host, int(host_port))
    return None
