"""Helpers for the tests of the shop API and worker as real processes: a replica of the
lab's own (``lab_context``, ``service_env``), one started by a test with other knobs
(``shop_process``), and what a replica exports (``sample``)."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from lab import proc
from lab.lab import Lab
from lab.runtime.native.context import NativeContext
from lab.runtime.native.runtime import NativeRuntime
from lab.wait import free_port, http_ok, wait_for


def lab_context(lab: Lab) -> NativeContext:
    runtime = lab.runtime
    assert isinstance(runtime, NativeRuntime), "these tests run against the native runtime"
    state = runtime.store.load()
    assert state is not None, "the lab is not up"
    return NativeContext(runtime.settings, runtime.graph, state)


def service_env(lab: Lab, service: str, **overrides: str) -> dict[str, str]:
    """What the native runtime gives a replica of ``service``, plus ``overrides``."""
    ctx = lab_context(lab)
    return {
        **ctx.compose_environment(ctx.graph.get(service)),
        **ctx.connection_env(),
        "PYTHONPATH": ctx.pythonpath(),
        **overrides,
    }


@dataclass
class ShopProcess:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def why_dead(self) -> str | None:
        if self.process.poll() is None:
            return None
        return f"{self.name} exited {self.process.returncode}: {self.log_text()[-1500:]}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 10.0) -> float:
        """SIGTERM; the seconds until it exited (``TimeoutExpired`` if it did not)."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        return time.monotonic() - start


_started = itertools.count(1)


@contextmanager
def shop_process(
    lab: Lab, tmp_path: Path, service: str, *, wait_ready: bool = True, **env: str
) -> Iterator[ShopProcess]:
    """``python -m shop_api`` (service "api") or ``shop_worker`` ("worker"), own port."""
    name = f"test-{service}-{next(_started)}"
    port = free_port()
    if service == "api":
        where = {"LAB_API_HOST": "127.0.0.1", "LAB_API_PORT": str(port)}
        module, probe = "shop_api", "/readyz"
    else:
        where = {"LAB_WORKER_HOST": "127.0.0.1", "LAB_WORKER_METRICS_PORT": str(port)}
        module, probe = "shop_worker", "/healthz"
    log = tmp_path / f"{name}.log"
    process = proc.spawn(
        [sys.executable, "-m", module],
        log_path=log,
        env=service_env(lab, service, LAB_REPLICA=name, **where, **env),
    )
    shop = ShopProcess(name, process, f"http://127.0.0.1:{port}", log)
    try:
        if wait_ready:
            wait_for(
                f"{name} ready",
                lambda: http_ok(shop.url + probe),
                timeout=30,
                alive=shop.why_dead,
            )
        yield shop
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def sample(url: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` (with ``labels``) on ``url``/metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def replica_urls(lab: Lab, service: str) -> list[str]:
    urls = [i.endpoint.url for i in lab.runtime.status().of(service) if i.endpoint is not None]
    assert urls, f"no {service} replica is up"
    return urls
