"""Which launcher runs each ``x-lab.kind`` of compose.yaml natively, and which kinds have
no native process."""

from __future__ import annotations

from lab.runtime.native.datastores import Nats, Postgres, Redis
from lab.runtime.native.launcher import Launcher
from lab.runtime.native.netproxy import NetProxy
from lab.runtime.native.services import (
    Api,
    LoadBalancer,
    PostgresExporter,
    ProcessExporter,
    Prometheus,
    RedisExporter,
    Supervisor,
    Worker,
)

LAUNCHERS: dict[str, type[Launcher]] = {
    cls.kind: cls
    for cls in (
        Postgres,
        Redis,
        Nats,
        Api,
        Worker,
        LoadBalancer,
        PostgresExporter,
        RedisExporter,
        ProcessExporter,
        Prometheus,
        Supervisor,
        NetProxy,
    )
}
# Kinds compose runs that have no native process: secrets are files natively; Grafana
# cannot be installed here; Locust is started by the load driver per scenario run.
NOT_NATIVE = {
    "secrets": "files under .lab/secrets",
    "grafana": "compose only",
    "loadgen": "started by `lab scenario` (lab.load)",
    "loadgen-worker": "started by `lab scenario` (lab.load)",
}
