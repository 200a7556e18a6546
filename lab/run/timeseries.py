"""``timeseries.csv``: every ``lab:`` recording rule over a run, one row per step.

The columns (docs/contracts.md) are defined once, in ``COLUMNS``: ``t`` (unix seconds),
then one column per rule, named as the rule without ``lab:`` and with ``:`` turned into
``_`` (``api_requests_rate10s``). A rule kept per label gets one column per label value,
named ``<prefix>_<value>``: ``cpu_api``, ``mem_worker``, ``replicas_postgres``,
``amplification_postgres``, ``breaker_redis``. Missing
values are empty cells. ``collect`` reads the columns from Prometheus (anything with
``query_range``), ``write_timeseries`` writes them; ``read_timeseries`` reads them back
for the report.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from lab import rules
from lab.fsio import atomic_write_text


class RangeSeries(Protocol):
    """One series of a range query (``lab.metrics.prom.Series``)."""

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def points(self) -> Sequence[tuple[float, float]]: ...


class RangeQuery(Protocol):
    """What ``collect`` needs of a Prometheus client."""

    def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> Sequence[RangeSeries]: ...


@dataclass(frozen=True)
class Column:
    """One recording rule and how its series become columns."""

    rule: str
    agg: Literal["sum", "max"]  # several series of one rule → one value (rates add up)
    by: str | None = None  # one column per value of this label
    prefix: str | None = None  # column prefix for the per-label columns

    @property
    def name(self) -> str:
        return column_name(self.rule)

    @property
    def expr(self) -> str:
        by = f" by ({self.by})" if self.by else ""
        return f"{self.agg}{by} ({self.rule})"

    def column(self, labels: Mapping[str, str]) -> str:
        if self.by is None:
            return self.name
        return f"{self.prefix or self.name}_{labels.get(self.by) or 'unknown'}"


def column_name(rule: str) -> str:
    """``lab:api_requests:rate10s`` → ``api_requests_rate10s``."""
    return rule.removeprefix("lab:").replace(":", "_")


COLUMNS: tuple[Column, ...] = (
    Column(rules.API_RPS, "sum"),
    Column(rules.API_ERROR_RATIO, "max"),
    Column(rules.API_P50, "max"),
    Column(rules.API_P95, "max"),
    Column(rules.API_P99, "max"),
    Column(rules.API_REPLICAS, "sum"),
    Column(rules.WORKER_REPLICAS, "sum"),
    Column(rules.QUEUE_DEPTH, "sum"),
    Column(rules.QUEUE_IN_FLIGHT, "sum"),
    Column(rules.ORDERS_ACCEPTED_RATE, "sum"),
    Column(rules.ORDERS_PROCESSED_RATE, "sum"),
    Column(rules.CACHE_HIT_RATIO, "max"),
    Column(rules.DB_PRODUCT_READS_RATE, "sum"),
    Column(rules.LB_RPS, "sum"),
    Column(rules.LB_RETRIES_RATE, "sum"),
    Column(rules.LB_REDISPATCHES_RATE, "sum"),
    Column(rules.DB_POOL_IN_USE, "sum"),
    Column(rules.DB_POOL_MAX_SIZE, "sum"),
    Column(rules.DB_POOL_WAITERS, "sum"),
    Column(rules.API_SLOT_WAITERS, "sum"),
    Column(rules.LOCUST_USERS, "sum"),
    Column(rules.LOCUST_RPS, "sum"),
    Column(rules.LOCUST_FAILURE_RATIO, "max"),
    Column(rules.LOCUST_P95, "max"),
    Column(rules.LOCUST_HDR_P95, "max"),
    Column(rules.LOCUST_LATE_RATE, "sum"),
    Column(rules.LOCUST_DROPPED_RATE, "sum"),
    Column(rules.API_GOODPUT, "sum"),
    Column(rules.API_SHED_RATE, "sum"),
    Column(rules.ORDERS_BACKPRESSURE_RATE, "sum"),
    Column(rules.SERVICE_REPLICAS, "sum", by="job", prefix="replicas"),
    Column(rules.PROCESS_CPU, "sum", by="service", prefix="cpu"),
    Column(rules.PROCESS_MEMORY, "sum", by="service", prefix="mem"),
    Column(rules.DEPENDENCY_AMPLIFICATION, "max", by="dependency", prefix="amplification"),
    Column(rules.DEPENDENCY_RETRIES_RATE, "sum", by="dependency", prefix="retries"),
    Column(
        rules.RETRY_BUDGET_EXHAUSTED_RATE, "sum", by="dependency", prefix="retry_budget_exhausted"
    ),
    Column(rules.DEADLINE_EXCEEDED_RATE, "sum", by="dependency", prefix="deadline_exceeded"),
    Column(rules.BREAKER_STATE, "max", by="dependency", prefix="breaker"),
    Column(rules.BREAKER_REJECTED_RATE, "sum", by="dependency", prefix="breaker_rejected"),
    Column(rules.APP_FAULTS, "sum", by="kind", prefix="app_faults"),
)


@dataclass(frozen=True)
class Table:
    """The columns of ``timeseries.csv`` before they are written: a time grid and one
    list of values (None: missing) per column, as long as the grid."""

    t: list[float]
    columns: Mapping[str, list[float | None]]


def collect(prom: RangeQuery, start: float, end: float, step: float) -> Table:
    """Range-query every rule over ``[start, end]`` on a grid of ``step`` seconds.

    Raises what ``prom`` raises (``PrometheusError``) when a query fails.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    grid = [start + i * step for i in range(int((end - start) // step) + 1)]
    columns: dict[str, list[float | None]] = {}
    for spec in COLUMNS:
        if spec.by is None:
            columns[spec.name] = [None] * len(grid)  # a rule without data is an empty column
        for series in prom.query_range(spec.expr, start, end, step):
            values = columns.setdefault(spec.column(series.labels), [None] * len(grid))
            for t, value in series.points:
                i = round((t - start) / step)
                if 0 <= i < len(grid) and math.isfinite(value):
                    values[i] = value
    return Table(grid, columns)


def write_timeseries(
    path: Path, t: Sequence[float], columns: Mapping[str, Sequence[float | None]]
) -> None:
    names = list(columns)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["t", *names])
    for i, ti in enumerate(t):
        cells = ("" if (v := columns[n][i]) is None else format(v, ".10g") for n in names)
        writer.writerow([f"{ti:.3f}", *cells])
    atomic_write_text(path, out.getvalue())


@dataclass(frozen=True)
class TimeSeries:
    """``timeseries.csv`` in memory: times in unix seconds, NaN where a value is missing."""

    t: tuple[float, ...]
    columns: Mapping[str, tuple[float, ...]]

    def get(self, rule_or_column: str) -> tuple[float, ...] | None:
        """A column by its name or its rule (``lab:api_requests:rate10s``); None if absent
        or holding no value at all."""
        values = self.columns.get(column_name(rule_or_column))
        if values is None or all(math.isnan(v) for v in values):
            return None
        return values

    def by_prefix(self, prefix: str) -> dict[str, tuple[float, ...]]:
        """Per-label columns: ``by_prefix("cpu")`` → ``{"api": ..., "worker": ...}``."""
        start = f"{prefix}_"
        return {
            name.removeprefix(start): values
            for name, values in self.columns.items()
            if name.startswith(start) and not all(math.isnan(v) for v in values)
        }

    def peak(self, rule_or_column: str) -> float | None:
        values = self.get(rule_or_column)
        finite = [v for v in values or () if not math.isnan(v)]
        return max(finite) if finite else None


def read_timeseries(path: Path) -> TimeSeries:
    """Read a ``timeseries.csv``; malformed cells count as missing values."""
    with path.open(newline="", encoding="utf-8") as src:
        rows = list(csv.reader(src))
    if not rows or not rows[0] or rows[0][0] != "t":
        raise ValueError(f"{path}: not a timeseries.csv (the header must start with `t`)")
    names = rows[0][1:]
    data = [row for row in rows[1:] if row and _number(row[0]) is not None]
    t = tuple(_number(row[0]) or 0.0 for row in data)
    columns = {name: tuple(_cell(row, i + 1) for row in data) for i, name in enumerate(names)}
    return TimeSeries(t, columns)


def _cell(row: list[str], index: int) -> float:
    value = _number(row[index]) if index < len(row) else None
    return math.nan if value is None else value


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
