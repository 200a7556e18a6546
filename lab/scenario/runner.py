"""``ScenarioRunner``: the lifecycle of one scenario run, as chaostoolkit runs an experiment.

    1. boot the lab with the scenario's topology, or reconcile a running lab's replicas
       (refused when its knobs differ from the scenario's: ``knobs``)
    2. steady state: the API answers through the load balancer, Prometheus sees it
    3. phases and their steps (``steps``), under load; then the final checks and the
       saturated resource
    4. always (end, error, Ctrl-C): stop the load, restore replica counts and faulted
       instances (``restore``), audit the orders (``lab.run.audit``: each accepted order
       processed exactly once), write the run folder (``lab.run``) and render the report

The runner sees the lab through ``ports.Lab`` only. Every event goes through
``lab.events`` (so listeners such as Grafana annotations get it) and into the run
folder's own ``events.jsonl``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab import rules
from lab.defaults import AUDIT_DRAIN_S
from lab.errors import LabError, LabStateError, NotReadyError
from lab.events import Event
from lab.run.folder import RunFolder
from lab.run.verdict import CheckResult, Verdict
from lab.scenario import autoscaling, capacity, checks, knobs
from lab.scenario.context import Changes, RunContext, evaluate, record
from lab.scenario.loader import LoadedScenario
from lab.scenario.measure import Window
from lab.scenario.model import Scenario
from lab.scenario.path import next_lesson
from lab.scenario.ports import Clock, Lab, SystemClock
from lab.scenario.progress import Progress
from lab.scenario.restore import restore
from lab.scenario.steps import run_phase
from lab.settings import Settings

log = logging.getLogger(__name__)
READY_POLL_S = 0.5
AUDIT_CHECK = "integrity audit: every accepted order processed exactly once"


def scenario_settings(settings: Settings, scenario: Scenario) -> Settings:
    """The lab settings a scenario's topology asks for (knobs, SLO, starting replicas)."""
    topo = scenario.topology
    return settings.with_overrides(
        api_work=topo.work,
        api_work_ms=topo.work_ms,
        api_concurrency=topo.concurrency,
        cache_ttl_s=topo.cache_ttl_s,
        cache_single_flight=topo.cache_single_flight,
        db_work=topo.db_work,
        db_query_ms=topo.db_query_ms,
        db_pool_size=topo.db_pool_size,
        pg_max_connections=topo.pg_max_connections,
        worker_work_ms=topo.worker_work_ms,
        net_proxy=topo.net_proxy,
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
        clock: Clock | None = None,
    ) -> None:
        self.lab = lab
        self.loaded = loaded
        self.scenario = loaded.scenario
        self.on_progress = on_progress or (lambda _: None)
        self.on_event = on_event
        self.down_after = down_after
        self.clock = clock or SystemClock()
        self.changes = Changes()
        self.booted = False
        self.run_dir: Path | None = None

    def run(self) -> RunResult:
        """Run the scenario; the run folder is written even when the run is interrupted
        (then the exception propagates after the lab was restored)."""
        try:
            self._prepare()
            self._steady_state()
        except BaseException:
            restore(self.lab, self.changes)
            raise
        clock = self.clock
        folder = RunFolder.create(self.lab.settings.runs_path, self.scenario.name, clock.time())
        self.run_dir = folder.dir
        folder.write_scenario(self.loaded.as_run_yaml())
        verdict = Verdict(
            scenario=self.scenario.name,
            title=self.scenario.title,
            concept=self.scenario.concept,
            profile=self.loaded.profile,
            runtime=self.lab.runtime_name,
            started=clock.time(),
            slo_seconds=self.scenario.slo_seconds,
            try_next=self.scenario.try_next,
            next_lesson=next_lesson(self.scenario.name),
        )
        listeners = [folder.append_event, *([self.on_event] if self.on_event else [])]
        unsubscribe = [self.lab.events.subscribe(listener) for listener in listeners]
        try:
            self._execute(verdict, folder)
        except (KeyboardInterrupt, LabError) as exc:
            verdict.aborted = (
                "interrupted (Ctrl-C)"
                if isinstance(exc, KeyboardInterrupt)
                else f"{type(exc).__name__}: {exc}"
            )
            raise
        finally:
            with _no_interrupts():
                restore(self.lab, self.changes, going_down=self.down_after and self.booted)
                verdict.ended = clock.time()
                self._audit(verdict)
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
                report, error = self._finish(folder, verdict)
                if self.down_after and self.booted:
                    self.lab.down()
        return RunResult(folder.dir, verdict, report, error)

    # -- lifecycle ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        lab, wanted = self.lab, self.scenario.topology.replicas
        if not lab.is_up():
            lab.up(dict(wanted))
            self.booted = True
            return
        found = knobs.mismatches(lab.metrics(), scenario_settings(lab.settings, self.scenario))
        if found:
            raise LabStateError(
                f"the running lab has {' and '.join(found)} for {self.scenario.name}",
                hint="`lab down`, then run the scenario again: it boots the lab it needs",
            )
        current = dict(lab.replicas())
        for service, count in wanted.items():
            if current.get(service) != count:
                self.changes.replicas.setdefault(service, current.get(service, 0))
                lab.scale(service, count)

    def _steady_state(self) -> None:
        api = self.scenario.topology.replicas.get("api", 0)
        metrics = self.lab.metrics()
        self._wait(
            "the API did not answer through the load balancer",
            lambda: self.lab.answers("lb", "/readyz"),
            "`lab status` and `lab logs api`",
        )
        self._wait(
            f"Prometheus did not see {api} healthy API replica(s)",
            lambda: metrics.holds(f"{rules.API_REPLICAS} >= {api}"),
            "`lab status`; Prometheus targets page",
        )

    def _wait(self, what: str, ready: Callable[[], bool], hint: str) -> None:
        """Poll ``ready`` on the run's clock; exceptions count as "not yet"."""
        timeout = self.lab.settings.ready_timeout_s
        deadline = self.clock.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except Exception:  # any failure means "not ready yet"
                log.debug("not ready yet: %s", what, exc_info=True)
            if self.clock.monotonic() >= deadline:
                raise NotReadyError(f"{what} within {timeout:g} s", hint=hint)
            self.clock.sleep(READY_POLL_S)

    def _execute(self, verdict: Verdict, folder: RunFolder) -> None:
        with self.lab.load_driver() as load:
            try:
                load.start()
                ctx = RunContext(
                    lab=self.lab,
                    scenario=self.scenario,
                    load=load,
                    metrics=self.lab.metrics(),
                    clock=self.clock,
                    verdict=verdict,
                    changes=self.changes,
                    peaks=checks.ResourcePeaks(),
                    on_progress=self.on_progress,
                    planned_left=self.scenario.planned_seconds(),
                    workdir=folder.dir,
                )
                self.lab.events.emit(
                    "scenario",
                    f"scenario {self.scenario.name} ({self.loaded.profile})",
                    scenario=self.scenario.name,
                    profile=self.loaded.profile,
                    tags=("scenario",),
                )
                try:
                    for index, phase in enumerate(self.scenario.phases):
                        run_phase(ctx, phase, index)
                    ran = Window(verdict.started, ctx.clock.time())
                    autoscaling.costs(ctx.metrics, verdict, ran)
                    if self.scenario.capacity and self.loaded.users_model:
                        capacity.finish(ctx, self.scenario.capacity, self.loaded.users_model)
                    for check in self.scenario.checks:
                        record(ctx, evaluate(ctx, check, None))
                    refused = checks.load_generator_refusal(verdict.phases, load.processes)
                    if refused is not None:
                        record(ctx, refused)
                finally:  # on every run, aborted ones too: what ran full so far
                    verdict.saturation = checks.saturation(ctx.peaks, verdict.phases)
            finally:
                try:
                    load.stop_load()
                    load.copy_csvs(folder.dir)
                except LabError as exc:  # must not hide why the run ended
                    log.warning("could not stop the load cleanly or copy its CSVs: %s", exc)

    def _audit(self, verdict: Verdict) -> None:
        """Every run ends with the integrity audit, a check like any other (an aborted
        run's without waiting for the queue to drain)."""
        drain = 0.0 if verdict.aborted else AUDIT_DRAIN_S
        found = verdict.audit = self.lab.audit(verdict.started, drain_s=drain)
        verdict.checks.append(
            CheckResult(
                AUDIT_CHECK,
                found.passed,
                float(found.processed),
                f"{found.orders} accepted, each processed once",
                found.detail,
            )
        )
        self.lab.events.emit(
            "audit",
            f"integrity audit {'passed' if found.passed else 'FAILED'}: {found.detail}",
            passed=found.passed,
            tags=("audit",),
        )

    def _finish(self, folder: RunFolder, verdict: Verdict) -> tuple[Path | None, str | None]:
        """Write timeseries.csv and verdict.json, render the report: (report, error)."""
        problems: list[str] = []
        try:
            folder.write_timeseries(self.lab.timeseries(verdict.started, verdict.ended))
        except Exception as exc:  # a run's numbers are kept even if Prometheus is gone
            log.warning("timeseries.csv not written", exc_info=True)
            problems.append(f"timeseries.csv: {exc}")
        folder.write_verdict(verdict)
        report: Path | None = None
        try:
            report = self.lab.render_report(folder.dir)
        except Exception as exc:  # the run folder is complete; the report can be re-rendered
            log.warning("report not rendered", exc_info=True)
            problems.append(f"report: {exc} (retry with `lab report {folder.dir.name}`)")
        return report, "; ".join(problems) or None


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
