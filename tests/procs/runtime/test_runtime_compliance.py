"""One set of checks, run against every Runtime (native processes, Docker Compose, and a
Docker Swarm stack on a single-node swarm).

Both must behave the same for everything a user or a scenario does: up, requests
through the LB, scale, kill/stop/start one instance, status, logs, endpoints, scrape
targets registered by a program outside the lab (the load generator), down.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from lab import proc
from lab.errors import ConfigError
from lab.lab import Lab
from lab.runtime.admin import AppFault
from lab.runtime.base import InstanceState, Runtime
from lab.wait import free_port
from tests.labtools import (
    LabHome,
    Traffic,
    compose_settings,
    leave_swarm,
    make_home,
    stack_leftovers,
    swarm_state,
    wait_until,
)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("native", marks=pytest.mark.procs),
        pytest.param("compose", marks=pytest.mark.compose),
        pytest.param("swarm", marks=pytest.mark.compose),
    ],
)
def booted(request: pytest.FixtureRequest) -> Iterator[Lab]:
    home: LabHome = make_home()
    # compose: its own project and free ports, never the user's lab (prodlab, 8080/9090/3000)
    settings = home.settings(seed_products=200)
    if request.param != "native":
        settings = compose_settings(home).with_overrides(runtime=request.param)
    lab = Lab(settings)
    # swarm: on a swarm the lab finds, which `lab down` must leave as it was, with nothing
    # of the lab in it (test_swarm_lifecycle has the swarm the lab makes)
    found_swarm = request.param == "swarm"
    if found_swarm:
        assert swarm_state() == "inactive", "another swarm is active on this engine"
        proc.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"])
    try:
        lab.up({"api": 1, "worker": 1})
        yield lab
    finally:
        try:
            if "prometheus" in vars(lab):  # the cached client holds a connection pool
                lab.prometheus.close()
            lab.runtime.down(volumes=True)
            shutil.rmtree(home.home.parent, ignore_errors=True)
            if found_swarm:
                assert swarm_state() == "active", "lab down left a swarm it did not make"
                left = stack_leftovers(settings.compose_project)
                assert not any(left.values()), left
        finally:
            if found_swarm:
                leave_swarm()


def test_implements_the_protocol(booted: Lab) -> None:
    assert isinstance(booted.runtime, Runtime)
    assert booted.runtime.is_up()


def test_status_shows_every_service_running(booted: Lab) -> None:
    status = booted.runtime.status()
    for service in ("postgres", "redis", "nats", "api", "worker", "lb", "prometheus"):
        assert status.replicas(service) >= 1, f"{service}: {status.of(service)}"
    assert booted.runtime.replicas()["api"] == 1


def test_lb_and_prometheus_endpoints_answer(booted: Lab) -> None:
    lb = booted.runtime.endpoint("lb")
    assert lb.host == "127.0.0.1"
    assert httpx.get(f"{lb.url}/products/1", timeout=5).status_code == 200
    prom = booted.runtime.endpoint("prometheus")
    assert httpx.get(f"{prom.url}/-/ready", timeout=5).status_code == 200


def test_scale_to_three_replicas_all_answer_and_are_scraped(booted: Lab) -> None:
    booted.scale("api", 3)
    try:
        assert booted.runtime.status().replicas("api") == 3
        assert booted.runtime.replicas()["api"] == 3  # what a later command reads back
        with Traffic(booted.runtime.endpoint("lb").url) as traffic:
            assert wait_until(lambda: len(traffic.replicas) == 3, timeout=10), traffic.replicas
        assert traffic.failures == []
        prom = booted.prometheus
        assert wait_until(lambda: (prom.scalar('count(up{job="api"} == 1)') or 0) == 3, 10)
    finally:
        booted.scale("api", 1)
    prom = booted.prometheus
    assert wait_until(lambda: (prom.scalar('count(up{job="api"})') or 0) == 1, timeout=10)


def test_killed_api_instance_is_routed_around_then_comes_back(booted: Lab) -> None:
    """compose.yaml's `restart: unless-stopped`: Docker natively, the supervisor natively."""
    booted.scale("api", 2)
    try:
        victim = booted.runtime.status().of("api")[-1].name
        with Traffic(booted.runtime.endpoint("lb").url) as traffic:
            assert wait_until(lambda: traffic.ok > 20, timeout=10)
            booted.kill(victim)
            traffic.reset()
            # back by its restart policy, and HAProxy sends it requests again
            assert wait_until(lambda: traffic.replicas[victim] > 0, timeout=60), traffic.replicas
        # the survivor took the requests meanwhile (HAProxy retried the GETs)
        assert traffic.failures == []
        assert wait_until(lambda: booted.runtime.status().replicas("api") == 2, timeout=30)
    finally:
        booted.scale("api", 1)


