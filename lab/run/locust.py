"""The load generator's own CSVs in a run folder (Locust's ``--csv`` output, copied).

``locust_stats.csv`` holds one row per request name plus ``Aggregated``;
``locust_stats_history.csv`` one ``Aggregated`` row per second (users, current req/s,
current percentiles); ``locust_failures.csv`` one row per distinct error. Times are in
milliseconds in the files and in seconds here. Locust writes ``N/A`` where it has no
value; that is ``None``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class RequestStats:
    """One row of ``locust_stats.csv``."""

    method: str
    name: str
    requests: int
    failures: int
    rps: float | None
    median: float | None  # seconds
    p95: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True)
class HistoryPoint:
    """One ``Aggregated`` row of ``locust_stats_history.csv``."""

    t: float  # unix seconds
    users: int
    rps: float | None
    failures_per_s: float | None
    p50: float | None  # seconds
    p95: float | None


@dataclass(frozen=True)
class Failure:
    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class LocustData:
    requests: tuple[RequestStats, ...] = ()
    history: tuple[HistoryPoint, ...] = ()
    failures: tuple[Failure, ...] = ()

    @property
    def total(self) -> RequestStats | None:
        return next((r for r in self.requests if r.name == AGGREGATED), None)

    @property
    def per_name(self) -> tuple[RequestStats, ...]:
        return tuple(r for r in self.requests if r.name != AGGREGATED)


def read_locust(run_dir: Path) -> LocustData:
    """Whatever of the three files exists; a missing file is an empty part."""
    return LocustData(
        requests=tuple(
            RequestStats(
                method=row.get("Type", ""),
                name=row.get("Name", ""),
                requests=_int(row.get("Request Count")),
                failures=_int(row.get("Failure Count")),
                rps=_float(row.get("Requests/s")),
                median=_ms(row.get("Median Response Time")),
                p95=_ms(row.get("95%")),
                p99=_ms(row.get("99%")),
                max=_ms(row.get("Max Response Time")),
            )
            for row in _rows(run_dir / "locust_stats.csv")
        ),
        history=tuple(
            HistoryPoint(
                t=_float(row.get("Timestamp")) or 0.0,
                users=_int(row.get("User Count")),
                rps=_float(row.get("Requests/s")),
                failures_per_s=_float(row.get("Failures/s")),
                p50=_ms(row.get("50%")),
                p95=_ms(row.get("95%")),
            )
            for row in _rows(run_dir / "locust_stats_history.csv")
            if row.get("Name") == AGGREGATED and _float(row.get("Timestamp")) is not None
        ),
        failures=tuple(
            Failure(
                method=row.get("Method", ""),
                name=row.get("Name", ""),
                error=row.get("Error", ""),
                occurrences=_int(row.get("Occurrences")),
            )
            for row in _rows(run_dir / "locust_failures.csv")
        ),
    )


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8", errors="replace") as src:
        return [{k: v for k, v in row.items() if k is not None} for row in csv.DictReader(src)]


def _float(cell: str | None) -> float | None:
    try:
        value = float(cell or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _int(cell: str | None) -> int:
    value = _float(cell)
    return int(value) if value is not None else 0


def _ms(cell: str | None) -> float | None:
    value = _float(cell)
    return value / 1000 if value is not None else None
