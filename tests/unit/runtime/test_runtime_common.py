"""The rules both runtimes share (lab.runtime.common, lab.runtime.home), checked on both.

Nothing starts here: building a runtime reads compose.yaml and the settings only.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lab.defaults import MAX_REPLICAS
from lab.errors import ConfigError, LabStateError
from lab.lab import Lab
from lab.runtime import docker_common, open_runtime
from lab.runtime.common import RuntimeBase, endpoint_key, knob_env
from lab.runtime.home import recorded_runtime, targets_dir, write_marker
from lab.settings import Settings

RUNTIMES = ("native", "compose")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / ".lab", api_replicas=3, worker_replicas=1)


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, settings: Settings) -> RuntimeBase:
    built = open_runtime(request.param, settings)
    assert isinstance(built, RuntimeBase)
    return built


def test_replica_defaults_come_from_the_settings_then_the_request(runtime: RuntimeBase) -> None:
    assert runtime._replicas(None) == {"api": 3, "worker": 1}
    assert runtime._replicas({"worker": 4}) == {"api": 3, "worker": 4}


@pytest.mark.parametrize(
    ("service", "replicas", "message"),
    [
        ("postgres", 2, "postgres does not scale"),
        ("api", -1, "between 0 and 32, not -1"),
        ("api", MAX_REPLICAS + 1, f"between 0 and 32, not {MAX_REPLICAS + 1}"),
        ("nope", 1, "no service 'nope'"),
    ],
)
def test_scale_rules_are_the_same_for_both(
    runtime: RuntimeBase, service: str, replicas: int, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        runtime._check_scale(service, replicas)
    with pytest.raises(ConfigError, match=message):
        runtime._replicas({service: replicas})


def test_bounds_of_scaling_are_allowed(runtime: RuntimeBase) -> None:
    runtime._check_scale("api", 0)
    runtime._check_scale("worker", MAX_REPLICAS)


def test_api_is_reached_through_the_load_balancer() -> None:
    assert endpoint_key("api") == "lb"
    assert endpoint_key("prometheus") == "prometheus"


def test_one_knob_env_feeds_both_runtimes(settings: Settings) -> None:
    knobs = knob_env(settings)
    assert knobs["LAB_API_REPLICAS"] == "3"
    assert knobs["LAB_SLO_SECONDS"] == f"{settings.slo_seconds:g}"
    env = docker_common.compose_env(settings)
    assert {k: env[k] for k in knobs} == knobs  # compose passes every knob through
    assert env["LAB_SCRAPE_TARGETS_DIR"] == str(targets_dir(settings.state_dir))
    native = open_runtime("native", settings)
    assert isinstance(native, RuntimeBase)
    api = native.graph.get("api")
    assert api.environment["LAB_SLO_SECONDS"] == knobs["LAB_SLO_SECONDS"]


def test_registered_target_is_a_world_readable_file_sd_file(runtime: RuntimeBase) -> None:
    folder = targets_dir(runtime.settings.state_dir)
    runtime.add_scrape_target("locust", "172.18.0.1:4242", {"service": "locust"})
    path = folder / "locust.json"
    groups = json.loads(path.read_text(encoding="utf-8"))
    assert groups == [{"targets": ["172.18.0.1:4242"], "labels": {"service": "locust"}}]
    # the compose Prometheus reads it through a bind mount as `nobody`
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    runtime.remove_scrape_target("locust")
    assert json.loads(path.read_text(encoding="utf-8")) == []
    runtime.remove_scrape_target("locust")  # none registered: still fine


def test_only_registered_jobs_take_targets(runtime: RuntimeBase) -> None:
    with pytest.raises(ConfigError, match="no job 'api' for registered targets"):
        runtime.add_scrape_target("api", "127.0.0.1:1", {})
    assert not (targets_dir(runtime.settings.state_dir) / "api.json").exists()


def test_the_marker_picks_the_runtime_of_a_recorded_lab(settings: Settings) -> None:
    assert recorded_runtime(settings.state_dir) is None
    write_marker(settings.state_dir, "compose")
    assert recorded_runtime(settings.state_dir) == "compose"
    assert Lab(settings.with_overrides(runtime="auto")).runtime_name == "compose"
    write_marker(settings.state_dir, "something-else")
    assert recorded_runtime(settings.state_dir) is None


def test_an_unknown_runtime_is_a_config_error(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="unknown runtime 'podman'"):
        open_runtime("podman", settings)


def test_a_lab_that_is_not_up_says_so(settings: Settings) -> None:
    native = open_runtime("native", settings)
    with pytest.raises(LabStateError, match="not up"):
        native.endpoint("api")
