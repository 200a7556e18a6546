"""``LoadDriver``: Locust as the lab's load generator, in its own processes.

Locust is never imported here (gevent monkey-patches the interpreter). The driver starts
``locust --processes N`` (a master with its web UI plus N forked workers, one process
group), drives it over the web API, and ends the group::

    with LoadDriver(settings, host_url=lb, targets=lab.runtime) as driver:
        driver.start()                       # master + workers up, scrape target registered
        driver.swarm(100, 50)                # closed loop: 100 users
        driver.swarm(50, 50, target_rps=400) # open-loop-ish: each user paced at 8 req/s
        driver.stats()                       # LoadStats: users, rps, fail ratio, p50/p95/p99
        driver.stop_load()
        driver.copy_csvs(run_dir)            # locust_stats.csv, ..._history.csv, ..._failures.csv
        driver.cpu()                         # cores each of its processes used since the last call

The web UI and the master's port listen on the lab's bind address (127.0.0.1). The
client-side metrics exporter listens where the runtime's Prometheus can reach it
(``targets.scrape_host()``: 127.0.0.1 natively, the compose network's gateway under
Compose) and is registered with ``targets.add_scrape_target`` while Locust runs.

Files in ``workdir`` (``.lab/locust``): ``locust.log`` (every Locust process),
``locust_*.csv`` and ``pids.json`` (for ``reap_leftovers`` after a killed orchestrator).
Every Locust process also carries ``PRODLAB_HOME=<state dir>`` so a native ``lab down``
sweeps it in any case.

With a ``pool`` (``WorkerPool``: the swarm runtime, when ``--load-workers N`` is given) the
driver starts the master alone, listening where the pool's workers reach it, and the runtime
runs the N workers as services spread over its nodes; the requests then go to the load
balancer inside the lab's network, and ``cpu()`` counts the workers that run on this machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

import psutil

from lab import proc, process_groups
from lab.errors import LabError, LoadDriverError, NotReadyError
from lab.load.locust_api import LoadStats, LocustWeb, hdr_percentiles
from lab.load.pids import forget, reap_leftovers, reap_stale, save, workdir_of
from lab.load.traffic import Percentiles, Traffic
from lab.process_groups import ProcRecord
from lab.settings import Settings
from lab.wait import free_port, http_ok, port_free, wait_for

__all__ = [
    "LoadDriver",
    "LoadStats",
    "ScrapeTargets",
    "WorkerPool",
    "reap_leftovers",
    "workdir_of",
]

log = logging.getLogger(__name__)
JOB = "locust"
LABELS = {"service": "locust", "instance": "locust-master"}
CSV_NAMES = ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv")
CSV_SETTLE_S = 1.5  # final worker report (1 s cadence) + one CSV write and flush (1 s)


class ScrapeTargets(Protocol):
    """Where Prometheus learns of Locust's exporter: the runtime (``lab.runtime.Runtime``)."""

    def scrape_host(self) -> str: ...

    def add_scrape_target(self, job: str, address: str, labels: Mapping[str, str]) -> None: ...

    def remove_scrape_target(self, job: str) -> None: ...


@runtime_checkable
class WorkerPool(Protocol):
    """Locust workers a runtime runs for the driver as its own services, spread over its
    nodes (the swarm runtime); without one the driver forks them on this machine."""

    def load_master_host(self) -> str:
        """The address of this machine where the master must listen for those workers."""
        ...

    def load_target_url(self) -> str:
        """The load balancer as the workers reach it (inside the lab's network)."""
        ...

    def start_load_workers(self, count: int, master: str) -> None:
        """Run ``count`` workers connecting to ``master`` (``host:port``)."""
        ...

    def load_worker_pids(self) -> dict[str, int]:
        """The main process of each worker that runs on this machine, by the worker's
        name (for their CPU)."""
        ...

    def stop_load_workers(self) -> None: ...


