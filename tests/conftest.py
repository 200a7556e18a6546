"""Shared fixtures: a lab home in a temp dir with free ports, and a running native lab.

Tests that need real binaries are marked ``procs`` and are never skipped: a missing
binary makes the lab's launcher raise, and the test fails with the install hint.

The shared lab is down before the lessons run: the modules that use it run together,
and the lab is brought down after the last test that uses it, not at the end of the
session. A lab left idling beside a lesson takes a fifth of a core (its Prometheus,
exporters and replicas), which the lesson's capacity checks would pay for.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.lab import Lab
from tests.labtools import LabHome, discard_home, make_home, private_home


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background (`make test &` from a script) inherits SIGINT
    ignored, and so would every `lab` it spawns, which the Ctrl-C tests then cannot
    interrupt. A handler here is reset to the default in each child at exec."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


TESTS = Path(__file__).parent
# What measures speed (the lessons' predictions, rates, latencies, shares of arrivals):
# `make test` runs these alone, after the rest ran two at a time (pytest -n 2).
SERIAL = (
    "procs/scenario/",
    "compose/scenario/",
    "procs/loadtests/test_open_loop.py",
    "procs/load/test_load_traffic.py",
    "procs/shop_api/test_overload_defences.py",
    "procs/faults/test_net_faults.py",
)
# ... but for what only checks behaviour there: Ctrl-C in a scenario restores the lab
NOT_SERIAL = ("test_sigint_mid_run_restores_replicas_and_stops_locust",)
# One Docker engine: what drives it (Compose projects, the swarm it makes and leaves) runs
# on one xdist worker, in order; every other module is a unit of its own (its fixtures).
DOCKER = ("compose/", "procs/runtime/test_runtime_compliance.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`pytest -n 2`: whole modules to a worker (their module-scoped labs), and everything
    that drives the Docker engine to one worker, in order. xdist's own ``loadgroup`` marks
    do nothing under pytest 9.2 (it renames ``item._nodeid``, which pytest no longer reads)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "docker" if path.removeprefix("tests/").startswith(DOCKER) else path

    return ByModule(config, log)


@pytest.fixture
def lab_home() -> Iterator[LabHome]:
    with private_home() as home:
        yield home


SHARED = ("shared_home", "running_lab")
_last_user: list[pytest.Item] = []  # the last selected test that uses the shared lab
_shared: list[LabHome] = []  # its home, while it exists


def uses_shared_lab(item: pytest.Item) -> bool:
    return any(name in getattr(item, "fixturenames", ()) for name in SHARED)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``serial`` by path (before -m selects), then whole modules that use the shared lab
    first (in their own order), then the rest: module-scoped fixtures still see their
    module's tests together."""
    for item in items:
        where = Path(str(item.path)).resolve().relative_to(TESTS).as_posix()
        if where.startswith(SERIAL) and item.name not in NOT_SERIAL:
            item.add_marker(pytest.mark.serial)
    sharing = {getattr(item, "module", None) for item in items if uses_shared_lab(item)}
    items.sort(key=lambda item: getattr(item, "module", None) not in sharing)


def pytest_collection_finish(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # modules come in the scheduler's order, not
        return  # this one: the shared lab stays up until the worker's session ends
    users = [item for item in session.items if uses_shared_lab(item)]
    _last_user[:] = users[-1:]


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _last_user and item is _last_user[0]:
        shared_lab_down()


def shared_lab_down() -> None:
    """Bring the shared lab down and remove its home (once; later calls do nothing)."""
    while _shared:
        discard_home(_shared.pop())


@pytest.fixture(scope="session")
def shared_home() -> Iterator[LabHome]:
    home = make_home()
    _shared.append(home)
    try:
        yield home
    finally:
        shared_lab_down()


@pytest.fixture(scope="session")
def running_lab(shared_home: LabHome) -> Iterator[Lab]:
    """One native lab for the session (2 API replicas, 2 workers, a small catalog);
    down after the last test that uses it."""
    lab = Lab(shared_home.settings(seed_products=1000, worker_ack_wait_s=2.0))
    lab.up({"api": 2, "worker": 2})
    yield lab
    lab.close()


@pytest.fixture
def client(running_lab: Lab) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_lab.runtime.endpoint("lb").url, timeout=10) as c:
        yield c
