"""The ``autoscale`` step, the ``autoscaler`` checks, and what the autoscaler cost.

The controller runs in the scenario's process (so it dies with the run and Ctrl-C stops
it: ``restore`` turns it off before anything is scaled back) and journals into the run
folder's ``autoscale/``; the verdict keeps its scalings and timed scale-ups."""

from __future__ import annotations

from lab.run.scaling import Autoscaling
from lab.run.verdict import Verdict
from lab.scenario.context import RunContext
from lab.scenario.measure import Window
from lab.scenario.ports import Metrics
from lab.scenario.step_model import AutoscaleStep

FOLDER = "autoscale"


def autoscale(ctx: RunContext, step: AutoscaleStep) -> None:
    if ctx.changes.autoscaler is not None:
        ctx.changes.autoscaler.stop()
        ctx.changes.autoscaler = None
    if step.policy is None:
        return
    for service in ("api", "worker"):  # the run puts back what the autoscaler chose
        if getattr(step.policy, service) is not None:
            ctx.changes.replicas.setdefault(service, ctx.lab.replicas().get(service, 1))
    if ctx.verdict.autoscaling is None:
        ctx.verdict.autoscaling = Autoscaling()
    now = ctx.lab.replicas()
    for service in ("api", "worker"):
        if getattr(step.policy, service) is not None:
            ctx.verdict.autoscaling.initial.setdefault(service, now.get(service, 0))
    folder = (ctx.workdir or ctx.lab.settings.state_dir) / FOLDER
    ctx.changes.autoscaler = ctx.lab.autoscaler(step.policy, folder, ctx.verdict.autoscaling)


def costs(metrics: Metrics, verdict: Verdict, window: Window) -> None:
    """Replica-seconds per service and seconds over the SLO over the run (rules evaluate
    every second, so a sum over time is in seconds)."""
    record = verdict.autoscaling
    if record is None or window.seconds < 2:
        return
    w = f"{round(window.seconds)}s"
    for service in ("api", "worker"):
        value = metrics.expr(f"sum(sum_over_time(lab:{service}_replicas:up[{w}]))")
        if value is not None:
            record.replica_seconds[service] = round(value, 1)
    above = f"lab:api_latency_seconds:p95_10s > bool {verdict.slo_seconds}"
    record.over_slo_s = metrics.expr(f"sum(sum_over_time(({above})[{w}:1s]))")
