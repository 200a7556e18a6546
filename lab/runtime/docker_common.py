"""What the two Docker runtimes (Compose and Swarm) share; each imports this, never the other.

``compose_env`` / ``write_env_file``: the settings as compose.yaml's ``${LAB_...}``
variables (the knobs, the published ports, the scrape-target folder), written as the
``--env-file`` both ``docker compose`` and the Swarm stack renderer read.
``compose_graph``: compose.yaml's services with those it includes. ``command_error``:
python-on-whales' error as the lab's own. ``crash``: SIGKILL a
container's process as a crash would (its restart policy applies). ``host_endpoint``: where
a container publishes a port on this host. ``wait_servers_up``: until HAProxy routes to
exactly as many API replicas as run (it finds them through Docker's DNS).
``image_available``: whether an optional image (Grafana) is here or can be pulled.
``DockerRuntime``: the part of a runtime both implement the same way (endpoints, admin
calls through ``docker exec``, HAProxy's view, the order of ``status``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml
from python_on_whales import Container
from python_on_whales.exceptions import DockerException

from lab import proc
from lab.errors import ConfigError, LabCommandError, LabStateError
from lab.fsio import atomic_write_text
from lab.runtime.admin import AdminCallError, AdminMethod, admin_answer, encode_body
from lab.runtime.base import Endpoint, Instance, InstanceState, LabStatus
from lab.runtime.common import RuntimeBase, endpoint_key, knob_env
from lab.runtime.home import targets_dir
from lab.runtime.lb_stats import backend_servers
from lab.settings import Settings
from lab.topology import ServiceGraph, load_service_graph
from lab.wait import wait_for

ENV_FILE = "compose.env"
LB_STATS_PORT = 8404  # HAProxy's stats and /metrics, published on a free port
log = logging.getLogger(__name__)


def compose_env(settings: Settings) -> dict[str, str]:
    """compose.yaml's variables: ``LAB_*`` of the environment (images...), then the
    settings (knobs, default replicas, ports, the scrape-target folder)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("LAB_")}
    env.update(knob_env(settings))
    env.update(
        {
            "LAB_LB_PORT": str(settings.lb_port),
            "LAB_PROMETHEUS_PORT": str(settings.prometheus_port),
            "LAB_LOCUST_PORT": str(settings.locust_port),
            "LAB_GRAFANA_PORT": str(settings.grafana_port),
            "LAB_SCRAPE_TARGETS_DIR": str(targets_dir(settings.state_dir)),
        }
    )
    return env


def write_env_file(settings: Settings) -> Path:
    """(Re)write ``compose.env``; values are quoted so no shell or compose syntax leaks."""
    path = settings.state_dir / ENV_FILE
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}={json.dumps(value)}" for key, value in sorted(compose_env(settings).items())]
    text = "\n".join(lines) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return path


def compose_graph(settings: Settings) -> ServiceGraph:
    """compose.yaml's services plus those of the files it ``include``s (the native runtime
    leaves the included ones out)."""
    env = compose_env(settings)
    graph = load_service_graph(settings.compose_file, env=env)
    raw = yaml.safe_load(settings.compose_file.read_text(encoding="utf-8")) or {}
    services = dict(graph.services)
    for entry in raw.get("include") or []:
        path = entry if isinstance(entry, str) else entry.get("path", "")
        services.update(load_service_graph(settings.project_dir / str(path), env=env).services)
    return ServiceGraph(path=graph.path, services=services)


def stream_lines(command: list[str]) -> Iterator[str]:
    """The lines ``command`` prints (stdout and stderr), as they come. Its pipes are closed
    and the process ended however the reader stops (python-on-whales' streaming leaves
    the pipes to the garbage collector)."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        try:
            for line in process.stdout or ():
                yield line.rstrip("\n")
        finally:
            if process.poll() is None:
                process.terminate()


def command_error(exc: DockerException, what: str = "", hint: str = "") -> LabCommandError:
    """python-on-whales' error as the lab's own: the command, its exit code and stderr."""
    stderr = exc.stderr or exc.stdout or str(exc)
    error = LabCommandError(exc.docker_command, exc.return_code, stderr)
    if hint:
        error.hint = f"{what} failed; {hint}" if what else hint
    return error


def crash(container: Container, instance: str) -> None:
    """SIGKILL the container's main process from the host, as a crash would end it.

    Not ``docker kill``: the daemon takes that for a manual stop and cancels the
    container's restart policy; a process that dies on its own is restarted by it (by
    Docker under Compose, by the orchestrator under Swarm)."""
    pid = container.state.pid
    if not container.state.running or not pid:
        raise LabStateError(f"{instance} is not running", hint="`lab status` shows it")
    try:
        os.kill(pid, signal.SIGKILL)
    except PermissionError as exc:
        raise LabStateError(
            f"cannot kill {instance}'s process {pid}: {exc}",
            hint="killing a container's process needs root on the Docker host",
        ) from exc
    except ProcessLookupError:
        pass  # it ended on its own meanwhile


def host_endpoint(container: Container, port: int | None) -> Endpoint | None:
    """Where ``container`` publishes ``port`` on this host, if it does."""
    if port is None:
        return None
    bindings = (container.network_settings.ports or {}).get(f"{port}/tcp") or []
    for binding in bindings:
        host, host_port = binding.get("HostIp"), binding.get("HostPort")
        if host and host_port:
            host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
            return Endpoint(host, int(host_port))
    return None


def server_states(stats: Endpoint) -> dict[str, str]:
    """HAProxy's API server slot → status (UP, DOWN, MAINT...; empty: "MAINT (resolution)")."""
    return {name: status for name, (status, _) in backend_servers(stats).items()}


