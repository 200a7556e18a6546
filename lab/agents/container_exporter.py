"""CPU and memory of every container of this compose project (or Swarm stack), for Prometheus.

The compose counterpart of ``lab.agents.process_exporter``, with the same series
(``lab.agents.usage``; CPU from the cgroup's CPU time, memory from its RSS).

Run inside the project (``docker/compose.stats.yaml``) as
``python -m lab.agents.container_exporter --port 9102`` with the Docker socket and the
host's ``/sys/fs/cgroup`` mounted (read-only), like cAdvisor. It finds its own project
from its own container's labels; on every scrape it lists the project's running
containers through the Docker API and reads each one's cgroup files (cgroup v1 or v2,
cgroupfs or systemd driver). The Docker stats API would do, but it samples for about a
second per container: too slow for a 1 s scrape. ``instance`` is ``<service>-<n>`` from
Compose's labels, as ``api-2`` natively; in a Swarm stack (one exporter per node, ``mode:
global``) from the service and the task's slot. Each container id is a CPU source of its
instance, so a container replaced or restarted at zero never makes the counter go down.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import urllib.parse
from pathlib import Path
from typing import Any

from lab.agents.usage import Usage, UsageCollector, serve


class DockerAPI:
    """The Docker Engine API over its unix socket (stdlib only)."""

    def __init__(self, socket_path: str, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def get(self, path: str, **query: str) -> Any:
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            url = path + ("?" + urllib.parse.urlencode(query) if query else "")
            conn.request("GET", url)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise OSError(f"docker API GET {path}: {response.status} {body[:200]!r}")
        return json.loads(body)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def _stat_value(path: Path, *keys: str) -> float | None:
    """The first of ``keys`` in a cgroup ``*.stat`` file (``key value`` lines)."""
    values = dict(line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
    for key in keys:
        if key in values:
            return float(values[key])
    return None


def cgroup_usage(root: Path, cid: str) -> tuple[float, float] | None:
    """(CPU seconds, RSS bytes) of container ``cid`` from the host's cgroup tree."""
    for rel in (f"docker/{cid}", f"system.slice/docker-{cid}.scope"):
        try:
            if (root / "cpuacct" / rel).is_dir():  # cgroup v1
                cpu_ns = float((root / "cpuacct" / rel / "cpuacct.usage").read_text())
                rss = _stat_value(root / "memory" / rel / "memory.stat", "total_rss", "rss")
                return cpu_ns / 1e9, rss or 0.0
            if (root / rel / "cpu.stat").is_file():  # cgroup v2
                usec = _stat_value(root / rel / "cpu.stat", "usage_usec") or 0.0
                anon = _stat_value(root / rel / "memory.stat", "anon")
                return usec / 1e6, anon or 0.0
        except (OSError, ValueError):
            return None  # it stopped while being read
    return None


COMPOSE_PROJECT = "com.docker.compose.project"
STACK = "com.docker.stack.namespace"


class ContainerStats(UsageCollector):
    what = "the instance's container"

    def __init__(self, api: DockerAPI, project: str, cgroup_root: Path, *, label: str = "") -> None:
        super().__init__()
        self.api = api
        self.project = project
        self.label = label or COMPOSE_PROJECT
        self.cgroup_root = cgroup_root

    def sample(self) -> list[Usage]:
        label = f"{self.label}={self.project}"
        listed = self.api.get("/containers/json", filters=json.dumps({"label": [label]}))
        found = []
        for entry in listed:
            service, instance = instance_of(entry.get("Labels") or {})
            usage = cgroup_usage(self.cgroup_root, entry["Id"])
            if usage is not None:
                cpu, rss = usage
                found.append(Usage(service, instance, {entry["Id"]: cpu}, rss))
        return found


def instance_of(labels: dict[str, str]) -> tuple[str, str]:
    """``(service, instance)`` of a container from Compose's or Swarm's labels."""
    stack = labels.get(STACK)
    if stack:  # task names are <stack>_<service>.<slot>.<task id> (a node id when global)
        service = labels.get("com.docker.swarm.service.name", "?").removeprefix(f"{stack}_")
        parts = labels.get("com.docker.swarm.task.name", "").split(".")
        slot = parts[1] if len(parts) == 3 and parts[1].isdigit() else "1"
        return service, f"{service}-{slot}"
    service = labels.get("com.docker.compose.service", "?")
    return service, f"{service}-{labels.get('com.docker.compose.container-number', '1')}"


def own_project(api: DockerAPI) -> tuple[str, str]:
    """The label and the value that name this container's compose project or Swarm stack
    (its hostname is its id)."""
    me = api.get(f"/containers/{socket.gethostname()}/json")
    labels = me.get("Config", {}).get("Labels") or {}
    for label in (COMPOSE_PROJECT, STACK):
        if labels.get(label):
            return label, str(labels[label])
    raise SystemExit("lab exporter: not in a compose project or a Swarm stack (no label)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.agents.container_exporter")
    parser.add_argument("--port", type=int, default=9102)
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 (inside its container)
    parser.add_argument("--socket", default="/var/run/docker.sock")
    parser.add_argument("--cgroup-root", type=Path, default=Path("/host/sys/fs/cgroup"))
    parser.add_argument("--project", default="", help="default: this container's project")
    args = parser.parse_args(argv)
    api = DockerAPI(args.socket)
    label, project = (COMPOSE_PROJECT, args.project) if args.project else own_project(api)
    print(f"lab exporter: containers of {label}={project} on :{args.port}/metrics", flush=True)
    stats = ContainerStats(api, project, args.cgroup_root, label=label)
    serve(stats, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
