"""The stack renderer on compose.yaml's real resolved model (``docker compose config`` is
replaced by the same model built from a recorded excerpt): what Swarm needs is there, and
what it cannot do (one-shot services, host_ip, depends_on, build) is gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.passwords import NAMES
from lab.runtime.swarm.stack import SECRETS_MOUNT, StackOptions, render, seconds, swarm_health

SECRETS = {"type": "volume", "source": "secrets", "target": SECRETS_MOUNT, "read_only": True}
CONFIG: dict[str, Any] = {
    "services": {
        "secrets": {"image": "app", "restart": "no", "volumes": [{**SECRETS, "read_only": False}]},
        "postgres": {
            "image": "postgres",
            "restart": "unless-stopped",
            "volumes": [SECRETS, {"type": "volume", "source": "pgdata", "target": "/data"}],
            "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 5432}],
            "depends_on": {"secrets": {"condition": "service_completed_successfully"}},
        },
        "api": {
            "image": "app",
            "build": {"context": "."},
            "restart": "unless-stopped",
            "environment": {"LAB_SERVICE": "api", "LAB_API_WORK_MS": "40"},
            "healthcheck": {"test": ["CMD", "true"], "interval": "1s", "retries": 30},
            "deploy": {"replicas": 2},
            "volumes": [SECRETS],
        },
        "lb": {
            "image": "haproxy",
            "restart": "unless-stopped",
            "ports": [
                {"mode": "ingress", "host_ip": "127.0.0.1", "target": 8080, "published": "8080"}
            ],
        },
        "lab-exporter": {"image": "app", "restart": "unless-stopped"},
        "locust-worker": {"image": "loadgen", "deploy": {"replicas": 2}},
    },
    "volumes": {"secrets": {}, "pgdata": {}},
}
KINDS = {
    "secrets": "secrets",
    "postgres": "postgres",
    "api": "api",
    "lb": "lb",
    "lab-exporter": "container-stats",
    "locust-worker": "loadgen-worker",
}


def stack(data_node: bool = False) -> dict[str, Any]:
    options = StackOptions({"api": 3}, Path("/lab/swarm-secrets"), NAMES, data_node=data_node)
    return render(CONFIG, KINDS, options)


def test_the_one_shot_secrets_service_becomes_swarm_secrets_at_the_same_paths() -> None:
    s = stack()
    assert "secrets" not in s["services"]
    assert set(s["secrets"]) == set(NAMES)
    assert s["secrets"]["pg_password"] == {"file": "/lab/swarm-secrets/pg_password"}
    mounted = {m["target"] for m in s["services"]["postgres"]["secrets"]}
    assert f"{SECRETS_MOUNT}/pg_password" in mounted
    assert s["volumes"] == {"pgdata": {}}  # no secrets volume
    assert s["services"]["postgres"]["volumes"] == [
        {"type": "volume", "source": "pgdata", "target": "/data"}
    ]


def test_ports_are_host_mode_and_swarm_ignores_nothing_it_cannot_do() -> None:
    s = stack()
    assert s["services"]["lb"]["ports"] == [
        {"target": 8080, "protocol": "tcp", "mode": "host", "published": 8080}
    ]
    assert s["services"]["postgres"]["ports"] == [
        {"target": 5432, "protocol": "tcp", "mode": "host"}
    ]
    for spec in s["services"].values():
        assert not {"build", "depends_on", "restart", "profiles"} & set(spec)


def test_replicas_names_restarts_and_rolls() -> None:
    api = stack()["services"]["api"]
    assert api["deploy"]["replicas"] == 3  # the lab's desired count, not compose.yaml's 2
    assert api["deploy"]["endpoint_mode"] == "dnsrr"
    assert api["environment"]["LAB_REPLICA"] == "api-{{.Task.Slot}}"
    assert api["deploy"]["restart_policy"]["condition"] == "on-failure"  # a stop stays stopped
    assert api["deploy"]["update_config"]["order"] == "start-first"
    # probed every 5 s, not every second, giving up after as long (30 s)
    assert api["healthcheck"] == {"test": ["CMD", "true"], "interval": "5s", "retries": 6}
    lb = stack()["services"]["lb"]["deploy"]
    assert lb["update_config"]["order"] == "stop-first"  # a fixed host port cannot be shared
    assert lb["placement"]["constraints"] == ["node.role == manager"]
    assert stack()["services"]["lab-exporter"]["deploy"]["mode"] == "global"


def test_a_data_node_takes_the_data_tier_and_the_replicas_spread_by_zone() -> None:
    plain, labelled = stack(), stack(data_node=True)
    assert "constraints" not in plain["services"]["postgres"]["deploy"].get("placement", {})
    assert labelled["services"]["postgres"]["deploy"]["placement"]["constraints"] == [
        "node.labels.prodlab.tier == data"
    ]
    api = labelled["services"]["api"]["deploy"]["placement"]
    assert "constraints" not in api  # one labelled node may be the only node
    assert api["preferences"] == [{"spread": "node.labels.prodlab.zone"}]


def test_load_workers_join_the_master_on_the_labs_host_only_when_asked() -> None:
    assert "locust-worker" not in stack()["services"]  # no master: no workers
    options = StackOptions({"locust-worker": 3}, Path("/s"), NAMES, load_master="172.18.0.1:40123")
    worker = render(CONFIG, KINDS, options)["services"]["locust-worker"]
    assert worker["command"][-4:] == ["--master-host", "172.18.0.1", "--master-port", "40123"]
    assert worker["healthcheck"]["test"][-1] == "exec 3<>/dev/tcp/172.18.0.1/40123"
    assert worker["deploy"]["replicas"] == 3
    assert worker["deploy"]["restart_policy"] == {"condition": "none"}  # as in compose.yaml
    assert worker["deploy"]["placement"]["preferences"] == [{"spread": "node.labels.prodlab.zone"}]


@pytest.mark.parametrize(
    ("health", "want"),
    [
        ({"interval": "1s", "retries": 30}, {"interval": "5s", "retries": 6}),
        ({"interval": "2s", "retries": 4}, {"interval": "5s", "retries": 3}),  # at least 3
        ({"interval": "500ms", "retries": 10}, {"interval": "5s", "retries": 3}),
        ({"interval": "1m30s", "retries": 2}, {"interval": "1m30s", "retries": 2}),  # kept
        ({"interval": "1s"}, {"interval": "5s"}),
        ({"test": ["NONE"]}, {"test": ["NONE"]}),
    ],
)
def test_swarm_probes_health_at_most_every_five_seconds(
    health: dict[str, object], want: dict[str, object]
) -> None:
    assert swarm_health(health) == want


@pytest.mark.parametrize("bad", ["", "1", "s", "1x", "1s2"])
def test_a_duration_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        seconds(bad)
