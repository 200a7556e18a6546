"""compose.yaml as a Swarm stack file: the same services, in Swarm's terms.

``docker stack deploy`` reads the compose file format v3 and ignores what Swarm cannot do
(``depends_on``, ``build``, one-shot services, ``host_ip`` on ports). So the runtime asks
``docker compose config`` for the resolved model (variables filled in, included files
merged, paths absolute) and ``render`` rewrites it:

- the one-shot ``secrets`` service and its volume become Swarm secrets, mounted at the
  same paths (``/run/lab-secrets/<name>``), so every ``*_FILE`` variable still works;
- ports are published in ``mode: host`` (the routing mesh does not answer on 127.0.0.1
  here) and bind every interface of the node: see the README for what that exposes;
- ``restart: unless-stopped`` becomes ``condition: on-failure``: a crash (SIGKILL, exit
  137) is restarted, a graceful stop (SIGTERM, exit 0) is not, as under Compose;
- every service resolves by DNS round robin (``endpoint_mode: dnsrr``): ``api`` and
  ``tasks.api`` answer with every replica, which HAProxy and Prometheus follow;
- replicas name themselves ``api-<slot>`` (``LAB_REPLICA`` from Swarm's templates);
- scaled services roll start-first, one task at a time; services on fixed ports stop first;
- placement: what the lab's host reaches on a fixed port (HAProxy, Prometheus, Locust's
  master, Grafana) runs on a manager; the data tier goes to nodes labelled
  ``prodlab.tier=data`` when one exists; API replicas, workers and load workers spread over
  ``node.labels.prodlab.zone`` (and Swarm spreads a service's tasks over nodes anyway);
  the per-container exporter runs on every node (``mode: global``);
- healthchecks probe every 5 s, not compose.yaml's 1 s (with as long to give up): Compose
  needs fast probes to start services in ``depends_on`` order, Swarm has no such order,
  and each probe is a ``docker exec`` (dockerd, containerd, runc, a shell): measured here,
  14 one-second probes kept 0.66 of the 2 cores busy with the lab idle, and the API's
  service time rose with it (see ``swarm_health``);
- Locust: the master runs on the lab's host (the load driver drives its web API and reads
  its CSVs); with ``load_master`` set, compose.yaml's workers join it from the nodes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRETS_VOLUME = "secrets"
SECRETS_MOUNT = "/run/lab-secrets"
DATA_LABEL = "prodlab.tier"
ZONE_LABEL = "prodlab.zone"

ONE_SHOT_KINDS = frozenset({"secrets"})
LOAD_MASTER_KIND = "loadgen"  # Locust's master runs on the lab's host (lab.load.driver)
LOAD_WORKER_KIND = "loadgen-worker"
GLOBAL_KINDS = frozenset({"container-stats"})  # one per node
MANAGER_KINDS = frozenset({"lb", "prometheus", "loadgen", "grafana"})
DATA_KINDS = frozenset(
    {"postgres", "redis", "nats", "toxiproxy", "postgres-exporter", "redis-exporter"}
)
SPREAD_KINDS = frozenset({"api", "worker", "loadgen-worker"})
ROLLING_KINDS = SPREAD_KINDS  # no fixed port, no volume: a spare can start first
KEPT_KEYS = ("image", "command", "entrypoint", "user", "working_dir", "stop_grace_period")
HEALTH_KEYS = ("test", "interval", "timeout", "retries", "start_period")
HEALTH_INTERVAL_S = 5  # Swarm's probe period, at least (see the module's docstring)
DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@dataclass(frozen=True)
class StackOptions:
    replicas: Mapping[str, int]  # per scalable service
    secrets_dir: Path  # the files the Swarm secrets are created from
    secret_names: tuple[str, ...]
    data_node: bool = False  # a node is labelled prodlab.tier=data
    load_master: str = ""  # host:port of the Locust master the load workers join


def render(
    config: Mapping[str, Any], kinds: Mapping[str, str], options: StackOptions
) -> dict[str, Any]:
    """The stack file for ``config`` (``docker compose config`` as JSON); ``kinds`` maps a
    service to its ``x-lab`` kind (compose drops ``x-`` keys from its output)."""
    services: dict[str, Any] = {}
    for name, spec in (config.get("services") or {}).items():
        kind = kinds.get(name, "")
        if kind in ONE_SHOT_KINDS or kind == LOAD_MASTER_KIND:
            continue
        if kind == LOAD_WORKER_KIND:
            if not options.load_master:
                continue
            spec = load_worker(spec, options.load_master)
        services[name] = service(name, spec, kind, options)
    named = (config.get("volumes") or {}).keys()
    volumes: dict[str, Any] = {name: {} for name in named if name != SECRETS_VOLUME}
    used = any("secrets" in s for s in services.values())
    secrets = (
        {name: {"file": str(options.secrets_dir / name)} for name in options.secret_names}
        if used
        else {}
    )
    stack: dict[str, Any] = {
        "version": "3.8",
        "services": services,
        "networks": {"default": {"driver": "overlay", "attachable": True}},
    }
    if volumes:
        stack["volumes"] = volumes
    if secrets:
        stack["secrets"] = secrets
    return stack


def load_worker(spec: Mapping[str, Any], master: str) -> dict[str, Any]:
    """compose.yaml's Locust worker, joined to the master at ``master`` (``host:port``):
    healthy while the master's port answers."""
    host, _, port = master.rpartition(":")
    command = ["locust", "-f", "/loadtests/shop.py", "--worker"]
    command += ["--master-host", host, "--master-port", port]
    health = dict(spec.get("healthcheck") or {})
    health["test"] = ["CMD", "bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}"]
    return {**spec, "command": command, "healthcheck": health}


