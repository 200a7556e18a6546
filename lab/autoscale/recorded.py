"""A finished run's autoscaler record, read back for the replay.

The controller leaves ``autoscale/policy.json`` (the ``Policy`` that ran) and
``autoscale/decisions.jsonl`` (one ``Decision.to_json()`` per sync per service) in the run
folder; the run's own ``timeseries.csv`` and ``verdict.json`` add what was measured (the
API's p95 against the SLO, the workers' throughput). A missing folder or record is a
``ConfigError`` naming the path; a torn last line (a crash mid-write) is skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import defaults, rules
from lab.autoscale.hpa import Decision, Sample
from lab.autoscale.policy import Policy, parse_policy
from lab.errors import ConfigError, LabError
from lab.run.folder import TIMESERIES_FILE, VERDICT_FILE
from lab.run.reader import read_verdict
from lab.run.timeseries import TimeSeries, read_timeseries

log = logging.getLogger(__name__)
AUTOSCALE_DIR = "autoscale"
POLICY_FILE = f"{AUTOSCALE_DIR}/policy.json"
DECISIONS_FILE = f"{AUTOSCALE_DIR}/decisions.jsonl"
REACTIONS_FILE = f"{AUTOSCALE_DIR}/reactions.jsonl"  # each scale-up, timed


@dataclass(frozen=True)
class Recording:
    """What the autoscaler saw and did in one run, and what the run measured."""

    dir: Path
    policy: Policy
    decisions: tuple[Decision, ...]  # in time order
    series: TimeSeries | None
    slo_seconds: float
    slo_source: str  # "verdict.json" or "the lab's default"
    serving: tuple[tuple[str, float], ...] = ()  # (service, decision → new capacity serving)

    def of(self, service: str) -> list[Decision]:
        return [d for d in self.decisions if d.service == service]

    def serving_delays(self, service: str) -> list[float]:
        return [s for name, s in self.serving if name == service]

    def seconds_above(self, rule: str, threshold: float, start: float, end: float) -> float | None:
        """Seconds in [start, end) where the column of ``rule`` was above ``threshold``
        (each row standing for the time to the next); None without that column."""
        values = self.series.get(rule) if self.series else None
        if self.series is None or values is None:
            return None
        t = self.series.t
        total = 0.0
        for i, (ti, v) in enumerate(zip(t, values, strict=True)):
            step = t[i + 1] - ti if i + 1 < len(t) else (t[i] - t[i - 1] if i else 1.0)
            if start <= ti < end and not math.isnan(v) and v > threshold:
                total += step
        return total

    def worker_rate(self) -> float | None:
        """Orders one worker processes per second while there is a backlog: the median of
        processed/s ÷ workers over the seconds with a queue (None: not measurable)."""
        if self.series is None:
            return None
        done, workers = (
            self.series.get(rules.ORDERS_PROCESSED_RATE),
            (self.series.get(rules.WORKER_REPLICAS)),
        )
        depth = self.series.get(rules.QUEUE_DEPTH)
        if done is None or workers is None or depth is None:
            return None
        rates = [
            d / w
            for d, w, q in zip(done, workers, depth, strict=True)
            if w > 0 and q > 0 and d > 0 and not math.isnan(d + w + q)
        ]
        return statistics.median(rates) if rates else None


def read_recording(run_dir: Path) -> Recording:
    if not run_dir.is_dir():
        raise ConfigError(f"no run folder {run_dir}", hint="`lab runs` lists the runs")
    policy_path, decisions_path = run_dir / POLICY_FILE, run_dir / DECISIONS_FILE
    for path in (decisions_path, policy_path):
        if not path.is_file():
            raise ConfigError(
                f"{path} not found: the run has no autoscaler record",
                hint="replay needs a run made with the autoscaler on (`lab autoscale on`)",
            )
    try:
        policy = parse_policy(json.loads(policy_path.read_text()), source=str(policy_path))
    except ValueError as exc:
        raise ConfigError(f"{policy_path} is not JSON: {exc}") from exc
    decisions = read_decisions(decisions_path)
    if not decisions:
        raise ConfigError(f"{decisions_path} holds no decision", hint="nothing to replay")
    slo, source = defaults.SLO_SECONDS, "the lab's default"
    with contextlib.suppress(LabError):
        slo, source = read_verdict(run_dir / VERDICT_FILE).slo_seconds, VERDICT_FILE
    series = None
    if (run_dir / TIMESERIES_FILE).is_file():
        try:
            series = read_timeseries(run_dir / TIMESERIES_FILE)
        except (OSError, ValueError) as exc:
            log.warning("timeseries ignored: %s", exc)
    serving = tuple(read_serving(run_dir / REACTIONS_FILE))
    return Recording(run_dir, policy, tuple(decisions), series, slo, source, serving)


def read_serving(path: Path) -> list[tuple[str, float]]:
    """From each timed scale-up (``lab.run.scaling.ScaleUp``): the seconds from the
    decision to the new capacity serving (the API's first request; a worker once ready)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
            service, decided = str(r["service"]), float(r["decided"])
            serving = r.get("served") if service == "api" else r.get("ready")
            if serving is None or r.get("error"):
                continue
            out.append((service, float(serving) - decided))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def read_decisions(path: Path) -> list[Decision]:
    decisions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            decisions.append(decision_from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            log.warning("%s:%d: not a decision, skipped", path, number)
    return sorted(decisions, key=lambda d: d.t)


def decision_from_json(raw: Mapping[str, Any]) -> Decision:
    """The reverse of ``Decision.to_json`` (raises KeyError/TypeError/ValueError)."""
    samples: Sequence[Mapping[str, Any]] = raw.get("samples") or []
    return Decision(
        t=float(raw["t"]),
        service=str(raw["service"]),
        metric=str(raw["metric"]),
        target=float(raw["target"]),
        current=int(raw["current"]),
        samples=tuple(
            Sample(str(s["replica"]), _float(s.get("value")), bool(s.get("ready", True)))
            for s in samples
        ),
        value=_float(raw.get("value")),
        ratio=_float(raw.get("ratio")),
        formula=str(raw.get("formula") or ""),
        raw=int(raw["raw"]),
        stabilised=int(raw["stabilised"]),
        result=int(raw["result"]),
        reason=str(raw.get("reason") or ""),
    )


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
