"""compose.yaml's `restart:` policies and Docker's restart backoff (moby restartmanager)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.runtime.native.restart import RestartManager
from lab.topology import RestartPolicy, load_service_graph

PROJECT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("raw", "name", "limit"),
    [
        (None, "no", 0),
        (False, "no", 0),  # YAML's unquoted `no`
        ("no", "no", 0),
        ("always", "always", 0),
        ("unless-stopped", "unless-stopped", 0),
        ("on-failure", "on-failure", 0),
        ("on-failure:3", "on-failure", 3),
    ],
)
def test_policies_parse_like_compose(raw: object, name: str, limit: int) -> None:
    policy = RestartPolicy.parse(raw)
    assert (policy.name, policy.max_retries) == (name, limit)


@pytest.mark.parametrize("raw", ["sometimes", "always:2", "on-failure:x", "on-failure:-1"])
def test_a_bad_policy_names_the_field(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"api\.restart"):
        RestartPolicy.parse(raw, where="compose.yaml: api.restart")


def test_compose_yaml_heals_every_long_running_service() -> None:
    graph = load_service_graph(PROJECT / "compose.yaml", env={})
    for name in ("postgres", "redis", "nats", "api", "worker", "lb", "prometheus"):
        assert str(graph.get(name).restart) == "unless-stopped", name
    assert graph.get("secrets").restart.name == "no"  # a one-shot job


def test_backoff_doubles_from_100_ms_up_to_a_minute() -> None:
    manager = RestartManager(RestartPolicy("always"))
    delays = [manager.should_restart(137, ran_s=0.5) for _ in range(12)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0
    assert manager.restart_count == 12


def test_ten_seconds_up_resets_the_backoff() -> None:
    manager = RestartManager(RestartPolicy("unless-stopped"))
    for _ in range(5):
        manager.should_restart(1, ran_s=1.0)
    assert manager.should_restart(1, ran_s=10.0) == 0.1
    assert manager.should_restart(1, ran_s=2.0) == 0.2


def test_no_never_restarts() -> None:
    assert RestartManager(RestartPolicy("no")).should_restart(137, ran_s=0.0) is None


def test_on_failure_restarts_failures_only_up_to_its_limit() -> None:
    manager = RestartManager(RestartPolicy("on-failure", 2))
    assert manager.should_restart(0, ran_s=1.0) is None  # a clean exit is not a failure
    assert manager.should_restart(137, ran_s=1.0) is not None
    assert manager.should_restart(None, ran_s=1.0) is not None  # unknown code: a crash
    assert manager.should_restart(137, ran_s=1.0) is None  # two restarts used up