def seconds(duration: str) -> float:
    """A Go duration as ``docker compose config`` writes it (``1s``, ``1m30s``, ``500ms``)."""
    parts = DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(n) * DURATION_UNITS[u] for n, u in parts)


def swarm_health(health: dict[str, Any]) -> dict[str, Any]:
    """``health`` probing at most every ``HEALTH_INTERVAL_S`` and, to keep the time it
    allows before "unhealthy", with as many fewer retries (at least 3)."""
    if "interval" not in health or "disable" in health:
        return health
    interval = seconds(str(health["interval"]))
    if interval >= HEALTH_INTERVAL_S:
        return health
    out = {**health, "interval": f"{HEALTH_INTERVAL_S}s"}
    if "retries" in health:
        budget = interval * int(health["retries"])
        out["retries"] = max(3, math.ceil(budget / HEALTH_INTERVAL_S))
    return out


def service(name: str, spec: Mapping[str, Any], kind: str, options: StackOptions) -> dict[str, Any]:
    out: dict[str, Any] = {k: spec[k] for k in KEPT_KEYS if spec.get(k) is not None}
    env = {str(k): "" if v is None else str(v) for k, v in (spec.get("environment") or {}).items()}
    if "LAB_SERVICE" in env:
        env["LAB_REPLICA"] = f"{name}-{{{{.Task.Slot}}}}"
    if env:
        out["environment"] = env
    health = spec.get("healthcheck") or {}
    if health:
        out["healthcheck"] = swarm_health({k: health[k] for k in HEALTH_KEYS if k in health})
    volumes: list[dict[str, Any]] = []
    secret_mount = False
    for volume in spec.get("volumes") or []:
        if volume.get("type") == "volume" and volume.get("source") == SECRETS_VOLUME:
            secret_mount = True
            continue
        item = {k: volume[k] for k in ("type", "source", "target") if k in volume}
        if volume.get("read_only"):
            item["read_only"] = True
        volumes.append(item)
    if volumes:
        out["volumes"] = volumes
    if secret_mount:
        out["secrets"] = [
            {"source": s, "target": f"{SECRETS_MOUNT}/{s}", "mode": 0o444}
            for s in options.secret_names
        ]
    ports = [_port(p) for p in spec.get("ports") or []]
    if ports:
        out["ports"] = ports
    out["deploy"] = _deploy(name, spec, kind, options, fixed_port=bool(ports))
    return out


def _port(port: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "target": int(port["target"]),
        "protocol": port.get("protocol") or "tcp",
        "mode": "host",
    }
    if port.get("published"):
        out["published"] = int(port["published"])
    return out


def _deploy(
    name: str, spec: Mapping[str, Any], kind: str, options: StackOptions, *, fixed_port: bool
) -> dict[str, Any]:
    deploy: dict[str, Any] = {"endpoint_mode": "dnsrr"}
    if kind in GLOBAL_KINDS:
        deploy["mode"] = "global"
    else:
        default = (spec.get("deploy") or {}).get("replicas", 1)
        deploy["replicas"] = int(options.replicas.get(name, default))
    restart = spec.get("restart") or "no"
    deploy["restart_policy"] = (
        {"condition": "none"} if restart == "no" else {"condition": "on-failure", "delay": "1s"}
    )
    rolling = kind in ROLLING_KINDS and not fixed_port
    deploy["update_config"] = {
        "parallelism": 1,
        "order": "start-first" if rolling else "stop-first",
        "delay": "1s",
        "monitor": "2s",
        "failure_action": "pause",
    }
    constraints, preferences = [], []
    if kind in MANAGER_KINDS:
        constraints.append("node.role == manager")
    if options.data_node and kind in DATA_KINDS:
        constraints.append(f"node.labels.{DATA_LABEL} == data")
    if kind in SPREAD_KINDS:
        preferences.append({"spread": f"node.labels.{ZONE_LABEL}"})
    if constraints or preferences:
        deploy["placement"] = {
            **({"constraints": constraints} if constraints else {}),
            **({"preferences": preferences} if preferences else {}),
        }
    return deploy
