"""``LoadDriver``: Locust as the lab's load generator, in its own processes.

Locust is never imported here (gevent monkey-patches the interpreter). The driver starts
``locust --processes N`` (a master with its web UI plus N forked workers, one process
group), drives it over the web API, and ends the group::

    with LoadDriver(settings, host_url=lb, workdir=state / "locust",
                    targets_dir=state / "prometheus" / "targets") as driver:
        driver.start()                       # master + workers up, Prometheus target written
        driver.swarm(100, 50)                # closed loop: 100 users
        driver.swarm(50, 50, target_rps=400) # open-loop-ish: each user paced at 8 req/s
        driver.stats()                       # LoadStats: users, rps, fail ratio, p50/p95/p99
        driver.stop_load()
        driver.copy_csvs(run_dir)            # locust_stats.csv, ..._history.csv, ..._failures.csv

Files in ``workdir``: ``locust.log`` (every Locust process), ``locust_*.csv`` and
``pids.json`` (for ``reap_stale`` after a killed orchestrator). Every Locust process also
carries ``PRODLAB_HOME=<state dir>`` so ``lab down`` sweeps it in any case.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import psutil

from lab import proc
from lab.errors import LoadDriverError, NotReadyError
from lab.load.locust_api import LoadStats, LocustWeb, hdr_percentiles
from lab.load.pids import forget, reap_stale, save
from lab.load.traffic import Percentiles, Traffic
from lab.metrics.promconfig import write_targets
from lab.runtime.native import procs
from lab.runtime.native.state import ProcRecord
from lab.settings import Settings
from lab.wait import free_port, http_ok, port_free, wait_for

__all__ = ["LoadDriver", "LoadStats", "load_generator_cpu", "reap_stale"]

JOB = "locust"
CSV_NAMES = ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv")
CSV_SETTLE_S = 1.5  # final worker report (1 s cadence) + one CSV write and flush (1 s)

_current: LoadDriver | None = None  # the most recently started driver, for load_generator_cpu


class LoadDriver:
    def __init__(
        self,
        settings: Settings,
        *,
        host_url: str,
        workdir: Path,
        targets_dir: Path,
        processes: int | None = None,
        locustfile: Path | None = None,
    ) -> None:
        self.settings = settings
        self.host_url = host_url
        self.workdir = workdir
        self.targets_dir = targets_dir
        if processes is not None and processes < 1:
            raise LoadDriverError(f"Locust needs at least one worker process, not {processes}")
        self.processes = processes or os.cpu_count() or 1
        self.locustfile = locustfile or settings.project_dir / "loadtests" / "shop.py"
        self.log_path = workdir / "locust.log"
        self.web_url = f"http://{settings.bind_host}:{settings.locust_port}"
        self.metrics_url: str | None = None
        self._records: list[ProcRecord] = []
        self._popen: subprocess.Popen[bytes] | None = None
        self._web: LocustWeb | None = None
        self._watched: list[psutil.Process] = []
        self._stopped_at: float | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the master and its workers; return once all are connected and exporting."""
        global _current
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
        metrics_port = free_port(host)
        try:
            self._spawn(metrics_port)
            self._wait_ready()
            self.metrics_url = f"http://{host}:{metrics_port}/metrics"
            metrics_url = self.metrics_url
            wait_for(
                f"Locust's metrics exporter did not answer at {metrics_url}",
                lambda: http_ok(metrics_url),
                timeout=self.settings.ready_timeout_s,
                interval=0.1,
                hint=f"see {self.log_path}",
                alive=self._death,
            )
            address = f"{host}:{metrics_port}"
            labels = {"service": "locust", "instance": "locust-master"}
            write_targets(self.targets_dir, JOB, [(address, labels)])
        except BaseException:
            self.close()
            raise
        _current = self

    def close(self) -> None:
        """End every Locust process (SIGTERM to the group, then SIGKILL), forget them and
        empty the Prometheus target file. Safe to call twice, and on Ctrl-C."""
        global _current
        with procs.shielded():
            if self._web is not None:
                self._web.close()
                self._web = None
            for record in self._records:
                procs.terminate(record, grace=10.0)
            if self._popen is not None:
                try:
                    self._popen.wait(timeout=5)
                except subprocess.TimeoutExpired:  # terminate() killed its group; be sure
                    self._popen.kill()
                    self._popen.wait(timeout=5)
                self._popen = None
            if self._records or self.metrics_url:
                write_targets(self.targets_dir, JOB, [])
            self._records, self._watched, self.metrics_url = [], [], None
            forget(self.workdir)
            if _current is self:
                _current = None

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
        form = (traffic or Traffic()).form()
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

    def cpu(self) -> float | None:
        """The ``lab.scenario.ports.Load`` name for ``cpu_cores``."""
        return self.cpu_cores()

    def cpu_cores(self) -> float | None:
        """CPU used by the live Locust processes since the last call, in cores."""
        total, alive = 0.0, False
        for process in self._watched:
            try:
                total += process.cpu_percent(interval=None)
                alive = True
            except psutil.Error:
                continue
        return total / 100.0 if alive else None

    # -- internals --------------------------------------------------------------------------

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in self.workdir.glob("locust_*.csv"):
            stale.unlink()
        self.log_path.unlink(missing_ok=True)

    def _spawn(self, metrics_port: int) -> None:
        host = self.settings.bind_host
        master_port = free_port(host)
        argv: list[str] = [
            sys.executable, "-m", "locust", "-f", str(self.locustfile),
            "--host", self.host_url,
            "--web-host", host, "--web-port", str(self.settings.locust_port),
            "--processes", str(self.processes),
            "--master-bind-host", host, "--master-bind-port", str(master_port),
            "--master-host", host, "--master-port", str(master_port),
            "--csv", str(self.workdir / "locust"), "--csv-full-history",
        ]  # fmt: skip
        env = {
            procs.MARKER: str(self.settings.state_dir),
            "LAB_BIND_HOST": host,
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
        self._watched = [psutil.Process(r.pid) for r in self._records if r.pid is not None]
        for process in self._watched:
            process.cpu_percent(interval=None)  # prime: the next call measures from here

    def _death(self) -> str | None:
        if self._records and procs.exit_reason(self._records[0]) is None:
            return None
        code = self._popen.poll() if self._popen is not None else None
        return f"Locust exited (code {code}); see {self.log_path}"

    def _api(self) -> LocustWeb:
        if self._web is None:
            raise LoadDriverError("Locust is not running", hint="call start() first")
        return self._web


def load_generator_cpu() -> float | None:
    """CPU used by the most recently started driver's Locust processes, in cores (1.7 =
    1.7 cores), averaged since the previous call; None when no driver runs."""
    driver = _current
    return driver.cpu_cores() if driver is not None else None
