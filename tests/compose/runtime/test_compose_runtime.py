"""The compose runtime on a real Docker engine: what compliance does not cover.

The marker file and auto-selection, replica names, Prometheus' DNS discovery, the
per-container exporter, the containerised Locust (profile ``load``), and a ``down`` that
leaves nothing behind. Marked ``compose``: with no engine the fixture raises
``RuntimeUnavailable`` and every test here fails (never skips).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.autoscale.policy import HpaPolicy, Policy
from lab.lab import Lab
from lab.run.scaling import Autoscaling
from lab.runtime.compose.state import ComposeState
from tests.labtools import (
    LabHome,
    Traffic,
    compose_settings,
    make_home,
    project_leftovers,
    wait_until,
)

pytestmark = pytest.mark.compose


@pytest.fixture(scope="module")
def home() -> Iterator[LabHome]:
    home = make_home()
    yield home
    shutil.rmtree(home.home.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def lab(home: LabHome) -> Iterator[Lab]:
    lab = Lab(compose_settings(home))
    try:
        lab.up({"api": 1, "worker": 1})
        yield lab
    finally:
        if "prometheus" in vars(lab):
            lab.prometheus.close()
        lab.runtime.down(volumes=True)


def test_up_records_the_runtime_for_later_shells(lab: Lab, home: LabHome) -> None:
    marker = lab.settings.state_dir / "runtime"
    assert marker.read_text(encoding="utf-8").strip() == "compose"
    # a new shell with no --runtime (auto) and no engine check picks the running lab's runtime
    later = Lab(home.settings().with_overrides(runtime="auto"))
    assert later.runtime_name == "compose"


def test_replicas_are_named_like_native_instances(lab: Lab) -> None:
    with Traffic(lab.runtime.endpoint("lb").url) as traffic:
        assert wait_until(lambda: traffic.ok > 5, timeout=10)
    assert set(traffic.replicas) == {"api-1"}, traffic.replicas
    assert traffic.failures == []


def test_scale_out_reaches_lb_and_prometheus(lab: Lab) -> None:
    lab.scale("api", 3)
    try:
        with Traffic(lab.runtime.endpoint("lb").url) as traffic:
            assert wait_until(lambda: len(traffic.replicas) == 3, timeout=10), traffic.replicas
        assert set(traffic.replicas) == {"api-1", "api-2", "api-3"}
        assert traffic.failures == []
        prom = lab.prometheus

        def healthy_api_targets() -> int:
            return sum(1 for t in prom.targets("api") if t.health == "up")

        assert wait_until(lambda: healthy_api_targets() == 3, timeout=10)
    finally:
        lab.scale("api", 1)
    assert wait_until(lambda: len(lab.prometheus.targets("api")) == 1, timeout=10)


def test_kill_under_load_is_routed_around_after_the_check_interval(lab: Lab) -> None:
    lab.scale("api", 3)
    try:
        with Traffic(lab.runtime.endpoint("lb").url) as traffic:
            assert wait_until(lambda: len(traffic.replicas) == 3, timeout=10)
            lab.kill("api-3")
            time.sleep(2.5)  # the fault's blast radius: HAProxy's check (inter 1s, fall 2)
            failures_during_detection = list(traffic.failures)
            traffic.reset()
            traffic.failures.clear()
            assert wait_until(lambda: sum(traffic.replicas.values()) > 100, timeout=15)
            # a crash, not a stop: the restart policy (unless-stopped) brings it back, and
            # HAProxy takes it back after its check (rise 2)
            assert wait_until(lambda: traffic.replicas["api-3"] > 0, timeout=45), traffic.replicas
        assert traffic.failures == [], traffic.failures
        assert failures_during_detection == []  # GETs are retried on a survivor
    finally:
        lab.scale("api", 1)


def test_the_autoscaler_scales_containers_and_times_the_first_request(
    lab: Lab, tmp_path: Path
) -> None:
    """The same controller as natively: readings from Prometheus' DNS-discovered targets,
    `Lab.scale` on containers, HAProxy's per-server counters for the first request."""
    policy = Policy(api=HpaPolicy(metric="rps", target=2, max_replicas=2, sync_s=1, window_s=2))
    record = Autoscaling()
    controller = lab.autoscaler(policy, tmp_path / "autoscale", record)
    try:
        with Traffic(lab.runtime.endpoint("lb").url) as traffic:
            assert wait_until(lambda: bool(record.scale_ups), timeout=40), record
            assert wait_until(lambda: record.scale_ups[0].ready is not None, timeout=40)
            assert wait_until(lambda: len(traffic.replicas) == 2, timeout=15), traffic.replicas
    finally:
        controller.stop()
        lab.scale("api", 1)
    up = record.scale_ups[0]
    assert (up.before, up.after) == (1, 2) and up.error is None, up
    assert up.served is not None and up.breach_to_served is not None, up.line()
    assert traffic.failures == []
    decisions = (tmp_path / "autoscale" / "decisions.jsonl").read_text().splitlines()
    assert any("ceil(" in line for line in decisions)


def test_lab_exporter_reports_every_container(lab: Lab) -> None:
    prom = lab.prometheus
    expr = 'count(lab_process_resident_memory_bytes{service=~"api|worker|postgres|lb"} > 0)'
    assert wait_until(lambda: (prom.scalar(expr) or 0) >= 4, timeout=10)
    assert wait_until(lambda: (prom.scalar('lab:process_cpu:rate10s{service="api"}') or 0) > 0, 15)


def test_containerised_locust_drives_load_through_the_lb(lab: Lab) -> None:
    runtime = lab.runtime
    docker = runtime._docker(ComposeState(runtime.settings.compose_project, {}, ["load"]))  # type: ignore[attr-defined]
    docker.compose.up(
        ["locust-master", "locust-worker"], detach=True, wait=True, wait_timeout=120, quiet=True
    )
    try:
        url = f"http://127.0.0.1:{lab.settings.locust_port}"
        with httpx.Client(base_url=url, timeout=10) as client:

            def stats() -> dict[str, Any]:
                body: dict[str, Any] = client.get("/stats/requests").json()
                return body

            # workers register with the master a moment after their containers are healthy
            assert wait_until(lambda: len(stats()["workers"]) == 2, timeout=30)
            swarm = client.post("/swarm", data={"user_count": 4, "spawn_rate": 4})
            assert swarm.status_code == 200, swarm.text

            def total() -> int:
                rows = stats()["stats"]
                return int(next(r["num_requests"] for r in rows if r["name"] == "Aggregated"))

            assert wait_until(lambda: total() > 50, timeout=30)
            client.get("/stop")
        prom = lab.prometheus
        assert wait_until(lambda: any(t.health == "up" for t in prom.targets("locust")), 10)
    finally:
        docker.compose.down(services=["locust-master", "locust-worker"], quiet=True)


def test_down_leaves_no_container_network_or_volume(home: LabHome) -> None:
    settings = compose_settings(home)
    Lab(settings).runtime.down(volumes=True)
    assert project_leftovers(settings.compose_project) == {
        "containers": [],
        "networks": [],
        "volumes": [],
    }
    assert not (settings.state_dir / "runtime").exists()
