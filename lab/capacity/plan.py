"""The plan to millions: one row per user count, sized from the lab's measurements.

    p = plan(model, measured)
    p.rows[3].api_replicas, p.rows[3].next_to_break, p.rows[3].fix, p.rows[3].basis
    p.ceilings      # the user count at which each component breaks, if it does

Each row sizes the tiers for the peak with headroom: API replicas from the USL (the fewest
N with X(N) ≥ peak × (1 + headroom); none past the USL's peak), Postgres connections
(pool × replicas + the workers' pools, against max_connections), the cache (working set,
TTL hit ratio, the hit ratio the database needs), workers for the orders. Every limited
component gets a utilisation; the highest is the next to break, with its standard fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lab import fmt
from lab.capacity.demand import demand, hit_ratio_needed, ttl_hit_ratio, working_set
from lab.capacity.model import Measured, UserModel

API = "API tier"
CONNECTIONS = "Postgres connections"
QUERIES = "Postgres queries"
COMPONENTS = (API, CONNECTIONS, QUERIES)

FIX_API = "shard the service into independent stacks / more regions (past the USL ceiling)"
FIX_CONNECTIONS = "a connection pooler such as PgBouncer (transaction mode) before Postgres"
FIX_WRITES = "shard Postgres (orders by product id): one primary cannot take the writes"
FIX_READS = "read replicas for list and order checks (reads the cache does not hold)"
FIX_CACHE = "a higher hit ratio: longer TTL, pre-warmed hot set, a CDN for catalogue pages"


@dataclass(frozen=True)
class Limit:
    component: str
    demand: float
    capacity: float
    fix: str

    @property
    def utilisation(self) -> float:
        return self.demand / self.capacity if self.capacity > 0 else math.inf


@dataclass(frozen=True)
class PlanRow:
    users: int
    peak_rps: float
    orders_per_s: float
    concurrent_users: float
    api_target_rps: float  # the peak with headroom
    api_replicas: int | None  # None: past the USL's peak
    api_replicas_linear: int  # at the measured knee, were scaling linear
    db_connections: int | None
    connection_limit: int
    working_set_products: int
    working_set_mb: float
    hit_ratio_ttl: float
    hit_ratio_needed: float  # above 1: no cache is enough
    db_queries_per_s: float  # at the TTL hit ratio
    workers: int
    limits: tuple[Limit, ...]
    basis: tuple[str, ...]

    @property
    def next_limit(self) -> Limit:
        return max(self.limits, key=lambda lim: lim.utilisation)

    @property
    def next_to_break(self) -> str:
        return self.next_limit.component

    @property
    def breaks(self) -> bool:
        return self.next_limit.utilisation > 1

    @property
    def broken(self) -> tuple[str, ...]:
        """Every component over its capacity, the worst first."""
        over = sorted((lim for lim in self.limits if lim.utilisation > 1), key=_worst)
        return tuple(lim.component for lim in over)

    @property
    def fix(self) -> str:
        return self.next_limit.fix


def _worst(limit: Limit) -> float:
    return -limit.utilisation


@dataclass(frozen=True)
class Ceiling:
    component: str
    users: int | None  # the fewest users that break it; None: not below MAX_USERS


@dataclass(frozen=True)
class Plan:
    rows: tuple[PlanRow, ...]
    ceilings: tuple[Ceiling, ...]
    measured: tuple[str, ...]  # "measured: ..." / "configured: ..."
    assumptions: tuple[str, ...]  # plain words


MAX_USERS = 10**10


def plan(model: UserModel, measured: Measured) -> Plan:
    rows = tuple(plan_row(model, measured, users) for users in model.users)
    ceilings = tuple(Ceiling(c, breaking_point(model, measured, c)) for c in COMPONENTS)
    said = [*assumptions(model), *fit_caveats(measured)]
    return Plan(rows, ceilings, tuple(measured_basis(measured)), tuple(said))


def plan_row(model: UserModel, m: Measured, users: int) -> PlanRow:
    d = demand(model, users, m.response_s)
    h = model.headroom
    target = d.peak_rps * (1 + h)
    replicas = m.usl.replicas_for(target)
    linear = max(1, math.ceil(target / m.knee_rps_per_replica))
    workers = max(1, math.ceil(d.order_rps * (1 + h) / m.worker_orders_per_s))
    connections = None if replicas is None else m.api_db_pool * replicas
    connections = None if connections is None else connections + m.worker_db_pool * workers
    ws = working_set(model.catalogue_products, model.zipf_exponent, model.hot_read_share)
    hit = ttl_hit_ratio(model.catalogue_products, model.zipf_exponent, d.browse_rps, m.cache_ttl_s)
    writes = d.order_rps * m.db_queries_per_order
    reads = d.list_rps + d.check_rps
    misses = d.browse_rps * (1 - hit)
    budget = m.db_max_queries_per_s / (1 + h)
    needed = hit_ratio_needed(d.browse_rps, reads + writes, budget)
    db_fix = max(((misses, FIX_CACHE), (reads, FIX_READS), (writes, FIX_WRITES)))[1]
    limits = [
        Limit(API, target, m.usl.ceiling, FIX_API),
        Limit(QUERIES, (misses + reads + writes) * (1 + h), m.db_max_queries_per_s, db_fix),
    ]
    if connections is not None:
        limits.insert(1, Limit(CONNECTIONS, connections, m.connection_limit, FIX_CONNECTIONS))
    basis = [
        *d.basis(model, m.response_s),
        _api_basis(m, target, replicas, linear, h),
        _connections_basis(m, replicas, workers, connections),
        f"cache working set: the {ws:,} most read of {model.catalogue_products:,} products"
        f" take {model.hot_read_share:.0%} of reads (Zipf s = {model.zipf_exponent:g}),"
        f" ≈ {fmt.size(ws * m.cache_item_bytes)} at {m.cache_item_bytes:,} B each",
        f"TTL hit ratio {hit:.1%}: {d.browse_rps:,.1f} product reads/s, TTL"
        f" {m.cache_ttl_s:g} s, each product missed once per TTL",
        f"DB queries/s: {d.browse_rps:,.1f} × (1 − {hit:.1%}) + list and check {reads:,.1f}"
        f" + {d.order_rps:,.2f} orders × {m.db_queries_per_order:g}"
        f" = {misses + reads + writes:,.1f}; at most {budget:,.1f} with {h:.0%} headroom"
        f" (measured {m.db_max_queries_per_s:,.0f}): hit ratio needed {_ratio(needed)}",
        f"workers: {d.order_rps:,.2f} orders/s × (1 + {h:.0%}) / {m.worker_orders_per_s:g}"
        f" orders/s per worker = {workers}",
    ]
    return PlanRow(
        users=users,
        peak_rps=d.peak_rps,
        orders_per_s=d.order_rps,
        concurrent_users=d.concurrent_users,
        api_target_rps=target,
        api_replicas=replicas,
        api_replicas_linear=linear,
        db_connections=connections,
        connection_limit=m.connection_limit,
        working_set_products=ws,
        working_set_mb=ws * m.cache_item_bytes / 1e6,
        hit_ratio_ttl=hit,
        hit_ratio_needed=needed,
        db_queries_per_s=misses + reads + writes,
        workers=workers,
        limits=tuple(limits),
        basis=tuple(basis),
    )


def breaking_point(model: UserModel, measured: Measured, component: str) -> int | None:
    """The fewest daily active users at which ``component`` runs over its capacity: a
    scan of ten user counts a decade, then bisection in the decade where it breaks."""

    def broken(users: int) -> bool:
        row = plan_row(model, measured, users)
        return any(lim.component == component and lim.utilisation > 1 for lim in row.limits)

    grid = [round(10 ** (k / 10)) for k in range(0, 10 * round(math.log10(MAX_USERS)) + 1)]
    found = next((i for i, users in enumerate(grid) if broken(users)), None)
    if found is None:
        return None
    low, high = (grid[found - 1], grid[found]) if found > 0 else (0, grid[0])
    while high - low > max(1, high // 1000):  # to 0.1 %
        mid = (low + high) // 2
        low, high = (low, mid) if broken(mid) else (mid, high)
    return high


def _api_basis(m: Measured, target: float, replicas: int | None, linear: int, h: float) -> str:
    head = f"API replicas: the fewest N with X(N) ≥ peak × (1 + {h:.0%}) = {target:,.1f} req/s"
    if replicas is None:
        return f"{head}: none, the USL tops out at {m.usl.ceiling:,.0f} req/s ({FIX_API})"
    return (
        f"{head}: N = {replicas} (X = {m.usl.predict(replicas):,.1f}); linear at the knee"
        f" ({m.knee_rps_per_replica:g} req/s a replica) would be {linear}"
    )


def _connections_basis(m: Measured, replicas: int | None, workers: int, total: int | None) -> str:
    if replicas is None or total is None:
        return "DB connections: not sized (the API tier cannot be sized)"
    return (
        f"DB connections: {m.api_db_pool} × {replicas} API replicas + {m.worker_db_pool}"
        f" × {workers} workers = {total} of {m.connection_limit} (max_connections"
        f" {m.pg_max_connections} less {m.pg_reserved_connections} reserved)"
    )


def _ratio(value: float) -> str:
    return "more than 100 % (no cache is enough)" if value > 1 else f"{value:.1%}"


def measured_basis(m: Measured) -> list[str]:
    hit = "" if m.measured_hit_ratio is None else f", measured hit ratio {m.measured_hit_ratio:.1%}"
    return [
        f"measured: one API replica's knee {m.knee_rps_per_replica:g} req/s ({m.source})",
        f"measured: {m.usl.describe()}",
        f"measured: Postgres served at most {m.db_max_queries_per_s:,.0f} queries/s",
        f"measured: one worker processes {m.worker_orders_per_s:g} orders/s",
        f"configured: {m.api_db_pool} DB connections per API replica, {m.worker_db_pool} per"
        f" worker; Postgres max_connections {m.pg_max_connections}"
        f" ({m.pg_reserved_connections} reserved for superusers)",
        f"configured: product cache TTL {m.cache_ttl_s:g} s{hit}",
    ]


def fit_caveats(m: Measured) -> list[str]:
    """What the fit cannot tell: a σ within its noise makes λ/σ the edge of the evidence."""
    fitted = m.usl
    if not fitted.sigma_within_noise or fitted.sigma <= 0 or not fitted.points:
        return []
    top = max(n for n, _ in fitted.points)
    return [
        f"σ = {fitted.sigma:.4f} ± {fitted.sigma_err or 0:.4f}: the knees up to {top} replicas"
        " cannot tell it from 0, so the API tier's ceiling (λ/σ = "
        f"{fitted.ceiling:,.0f} req/s) is where this evidence ends, not a measured limit:"
        " rows that need more replicas than were measured extrapolate, and past the ceiling"
        " they need knees measured at more replicas.",
    ]


def assumptions(model: UserModel) -> list[str]:
    mix = model.mix
    return [
        f"Every user behaves alike: {model.sessions_per_user_per_day:g} sessions a day of"
        f" {model.requests_per_session:g} requests ({mix.browse:.0%} product views,"
        f" {mix.list:.0%} list pages, {mix.order:.0%} orders, {mix.check:.0%} order checks),"
        f" {model.think_time_s:g} s of thinking between requests.",
        f"The busiest hour runs at {model.peak_to_average:g} × the day's average, steadily.",
        f"Every tier sized by throughput keeps {model.headroom:.0%} headroom over the peak;"
        " connections are a hard limit and get none.",
        "Replicas scale as the USL fitted to the lab's knees says: the knees are one"
        " machine's, so re-measure on the real hosts before buying them.",
        "One Postgres primary; its measured query rate holds for every statement here; list"
        " pages and order checks are not cached.",
        f"One shared cache with a fixed TTL and memory for the working set; products are read"
        f" with a Zipf skew (s = {model.zipf_exponent:g}) over {model.catalogue_products:,}.",
        "The queue is not a limit at these rates (not measured).",
    ]
