"""Application faults through the replicas' admin endpoint, against real processes.

The session's native lab (HAProxy, 2 replicas, Postgres, Redis, NATS) serves the tests
of the endpoint's protection and of the faults through the Lab facade; each test clears
what it injected (``faults_cleared``), so the lab is left as it was.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from lab.lab import Lab
from lab.runtime.admin import AppFault
from lab.runtime.native.runtime import NativeRuntime
from tests.labtools import LabHome, wait_until
from tests.shoptools import lab_context, replica_urls, sample

pytestmark = pytest.mark.procs


def admin_url(lab: Lab, instance: str) -> str:
    rec = lab_context(lab).state.instances[instance]
    assert rec.admin_port is not None
    return f"http://127.0.0.1:{rec.admin_port}"


def token(lab: Lab) -> str:
    return lab_context(lab).secret("api_admin_token")


@contextmanager
def faults_cleared(lab: Lab) -> Iterator[None]:
    try:
        yield
    finally:
        lab.clear_app_faults()


def statuses(url: str, path: str, count: int) -> list[int]:
    with httpx.Client(timeout=10) as client:
        return [client.get(url + path).status_code for _ in range(count)]


# --- the endpoint's protection -------------------------------------------------------


def test_the_admin_endpoint_wants_the_token(running_lab: Lab) -> None:
    url = admin_url(running_lab, "api-1") + "/admin/faults"
    missing = httpx.get(url, timeout=5)
    assert missing.status_code == 401
    assert "admin token" in missing.json()["reason"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = httpx.get(url, headers={"Authorization": "Bearer " + "x" * 32}, timeout=5)
    assert wrong.status_code == 401
    right = httpx.get(url, headers={"Authorization": f"Bearer {token(running_lab)}"}, timeout=5)
    assert right.status_code == 200 and right.json() == {"replica": "api-1", "faults": []}
    bad = httpx.post(
        url,
        json={"kind": "errors", "route": "/nowhere/{x}", "percent": 5},
        headers={"Authorization": f"Bearer {token(running_lab)}"},
        timeout=5,
    )
    assert bad.status_code == 422 and "body.route: no route /nowhere/{x}" in bad.json()["reason"]


def test_the_admin_endpoint_listens_on_loopback_only_and_not_through_the_lb(
    running_lab: Lab, client: httpx.Client
) -> None:
    runtime = running_lab.runtime
    assert isinstance(runtime, NativeRuntime)
    rec = lab_context(running_lab).state.instances["api-1"]
    process = rec.process()
    assert process is not None
    listening = {
        c.laddr.port: c.laddr.ip
        for c in psutil.net_connections("inet")
        if c.pid == process.pid and c.status == psutil.CONN_LISTEN
    }
    assert listening[rec.admin_port] == "127.0.0.1"
    through_lb = client.get(
        "/admin/faults", headers={"Authorization": f"Bearer {token(running_lab)}"}
    )
    assert through_lb.status_code == 403, "HAProxy refuses /admin"
    public = httpx.get(replica_urls(running_lab, "api")[0] + "/admin/faults", timeout=5)
    assert public.status_code == 404, "the public port has no admin routes"


# --- the faults ------------------------------------------------------------------------


def test_an_errors_fault_fails_its_share_of_one_route_then_is_cleared(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "api")[0]
    fault = AppFault(kind="errors", route="/products/{id}", percent=50, status=503, for_s=60)
    with faults_cleared(running_lab):
        assert running_lab.app_fault(fault, ["api-1"]) == ["api-1"]
        got = statuses(url, "/products/5", 200)
        failed = got.count(503)
        assert 50 <= failed <= 150, f"{failed} of 200 failed, expected about half"
        assert set(got) == {200, 503}
        answer = httpx.get(url + "/products/5", timeout=5)
        while answer.status_code != 503:
            answer = httpx.get(url + "/products/5", timeout=5)
        assert "injected fault: 50% of /products/{product_id}" in answer.json()["reason"]
        assert set(statuses(url, "/products?limit=1", 30)) == {200}, "other routes are spared"
        assert sample(url, "shop_faults_active", kind="errors") == 1
        assert (
            sample(url, "shop_http_requests_total", route="/products/{product_id}", status="503")
            >= failed
        )
    assert set(statuses(url, "/products/5", 50)) == {200}
    assert sample(url, "shop_faults_active", kind="errors") == 0


def test_a_fault_expires_by_itself(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "api")[0]
    fault = AppFault(kind="errors", route="/products/{id}", percent=100, for_s=1.5)
    with faults_cleared(running_lab):
        running_lab.app_fault(fault, ["api-1"])
        assert set(statuses(url, "/products/6", 5)) == {500}
        assert wait_until(lambda: statuses(url, "/products/6", 1) == [200], timeout=5)
        assert running_lab.app_faults(["api-1"]) == {"api-1": []}


def test_a_latency_fault_adds_at_least_its_delay(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "api")[0]

    def median_s(count: int = 15) -> float:
        took = []
        with httpx.Client(timeout=10) as client:
            for _ in range(count):
                start = time.perf_counter()
                assert (
                    client.get(url + "/orders/00000000-0000-0000-0000-000000000000").status_code
                    == 404
                )
                took.append(time.perf_counter() - start)
        return statistics.median(took)

    before = median_s()
    fault = AppFault(
        kind="latency", route="/orders/{order_id}", fixed_ms=200, jitter_ms=50, for_s=60
    )
    with faults_cleared(running_lab):
        running_lab.app_fault(fault, ["api-1"])
        during = median_s()
    assert during >= before + 0.2, f"median {before:.3f} s → {during:.3f} s"
    assert median_s() < during - 0.15, "the delay is gone once cleared"


def test_a_cpu_hog_burns_its_share_of_a_core_in_the_replica(running_lab: Lab) -> None:
    process = lab_context(running_lab).state.instances["api-2"].process()
    assert process is not None

    def cpu_per_s(seconds: float = 2.0) -> float:
        before, start = process.cpu_times(), time.monotonic()
        time.sleep(seconds)  # measuring a rate over a window, not waiting for a state
        after = process.cpu_times()
        used = (after.user + after.system) - (before.user + before.system)
        return used / (time.monotonic() - start)

    idle = cpu_per_s()
    with faults_cleared(running_lab):
        running_lab.app_fault(AppFault(kind="cpu-hog", percent=60, for_s=30), ["api-2"])
        hogged = cpu_per_s()
    assert hogged >= idle + 0.25, f"{idle:.2f} → {hogged:.2f} cores"
    after = cpu_per_s()
    assert after < hogged - 0.2, f"the hog stops when cleared ({after:.2f} cores)"


def test_an_unready_replica_leaves_the_lb_pool_and_returns(
    running_lab: Lab, client: httpx.Client
) -> None:
    def answered_by() -> set[str]:
        return {client.get("/products/7").headers["x-replica"] for _ in range(20)}

    assert wait_until(lambda: answered_by() == {"api-1", "api-2"}, timeout=10)
    with faults_cleared(running_lab):
        running_lab.app_fault(AppFault(kind="unready", for_s=60), ["api-2"])
        url = replica_urls(running_lab, "api")[1]
        health = httpx.get(url + "/healthz", timeout=5)
        assert health.status_code == 503 and "unready" in health.json()["reason"]
        assert httpx.get(url + "/readyz", timeout=5).status_code == 503
        assert wait_until(lambda: answered_by() == {"api-1"}, timeout=10)
    assert wait_until(lambda: answered_by() == {"api-1", "api-2"}, timeout=10)


def test_fault_changes_are_journalled(running_lab: Lab) -> None:
    with faults_cleared(running_lab):
        running_lab.app_fault(AppFault(kind="cpu-hog", percent=5, for_s=5), ["api-1"])
    events = running_lab.events.path.read_text().splitlines()
    assert any('"fault"' in line and "cpu hog 5% of a core" in line for line in events)
    assert any('"fault-cleared"' in line and "api-1" in line for line in events)


def test_lab_fault_app_from_the_command_line(running_lab: Lab, shared_home: LabHome) -> None:
    def lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "lab"), "fault", "app", *args],
            env=shared_home.env(LAB_SEED_PRODUCTS="1000", COLUMNS="400"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    url = replica_urls(running_lab, "api")[0]
    try:
        done = lab_cli(
            "errors",
            "--route",
            "/products/{id}",
            "--percent",
            "100",
            "--replica",
            "api-1",
            "--for",
            "30s",
        )
        assert done.returncode == 0, done.stderr
        assert "100% errors (500) on /products/{id} for 30 s: on api-1" in done.stdout
        assert statuses(url, "/products/8", 3) == [500, 500, 500]
        listed = lab_cli("list", "--json", "--replica", "api-1")
        assert listed.returncode == 0 and '"kind": "errors"' in listed.stdout
        bad = lab_cli("errors", "--route", "/basket", "--percent", "5", "--replica", "api-1")
        assert bad.returncode == 1
        assert "api-1: POST /admin/faults answered 422: body.route: no route /basket" in bad.stderr
        assert lab_cli("clear").stdout.strip() == "cleared 1 application fault(s)"
        assert statuses(url, "/products/8", 3) == [200, 200, 200]
    finally:
        running_lab.clear_app_faults()
