"""What a replay found: per service, the policy that ran and the replayed one, scored."""

from __future__ import annotations

from dataclasses import dataclass

from lab.autoscale.fleet import Run


@dataclass(frozen=True)
class Track:
    """One policy's replicas over a run, and their score under the model."""

    label: str
    run: Run
    over_slo_s: float | None = None  # API: modelled seconds over capacity
    peak_lag: float | None = None  # workers: modelled peak lag
    measured: float | None = None  # recorded only: p95 seconds above the SLO / peak lag

    @property
    def replica_seconds(self) -> float:
        return self.run.replica_seconds

    @property
    def scale_events(self) -> int:
        return self.run.scale_events


@dataclass(frozen=True)
class ServiceReplay:
    service: str
    t: tuple[float, ...]  # seconds since the service's first recorded sync
    signal: tuple[float, ...]  # drawn with the replicas
    signal_label: str
    recorded: Track
    replayed: Track
    measured_label: str  # what ``Track.measured`` is


@dataclass(frozen=True)
class Model:
    """The replay's assumptions, with where each number comes from."""

    delays: tuple[tuple[str, float, str], ...]  # (service, seconds, where from)
    capacity: float | None
    capacity_source: str
    worker_rate: float | None
    worker_rate_source: str

    def delay(self, service: str) -> float:
        return next(seconds for name, seconds, _ in self.delays if name == service)

    def lines(self) -> list[str]:
        out = [
            "model: demand = per-replica metric × ready replicas at each recorded sync, "
            "independent of the replica count (open loop); a replayed fleet of R ready "
            "replicas sees demand ÷ R each"
        ]
        out += [
            f"{name} start delay {seconds:.3g} s ({source}): a new replica costs from the "
            "decision, serves after the delay"
            for name, seconds, source in self.delays
        ]
        if self.capacity is not None:
            out.append(
                f"over SLO = seconds with demand ÷ ready replicas > capacity "
                f"{self.capacity:g} per replica ({self.capacity_source})"
            )
        if self.worker_rate is not None:
            out.append(
                f"workers: fluid lag, {self.worker_rate:.3g} orders/s per ready worker "
                f"({self.worker_rate_source}); arrivals from the recorded lag"
            )
        return out
