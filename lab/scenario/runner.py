"""``ScenarioRunner``: the lifecycle of one scenario run, as chaostoolkit runs an experiment.

    1. boot the lab with the scenario's topology, or reconcile a running lab's replicas
    2. steady state: the API answers through the load balancer, Prometheus sees it
    3. phases and their steps, under load from Locust; then the final checks
    4. always (end, error, Ctrl-C): stop the load, restore replica counts and faulted
       instances, write the run bundle (docs/contracts.md) and render the report

Every event goes through ``lab.events`` (so Grafana gets annotations) and into the run's
own ``events.jsonl``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError, LabStateError
from lab.events import Event
from lab.lab import Lab
from lab.scenario import checks
from lab.scenario.context import Changes, RunContext, evaluate, record
from lab.scenario.journal import RunBundle
from lab.scenario.loader import LoadedScenario
from lab.scenario.measure import Measurer
from lab.scenario.model import Scenario
from lab.scenario.progress import Progress
from lab.scenario.steps import PhaseRunner
from lab.scenario.verdict import Verdict
from lab.settings import Settings
from lab.wait import http_ok, wait_for

log = logging.getLogger(__name__)


def scenario_settings(settings: Settings, scenario: Scenario) -> Settings:
    """The lab settings a scenario's topology asks for (knobs, SLO, starting replicas)."""
    topo = scenario.topology
    return settings.with_overrides(
        api_work=topo.work,
        api_work_ms=topo.work_ms,
        api_concurrency=topo.concurrency,
        cache_ttl_s=topo.cache_ttl_s,
        worker_work_ms=topo.worker_work_ms,
        slo_seconds=scenario.slo_seconds,
        api_replicas=topo.replicas.get("api"),
        worker_replicas=topo.replicas.get("worker"),
    )


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    verdict: Verdict
    report: Path | None
    report_error: str | None


