"""`pause` / `resume` on the native runtime: a frozen API replica holds its requests (it
answers nothing, it is not dead), and answers them when it thaws."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from lab.lab import Lab
from tests.labtools import LabHome

pytestmark = pytest.mark.procs


@pytest.fixture
def one_replica(lab_home: LabHome) -> Iterator[Lab]:
    lab = Lab(lab_home.settings(api_replicas=1, worker_replicas=1))
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def api_process(lab: Lab) -> psutil.Process:
    instance = next(i for i in lab.runtime.status().instances if i.name == "api-1")
    assert instance.pid is not None
    return psutil.Process(instance.pid)


def test_a_paused_replica_holds_its_request_until_resumed(one_replica: Lab) -> None:
    lab = one_replica
    base = f"http://{lab.settings.bind_host}:{lab.settings.lb_port}"
    assert httpx.get(f"{base}/products/1", timeout=5).status_code == 200
    lab.pause("api-1")
    try:
        assert api_process(lab).status() == psutil.STATUS_STOPPED
        took: list[float] = []

        def ask() -> None:
            started = time.monotonic()
            httpx.get(f"{base}/products/2", timeout=30)
            took.append(time.monotonic() - started)

        asking = threading.Thread(target=ask)
        asking.start()
        time.sleep(2.0)
        assert not took, "a frozen replica must not answer"
    finally:
        lab.resume("api-1")
    asking.join(timeout=30)
    assert took and took[0] >= 2.0  # answered once thawed, after the whole freeze
    assert api_process(lab).status() != psutil.STATUS_STOPPED