class LoadDriver:
    def __init__(
        self,
        settings: Settings,
        *,
        host_url: str,
        targets: ScrapeTargets,
        workdir: Path | None = None,
        processes: int | None = None,
        locustfile: Path | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        self.settings = settings
        self.host_url = host_url
        self.workdir = workdir or workdir_of(settings)
        self.targets = targets
        if processes is not None and processes < 1:
            raise LoadDriverError(f"Locust needs at least one worker process, not {processes}")
        self.processes = processes or os.cpu_count() or 1
        self.locustfile = locustfile or settings.project_dir / "loadtests" / "shop.py"
        self.log_path = self.workdir / "locust.log"
        self.web_url = f"http://{settings.bind_host}:{settings.locust_port}"
        self.metrics_url: str | None = None
        self._records: list[ProcRecord] = []
        self._popen: subprocess.Popen[bytes] | None = None
        self._web: LocustWeb | None = None
        self._watched: dict[str, psutil.Process] = {}
        self._stopped_at: float | None = None
        self.pool = pool
        if pool is not None:  # the workers send the requests: the LB as they reach it
            self.host_url = pool.load_target_url()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the master and its workers; return once all are connected and exporting."""
        if self._records:
            raise LoadDriverError("this load driver is already running", hint="call close() first")
        host, port = self.settings.bind_host, self.settings.locust_port
        reap_stale(self.workdir)
        if not port_free(host, port):
            raise LoadDriverError(
                f"Locust's web UI port {host}:{port} is in use",
                hint="another Locust (or lab) runs there: stop it, or set LAB_LOCUST_PORT",
            )
        self._prepare_workdir()
        metrics_host = self.targets.scrape_host()
        metrics_port = free_port(metrics_host)
        address = f"{metrics_host}:{metrics_port}"
        try:
            self._spawn(metrics_host, metrics_port)
            self._wait_ready()
            self.metrics_url = f"http://{address}/metrics"
            metrics_url = self.metrics_url
            wait_for(
                f"Locust's metrics exporter did not answer at {metrics_url}",
                lambda: http_ok(metrics_url),
                timeout=self.settings.ready_timeout_s,
                interval=0.1,
                hint=f"see {self.log_path}",
                alive=self._death,
            )
            self.targets.add_scrape_target(JOB, address, LABELS)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """End every Locust process (SIGTERM to the group, then SIGKILL), forget them and
        unregister the scrape target. Safe to call twice, and on Ctrl-C."""
        with process_groups.shielded():
            if self._web is not None:
                self._web.close()
                self._web = None
            if self.pool is not None and self._records:
                try:
                    self.pool.stop_load_workers()
                except LabError as exc:  # the master must still go
                    log.warning("could not remove the load workers: %s", exc)
            for record in self._records:
                process_groups.terminate(record, grace=10.0)
            if self._popen is not None:
                try:
                    self._popen.wait(timeout=5)
                except subprocess.TimeoutExpired:  # terminate() killed its group; be sure
                    self._popen.kill()
                    self._popen.wait(timeout=5)
                self._popen = None
            if self._records or self.metrics_url:
                self.targets.remove_scrape_target(JOB)
            self._records, self._watched, self.metrics_url = [], {}, None
            forget(self.workdir)

    def __enter__(self) -> LoadDriver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- load -------------------------------------------------------------------------------

    def swarm(
        self,
        users: int,
        spawn_rate: float,
        *,
        target_rps: float | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        """Run ``users`` users, started at ``spawn_rate``/s. Closed loop by default; with
        ``target_rps``, an open loop: arrivals at that rate, sent by the pool of users.
        ``traffic``: think time, request mix, popularity skew, rate ramp."""
        per_user = target_rps / users if target_rps and users > 0 else 0.0
        # the pool and the processes it is dealt over: while Locust stops users a few per
        # second, the users still running carry the new rate, not per_user each
        form = {
            **(traffic or Traffic()).form(),
            "target_users": str(users),
            "load_processes": str(self.processes),
        }
        self._api().swarm(users, spawn_rate, rps_per_user=per_user, options=form)
        self._stopped_at = None

    def hdr(self, start: float, end: float, quantiles: tuple[float, ...]) -> Percentiles | None:
        """Exact client latency quantiles over ``[start, end]`` (None: not running)."""
        if self.metrics_url is None:
            return None
        return hdr_percentiles(self.metrics_url, start, end, quantiles)

    def stats(self) -> LoadStats:
        return self._api().stats()

    def stop_load(self) -> None:
        """Stop every user and wait until the workers say so (stats are kept).
        A no-op when Locust never swarmed (it stays "ready")."""
        if not self._records:
            return
        web = self._api()
        web.stop()
        wait_for(
            "Locust did not stop its users",
            lambda: web.stats().state in ("stopped", "ready"),
            timeout=15,
            interval=0.2,
            hint=f"see {self.log_path}",
            alive=self._death,
        )
        self._stopped_at = time.time()

    def copy_csvs(self, dest: Path) -> list[Path]:
        """Copy Locust's CSVs into ``dest`` (after a stop, once they hold the final numbers)."""
        stats_csv = self.workdir / CSV_NAMES[0]
        if self._stopped_at is not None and self._records:
            settled = self._stopped_at + CSV_SETTLE_S
            with contextlib.suppress(NotReadyError):  # then copy what there is
                wait_for(
                    "Locust's CSVs were not rewritten after the stop",
                    lambda: stats_csv.stat().st_mtime >= settled,
                    timeout=CSV_SETTLE_S + 5,
                    interval=0.2,
                )
        if not stats_csv.exists():
            raise LoadDriverError(f"Locust wrote no CSVs in {self.workdir}", f"see {self.log_path}")
        dest.mkdir(parents=True, exist_ok=True)
        copied = []
        for name in CSV_NAMES:
            if (self.workdir / name).exists():
                copied.append(Path(shutil.copyfile(self.workdir / name, dest / name)))
        return copied

    # -- observation ------------------------------------------------------------------------

    @property
    def pids(self) -> list[int]:
        return [r.pid for r in self._records if r.pid is not None]

    def cpu(self) -> dict[str, float]:
        """CPU each live Locust process used since the last call, in cores (1.0: one core
        full), by process (``locust-master``, ``locust-worker-1``, ...); empty when none
        runs."""
        used: dict[str, float] = {}
        for name, process in self._watched.items():
            try:
                used[name] = process.cpu_percent(interval=None) / 100.0
            except psutil.Error:
                continue
        return used

    # -- internals --------------------------------------------------------------------------

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in self.workdir.glob("locust_*.csv"):
            stale.unlink()
        self.log_path.unlink(missing_ok=True)

    def _spawn(self, metrics_host: str, metrics_port: int) -> None:
        host = self.settings.bind_host
        master_host = host if self.pool is None else self.pool.load_master_host()
        master_port = free_port(master_host)
        workers = ["--processes", str(self.processes), "--master-host", host,
                   "--master-port", str(master_port)]  # fmt: skip
        if self.pool is not None:  # a master alone: the pool's workers join it
            workers = ["--master", "--expect-workers", str(self.processes)]
        argv: list[str] = [
            sys.executable, "-m", "locust", "-f", str(self.locustfile),
            "--host", self.host_url,
            "--web-host", host, "--web-port", str(self.settings.locust_port),
            *workers,
            "--master-bind-host", master_host, "--master-bind-port", str(master_port),
            "--csv", str(self.workdir / "locust"), "--csv-full-history",
        ]  # fmt: skip
        env = {
            process_groups.MARKER: str(self.settings.state_dir),
            "LAB_BIND_HOST": metrics_host,  # the exporter's address (loadtests/locust_exporter)
            "LAB_LOCUST_METRICS_PORT": str(metrics_port),
            "LAB_SLO_SECONDS": repr(self.settings.slo_seconds),
            "LAB_SEED_PRODUCTS": str(self.settings.seed_products),
            "PYTHONUNBUFFERED": "1",
        }
        self._popen = proc.spawn(argv, log_path=self.log_path, env=env, cwd=self.workdir)
        master = ProcRecord(name="locust-master", service="locust", index=0)
        master.pid = self._popen.pid
        try:
            master.create_time = psutil.Process(self._popen.pid).create_time()
        except psutil.Error:
            master.create_time = None  # died at once; the readiness wait reports it
        master.log = str(self.log_path)
        self._records = [master]
        save(self.workdir, self._records)
        if self.pool is not None:
            self.pool.start_load_workers(self.processes, f"{master_host}:{master_port}")

    def _wait_ready(self) -> None:
        self._web = LocustWeb(self.web_url, log_hint=f"see {self.log_path}")
        web, want = self._web, self.processes
        wait_for(
            f"Locust's web API at {self.web_url} did not answer with {want} worker(s) connected",
            lambda: web.stats().workers >= want,
            timeout=self.settings.ready_timeout_s,
            interval=0.2,
            hint=f"see {self.log_path}",
            alive=self._death,
        )
        master = psutil.Process(self._records[0].pid)
        for index, child in enumerate(master.children(), start=1):
            worker = ProcRecord(name=f"locust-worker-{index}", service="locust", index=index)
            worker.pid, worker.create_time, worker.log = child.pid, child.create_time(), ""
            self._records.append(worker)
        save(self.workdir, self._records)
        pids = {r.name: r.pid for r in self._records if r.pid is not None}
        pids |= self.pool.load_worker_pids() if self.pool is not None else {}
        self._watched = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                self._watched[name] = psutil.Process(pid)
        for process in self._watched.values():
            process.cpu_percent(interval=None)  # prime: the next call measures from here

    def _death(self) -> str | None:
        if self._records and process_groups.exit_reason(self._records[0]) is None:
            return None
        code = self._popen.poll() if self._popen is not None else None
        return f"Locust exited (code {code}); see {self.log_path}"

    def _api(self) -> LocustWeb:
        if self._web is None:
            raise LoadDriverError("Locust is not running", hint="call start() first")
        return self._web
