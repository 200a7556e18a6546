"""The end of a capacity run (``capacity:`` in a scenario): what it measured, kept and judged.

After the phases, the run's measurements become ``verdict.capacity`` (``lab.run.capacity``):
the knee at every replica count (one ``find_knee`` step each), one worker's orders/s over
the worker phase, the database's queries/s and ``max_connections`` (pgbench), the run's
cache hit ratio, the knobs the plan needs (pool per replica, cache TTL) and the user model.
The fit, the held-out check and the plan are derived from that record
(``lab.capacity.record``); the fit's quality and the held-out prediction are checks here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lab.capacity.model import UserModel, load_user_model
from lab.capacity.record import from_record
from lab.capacity.usl import MIN_POINTS
from lab.errors import LabError
from lab.run.capacity import CapacityRecord
from lab.run.verdict import CheckResult, Verdict
from lab.scenario.context import RunContext, record
from lab.scenario.knobs import pool_size
from lab.scenario.model import CapacitySpec

log = logging.getLogger(__name__)

R_SQUARED = 0.9  # a fit explaining less of the knees' spread is a curve through noise
WORKER_RATE = "sum(increase(shop_worker_orders_processed_total[{w}s])) / {w}"
HIT_RATIO = (
    'sum(increase(shop_cache_requests_total{{job="api",result="hit"}}[{w}s]))'
    ' / sum(increase(shop_cache_requests_total{{job="api",result=~"hit|miss"}}[{w}s]))'
)
FIT_CHECK = "the USL fits the knees (R² ≥ 0.9, at least 6 replica counts)"


def finish(ctx: RunContext, spec: CapacitySpec, users: Path) -> None:
    """Measure what the plan needs besides the knees, keep it as ``verdict.capacity``,
    and judge the fit; a measurement that fails is a failed check, never a made-up one."""
    verdict = ctx.verdict
    try:
        model = load_user_model(users)
        found = measure(ctx, spec, model, str(users))
    except (LabError, ValueError) as exc:
        record(ctx, CheckResult("the capacity measurements", False, None, "all taken", str(exc)))
        return
    verdict.capacity = found
    judge(ctx, found)


def measure(ctx: RunContext, spec: CapacitySpec, model: UserModel, source: str) -> CapacityRecord:
    verdict, topo = ctx.verdict, ctx.scenario.topology
    knees = [k for k in verdict.knees if k.found and k.rps]
    if not any(k.replicas == 1 for k in knees):
        raise ValueError("no knee was found on 1 replica: nothing to scale from")
    one = next(k for k in knees if k.replicas == 1)
    ctx.lab.events.emit("capacity", "database probe (pgbench)", tags=("capacity",))
    probe = ctx.lab.database_probe(seconds=spec.db_probe_s, clients=spec.db_probe_clients)
    worker = _worker_rate(ctx, verdict, spec.worker_phase)
    ran = max(1, round(ctx.clock.time() - verdict.started))
    hit = ctx.metrics.expr(HIT_RATIO.format(w=ran))
    first = verdict.phase(one.phase) if one.phase else None
    response = first.mean_latency if first is not None else None
    settings = ctx.lab.settings
    ttl = topo.cache_ttl_s if topo.cache_ttl_s is not None else settings.cache_ttl_s
    knobs = settings.with_overrides(
        api_concurrency=topo.concurrency, db_pool_size=topo.db_pool_size
    )
    measured = {
        "knee_rps_per_replica": round(one.rps or 0.0, 3),
        "api_db_pool": pool_size(knobs),
        "pg_max_connections": probe.max_connections,
        "db_max_queries_per_s": round(probe.queries_per_s, 1),
        "worker_orders_per_s": round(worker, 2),
        "cache_ttl_s": ttl,
        "response_s": round(response or 0.0, 4),
        "measured_hit_ratio": None if hit is None else round(hit, 4),
        "source": f"run {ctx.workdir.name if ctx.workdir else verdict.scenario}",
    }
    basis = {
        "knees": "the knee search's last good arrival rate at each replica count (open loop, "
        f"p95 from the client's HDR histogram against the {verdict.slo_seconds * 1000:g} ms SLO)",
        "db_max_queries_per_s": probe.detail,
        "worker_orders_per_s": f"orders processed per second by 1 worker over phase "
        f"{spec.worker_phase!r} (more orders offered than it can take)",
        "response_s": f"the API's mean latency over phase {one.phase!r} (1 replica at its knee)",
        "api_db_pool": "configured: connections per API replica",
        "cache_ttl_s": "configured: the product cache's TTL",
    }
    points = tuple(sorted((k.replicas, round(k.rps or 0.0, 3)) for k in knees))
    return CapacityRecord(
        points=points,
        held_out=spec.held_out,
        tolerance=spec.tolerance,
        work=topo.work,
        measured=measured,
        user_model=model.model_dump(mode="json"),
        users_source=source,
        basis=basis,
        design_rps_per_replica=round(one.predicted_rps or 0.0, 3),
    )


def judge(ctx: RunContext, found: CapacityRecord) -> None:
    """The fit's quality and the held-out prediction, as checks."""
    counts = sorted({n for n, _ in found.points})
    try:
        planned = from_record(found)
    except ValueError as exc:
        record(ctx, CheckResult(FIT_CHECK, False, None, f"R² ≥ {R_SQUARED:g}", str(exc)))
        return
    fitted = planned.fit
    enough = len(counts) >= MIN_POINTS
    record(
        ctx,
        CheckResult(
            FIT_CHECK,
            enough and fitted.r_squared >= R_SQUARED,
            round(fitted.r_squared, 4),
            f"R² ≥ {R_SQUARED:g}",
            f"{fitted.describe()}; knees at N = {', '.join(map(str, counts))}",
        ),
    )
    check = planned.validation
    name = (
        f"held out N = {found.held_out}: the fit without it predicts its knee within "
        f"{found.tolerance:.0%}"
    )
    if check is None:
        why = f"no knee at N = {found.held_out}, or fewer than {MIN_POINTS} others"
        record(ctx, CheckResult(name, False, None, f"≤ {found.tolerance:.0%}", why))
        return
    record(
        ctx,
        CheckResult(
            name,
            planned.held_out_within,
            round(check.error, 4),
            f"≤ {found.tolerance:g}",
            check.describe(),
        ),
    )
    ctx.lab.events.emit("capacity", fitted.describe(), tags=("capacity",))


def _worker_rate(ctx: RunContext, verdict: Verdict, phase: str) -> float:
    found = verdict.phase(phase)
    if found is None or found.window is None:
        raise ValueError(f"phase {phase!r} has no measured window: no worker rate")
    start, end = found.window
    seconds = max(1, round(end - start))
    rate = ctx.metrics.expr(WORKER_RATE.format(w=seconds), at=end)
    if rate is None or rate <= 0:
        raise ValueError(f"no orders processed over phase {phase!r}: no worker rate")
    return rate