def wait_servers_up(stats: Endpoint, count: int, *, timeout: float) -> None:
    """Wait until exactly ``count`` API servers are UP in HAProxy."""

    def ready() -> bool:
        up = [s for s in server_states(stats).values() if s.startswith("UP")]
        return len(up) == count

    wait_for(
        f"HAProxy did not route to {count} API replica(s)",
        ready,
        timeout=timeout,
        interval=0.2,
        hint=f"see {stats.url}/stats and `lab logs lb`",
    )


def image_available(image: str, *, pull_timeout: float = 120.0) -> bool:
    """True when ``image`` is present locally or a pull succeeds (fails fast offline)."""
    try:
        proc.run(["docker", "image", "inspect", image], timeout=15)
        return True
    except LabCommandError:
        pass
    try:
        proc.run(["docker", "pull", "--quiet", image], timeout=pull_timeout)
        return True
    except LabCommandError as exc:
        log.info("%s cannot be pulled, running without it: %s", image, exc.message)
        return False


class DockerRuntime(RuntimeBase):
    """What the Compose and the Swarm runtime do alike; each supplies ``_require_up``,
    ``_published`` (where Docker published a service's port) and ``_exec`` (a command in
    one instance's container)."""

    def endpoint(self, service: str) -> Endpoint:
        self._require_up()
        key = endpoint_key(service)
        if key == "lb_stats":  # HAProxy's stats and metrics port
            return self._published("lb", LB_STATS_PORT)
        spec = self.graph.get(key)
        if spec.port is None:
            raise ConfigError(f"no endpoint for {service!r}: it serves no port")
        if key == "lb":  # the user-facing ports are fixed by the settings
            return Endpoint(self.settings.bind_host, self.settings.lb_port)
        if key == "prometheus":
            return Endpoint(self.settings.bind_host, self.settings.prometheus_port)
        return self._published(key, spec.port)

    def admin_call(
        self, instance: str, method: AdminMethod, path: str, body: Mapping[str, object] | None
    ) -> dict[str, object]:
        """``docker exec`` the replica's own client: the endpoint is on its loopback."""
        self._require_up()
        if not instance.startswith("api-"):
            raise ConfigError(f"{instance!r} is not an API replica")
        command = ["python", "-m", "shop_api.admin_call", method, path, encode_body(body)]
        out = self._exec(instance, command)
        status, _, text = out.partition("\n")
        if not status.strip().isdigit():
            raise AdminCallError(f"{instance}: {method} {path}: unexpected answer {out!r}")
        return admin_answer(instance, method, path, int(status), text)

    def _sorted_status(self, instances: list[Instance]) -> LabStatus:
        """Instances in compose.yaml's order of services, then by number."""
        order = {name: n for n, name in enumerate(self.graph.services)}
        instances.sort(key=lambda i: (order.get(i.service, 99), i.index))
        up = any(i.state is not InstanceState.EXITED for i in instances)
        return LabStatus(runtime=self.name, up=up, instances=instances)

    def _wait_lb(self, count: int) -> None:
        stats = self._published("lb", LB_STATS_PORT)
        wait_servers_up(stats, count, timeout=self.settings.ready_timeout_s)

    def _up_timeout(self) -> int:
        return int(max(180.0, 6 * self.settings.ready_timeout_s))

    def _require_up(self) -> object:
        raise NotImplementedError

    def _published(self, service: str, port: int) -> Endpoint:
        raise NotImplementedError

    def _exec(self, instance: str, command: list[str]) -> str:
        raise NotImplementedError