class ScenarioRunner:
    def __init__(
        self,
        lab: Lab,
        loaded: LoadedScenario,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        down_after: bool = False,
    ) -> None:
        self.lab = lab
        self.loaded = loaded
        self.scenario = loaded.scenario
        self.on_progress = on_progress or (lambda _: None)
        self.on_event = on_event
        self.down_after = down_after
        self.changes = Changes()
        self.booted = False
        self.run_dir: Path | None = None

    def run(self) -> RunResult:
        """Run the scenario; the bundle is written even when the run is interrupted
        (then the exception propagates after the lab was restored)."""
        try:
            self._prepare()
            self._steady_state()
        except BaseException:
            self._restore()
            raise
        bundle = RunBundle.create(self.lab.settings.runs_path, self.scenario.name)
        self.run_dir = bundle.dir
        bundle.write_scenario(self.loaded.as_run_yaml())
        verdict = Verdict(
            scenario=self.scenario.name,
            title=self.scenario.title,
            concept=self.scenario.concept,
            profile=self.loaded.profile,
            runtime=self.lab.runtime.name,
            started=time.time(),
            slo_seconds=self.scenario.slo_seconds,
        )
        listeners = [bundle.journal, *([self.on_event] if self.on_event else [])]
        unsubscribe = [self.lab.events.subscribe(listener) for listener in listeners]
        try:
            self._execute(verdict, bundle)
        except (KeyboardInterrupt, LabError) as exc:
            verdict.aborted = (
                "interrupted (Ctrl-C)"
                if isinstance(exc, KeyboardInterrupt)
                else (f"{type(exc).__name__}: {exc}")
            )
            raise
        finally:
            with _no_interrupts():
                self._restore()
                verdict.ended = time.time()
                status = "passed" if verdict.passed else "failed"
                self.lab.events.emit(
                    "scenario",
                    f"scenario {self.scenario.name} {status}",
                    scenario=self.scenario.name,
                    passed=verdict.passed,
                    tags=("scenario",),
                )
                for stop in unsubscribe:
                    stop()
                report, error = bundle.finish(self.lab, verdict)
                if self.down_after and self.booted:
                    self.lab.down()
        return RunResult(bundle.dir, verdict, report, error)

    # -- lifecycle ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        runtime, wanted = self.lab.runtime, self.scenario.topology.replicas
        if not runtime.is_up():
            self.lab.up(dict(wanted))
            self.booted = True
            return
        self._check_knobs()
        current = dict(runtime.replicas())
        for service, count in wanted.items():
            if current.get(service) != count:
                self.changes.replicas.setdefault(service, current.get(service, 0))
                self.lab.scale(service, count)

    def _check_knobs(self) -> None:
        """A running lab must have the scenario's per-replica capacity, or the numbers lie."""
        measurer, topo = Measurer(self.lab.prometheus), self.scenario.topology
        limit = measurer.expr("max(shop_concurrency_limit)")
        work = measurer.expr("max(shop_work_seconds)")
        found = []
        if limit is not None and int(limit) != topo.concurrency:
            found.append(f"an API concurrency of {int(limit)} (needs {topo.concurrency})")
        if work is not None and abs(work * 1000 - topo.work_ms) > 0.5:
            found.append(f"{work * 1000:g} ms of work per request (needs {topo.work_ms:g})")
        if found:
            raise LabStateError(
                f"the running lab has {' and '.join(found)} for {self.scenario.name}",
                hint="`lab down`, then run the scenario again: it boots the lab it needs",
            )

    def _steady_state(self) -> None:
        lb = self.lab.runtime.endpoint("lb").url
        timeout = self.lab.settings.ready_timeout_s
        wait_for(
            f"the API did not answer through the load balancer at {lb}",
            lambda: http_ok(f"{lb}/readyz"),
            timeout=timeout,
            interval=0.5,
            hint="`lab status` and `lab logs api`",
        )
        api = self.scenario.topology.replicas.get("api", 0)
        measurer = Measurer(self.lab.prometheus)
        wait_for(
            f"Prometheus did not see {api} healthy API replica(s)",
            lambda: measurer.holds(f"lab:api_replicas:up >= {api}"),
            timeout=timeout,
            interval=0.5,
            hint="`lab status`; Prometheus targets page",
        )

    def _execute(self, verdict: Verdict, bundle: RunBundle) -> None:
        from lab.load.driver import LoadDriver

        with LoadDriver(
            self.lab.settings,
            host_url=self.lab.runtime.endpoint("lb").url,
            targets=self.lab.runtime,
        ) as driver:
            try:
                driver.start()
                ctx = RunContext(
                    lab=self.lab,
                    scenario=self.scenario,
                    load=driver,
                    measurer=Measurer(self.lab.prometheus),
                    verdict=verdict,
                    changes=self.changes,
                    peaks=checks.ResourcePeaks(),
                    on_progress=self.on_progress,
                    load_cpu=driver.cpu,
                    planned_left=self.scenario.planned_seconds(),
                )
                self.lab.events.emit(
                    "scenario",
                    f"scenario {self.scenario.name} ({self.loaded.profile})",
                    scenario=self.scenario.name,
                    profile=self.loaded.profile,
                    tags=("scenario",),
                )
                for index, phase in enumerate(self.scenario.phases):
                    PhaseRunner(ctx, phase, index).run()
                for check in self.scenario.checks:
                    record(ctx, evaluate(ctx, check, None))
                if not verdict.passed:
                    verdict.saturation = checks.saturation(ctx.peaks)
            finally:
                try:
                    driver.stop_load()
                    driver.copy_csvs(bundle.dir)
                except LabError as exc:  # must not hide why the run ended
                    log.warning("could not stop Locust cleanly or copy its CSVs: %s", exc)

    def _restore(self) -> None:
        """Put back what the scenario changed; each repair is tried even if one fails."""
        restored: list[str] = []
        for instance in list(self.changes.down):
            try:
                self.lab.start(instance)
                restored.append(f"started {instance}")
                del self.changes.down[instance]
            except LabError as exc:
                log.warning("could not start %s again: %s", instance, exc)
        for service, count in list(self.changes.replicas.items()):
            try:
                if self.lab.runtime.replicas().get(service) != count:
                    self.lab.scale(service, count)
                    restored.append(f"{service}={count}")
                del self.changes.replicas[service]
            except LabError as exc:
                log.warning("could not scale %s back to %d: %s", service, count, exc)
        if restored:
            self.lab.events.emit("restore", "restored " + ", ".join(restored), tags=("restore",))


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Ctrl-C (and SIGTERM, which the CLI turns into one) waits while the lab is put back:
    a second signal must not leave it half restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