def test_set_rolls_the_api_to_new_knobs_and_no_request_fails(booted: Lab) -> None:
    booted.scale("api", 2)
    prom, ttl = booted.prometheus, booted.settings.cache_ttl_s
    try:
        with Traffic(booted.runtime.endpoint("lb").url) as traffic:
            assert wait_until(lambda: traffic.ok > 20, timeout=10)
            before = booted.set({"cache_ttl_s": 7, "db_pool_size": 3})
            traffic.reset()
            assert wait_until(lambda: traffic.ok > 50, timeout=10)
        assert before == {"cache_ttl_s": ttl, "db_pool_size": 0}
        assert traffic.failures == []  # drained one replica at a time, a spare serving
        status = booted.runtime.status()
        assert status.replicas("api") == 2 and booted.runtime.replicas()["api"] == 2
        running = {i.name for i in status.of("api") if i.state is InstanceState.RUNNING}
        assert len(running) == 2 and set(traffic.replicas) <= running, traffic.replicas
        # every replica runs with the new knobs, by its own gauges
        new_knobs = "min(shop_cache_ttl_seconds) == 7 and max(shop_cache_ttl_seconds) == 7"
        assert wait_until(lambda: prom.scalar(f"count({new_knobs})") == 1, timeout=15)
        assert wait_until(lambda: prom.scalar("max(shop_db_pool_max_size)") == 3, timeout=15)
        assert booted.set({"cache_ttl_s": 7}) == {}  # already so: nothing restarts
    finally:
        booted.set({"cache_ttl_s": ttl, "db_pool_size": 0})
        booted.scale("api", 1)
    pool = "max(shop_db_pool_max_size)"
    assert wait_until(lambda: prom.scalar(pool) != 3, timeout=15), prom.scalar(pool)


def test_stop_and_start_a_worker(booted: Lab) -> None:
    name = booted.runtime.status().of("worker")[0].name
    booted.stop(name)
    assert booted.runtime.status().replicas("worker") == 0
    time.sleep(2.0)  # a stop is not a crash: no restart policy brings it back
    assert booted.runtime.status().of("worker")[0].state is InstanceState.STOPPED
    booted.start(name)
    assert booted.runtime.status().replicas("worker") == 1


def test_logs_name_their_instance(booted: Lab) -> None:
    lines = list(booted.runtime.logs("api", tail=20))
    assert lines
    assert all(" | " in line for line in lines)


def test_registered_scrape_target_is_scraped_then_dropped(booted: Lab) -> None:
    """What the load driver does with Locust's exporter, with a small real exporter."""
    runtime, prom = booted.runtime, booted.prometheus
    host = runtime.scrape_host()
    registry = CollectorRegistry()
    Gauge("locust_users", "users running now", registry=registry).set(7)
    port = free_port(host)
    server, thread = start_http_server(port, addr=host, registry=registry)
    try:
        runtime.add_scrape_target("locust", f"{host}:{port}", {"service": "locust"})
        assert wait_until(lambda: prom.scalar('sum(up{job="locust"})') == 1, timeout=15)
        assert wait_until(lambda: prom.scalar("lab:locust_users") == 7, timeout=10)
        runtime.remove_scrape_target("locust")
        assert wait_until(lambda: prom.scalar('count(up{job="locust"})') is None, timeout=15)
        with pytest.raises(ConfigError, match="no job 'api' for registered targets"):
            runtime.add_scrape_target("api", f"{host}:{port}", {})
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_pause_freezes_an_instance_and_resume_thaws_it(booted: Lab) -> None:
    """SIGSTOP natively, `docker pause` under Compose: the process is there, answering nothing."""
    url = booted.runtime.endpoint("lb").url + "/products/3"
    name = booted.runtime.status().of("api")[0].name
    assert httpx.get(url, timeout=5).status_code == 200
    booted.pause(name)
    try:
        with pytest.raises(httpx.TimeoutException):
            httpx.get(url, timeout=1.5)  # the only replica: nobody else can answer
    finally:
        booted.resume(name)
    assert wait_until(lambda: booted.answers("lb", "/products/3"), timeout=20)


def test_an_application_fault_fails_its_route_until_cleared(booted: Lab) -> None:
    """The admin endpoint reached the runtime's way (loopback natively, docker exec)."""
    url = booted.runtime.endpoint("lb").url
    fault = AppFault(kind="errors", route="/products/{id}", percent=100, status=503, for_s=60)
    targets = booted.app_fault(fault)
    try:
        assert targets == [i.name for i in booted.runtime.status().of("api")]
        answer = httpx.get(url + "/products/4", timeout=5)
        assert answer.status_code == 503
        assert "injected fault" in answer.json()["reason"]
        assert httpx.get(url + "/products?limit=1", timeout=5).status_code == 200
        assert all(len(found) == 1 for found in booted.app_faults().values())
    finally:
        removed = booted.clear_app_faults()
    assert removed == len(targets)
    assert httpx.get(url + "/products/4", timeout=5).status_code == 200
