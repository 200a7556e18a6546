"""The swarm runtime's own lifecycle: `lab up` makes a single-node swarm when there is
none and `lab down` leaves it again, with nothing of the lab left (service, network,
secret, container, volume). On the way, Locust's workers run as a service of the stack
(`--load-workers`). A swarm the lab found and keeps: the runtime compliance test's swarm
lab, which runs on one. Real Docker; marked ``compose`` (required in CI)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import httpx
import pytest

from lab.errors import LabStateError
from lab.lab import Lab
from tests.labtools import compose_settings, make_home, stack_leftovers, swarm_state, wait_until


def boot_and_discard(then: Callable[[Lab], None] | None = None) -> str:
    home = make_home()
    lab = Lab(compose_settings(home).with_overrides(runtime="swarm"))
    try:
        lab.up({"api": 1, "worker": 1})
        assert (
            httpx.get(lab.runtime.endpoint("lb").url + "/products/1", timeout=5).status_code == 200
        )
        assert swarm_state() == "active"
        if then is not None:
            then(lab)
    finally:
        lab.runtime.down(volumes=True)
        shutil.rmtree(home.home.parent, ignore_errors=True)
    return lab.settings.compose_project


def load_from_worker_services(lab: Lab) -> None:
    """`--load-workers 2` under swarm: Locust's master on this host, two workers as a
    service of the stack sending requests to the LB inside the network; its exporter scraped."""
    driver = Lab(lab.settings.with_overrides(load_workers=2)).load_driver()
    assert driver.pool is not None  # the runtime runs the workers
    with driver:
        driver.start()
        assert driver.stats().workers == 2
        assert len(lab.runtime.status().of("locust-worker")) == 2
        driver.swarm(10, 10)
        assert wait_until(lambda: driver.stats().rps > 5, timeout=20), driver.stats()
        # the master's process and each worker's, seen on this node, by name
        assert set(driver.cpu()) == {"locust-master", "locust-worker-1", "locust-worker-2"}
        up = 'sum(up{job="locust"})'
        assert wait_until(lambda: lab.prometheus.scalar(up) == 1, timeout=15)
        driver.stop_load()
    assert not lab.runtime.status().of("locust-worker")  # the service went with the driver
    lab.prometheus.close()


@pytest.mark.compose
def test_a_swarm_the_lab_made_goes_with_it() -> None:
    assert swarm_state() == "inactive", "another swarm is active on this engine"
    stack = boot_and_discard(then=load_from_worker_services)
    assert swarm_state() == "inactive"  # it made the swarm, it left it
    assert not any(stack_leftovers(stack).values()), stack_leftovers(stack)


@pytest.mark.compose
def test_volumes_another_home_left_are_refused_before_anything_starts() -> None:
    """A stack's volumes outlive a `lab down` without --volumes, and its name is the
    engine's, not the home's: a new home's fresh passwords cannot log in to the Postgres
    they hold. `lab up` says so at once instead of waiting three minutes for the API."""
    home = make_home()
    lab = Lab(compose_settings(home).with_overrides(runtime="swarm"))
    stack = lab.settings.compose_project
    volume = f"{stack}_pgdata"
    subprocess.run(
        ["docker", "volume", "create", "--label", f"com.docker.stack.namespace={stack}", volume],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        with pytest.raises(LabStateError, match=f"volumes of an earlier swarm lab.*{volume}"):
            lab.up({"api": 1, "worker": 1})
        assert swarm_state() == "inactive"  # refused before the swarm was made
        assert not (home.home / "swarm-secrets" / "pg_password").exists()
    finally:
        subprocess.run(["docker", "volume", "rm", volume], check=False, capture_output=True)
        shutil.rmtree(home.home.parent, ignore_errors=True)
