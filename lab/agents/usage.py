"""What both CPU/memory exporters share: the series, the collector base, the serve loop.

Both report, per instance of the lab (``service``, ``instance`` = ``api-2``)::

    lab_process_cpu_seconds_total{service,instance}      counter
    lab_process_resident_memory_bytes{service,instance}  gauge
    lab_process_tree_processes{service,instance}         gauge (native only)

``UsageCollector`` turns a subclass's ``sample()`` into those families at every scrape.
The CPU counter must never go down although the sources behind an instance change
(Postgres backends exit, a container is replaced, a cgroup restarts at zero): Prometheus
reads any decrease as a counter reset and would count the whole total again. So each
instance keeps a ``MonotonicTotal`` that adds only what every source used since it was
last seen.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LABELS = ("service", "instance")

Source = TypeVar("Source", bound=Hashable)  # (pid, start time), a container id, ...


@dataclass
class MonotonicTotal(Generic[Source]):
    total: float = 0.0
    seen: dict[Source, float] = field(default_factory=dict)

    def update(self, readings: Mapping[Source, float]) -> float:
        """Add each source's growth since the last reading; a new or restarted source
        (no earlier reading, or a smaller one) adds all it has used. Returns the total."""
        for key, value in readings.items():
            before = self.seen.get(key, 0.0)
            self.total += value - before if value >= before else value
        self.seen = dict(readings)
        return self.total


@dataclass(frozen=True)
class Usage:
    """One instance's reading: CPU seconds used so far by each of its sources."""

    service: str
    instance: str
    cpu: Mapping[Any, float]  # source (pid and start time, container id) → CPU seconds
    rss_bytes: float
    processes: int | None = None  # None: the exporter does not count processes


class UsageCollector(Collector):
    """Base of both exporters: subclasses say what they measure in ``sample()``."""

    what = "the instance"  # completes each series' help text

    def __init__(self) -> None:
        self._totals: dict[str, MonotonicTotal[Hashable]] = {}
        self._lock = threading.Lock()  # scrapes may overlap

    def sample(self) -> list[Usage]:
        raise NotImplementedError

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        cpu = CounterMetricFamily(
            "lab_process_cpu_seconds", f"CPU time used by {self.what}", labels=LABELS
        )
        memory = GaugeMetricFamily(
            "lab_process_resident_memory_bytes", f"Resident memory of {self.what}", labels=LABELS
        )
        count = GaugeMetricFamily(
            "lab_process_tree_processes", f"Processes in {self.what}", labels=LABELS
        )
        counted = False
        with self._lock:
            for usage in self.sample():
                labels = [usage.service, usage.instance]
                total = self._totals.setdefault(usage.instance, MonotonicTotal())
                cpu.add_metric(labels, total.update(usage.cpu))
                memory.add_metric(labels, usage.rss_bytes)
                if usage.processes is not None:
                    counted = True
                    count.add_metric(labels, float(usage.processes))
        yield cpu
        yield memory
        if counted:
            yield count


def serve(collector: UsageCollector, *, host: str, port: int) -> None:
    """Serve ``collector`` on ``http://host:port/metrics`` until SIGTERM or SIGINT."""
    REGISTRY.register(collector)
    server, thread = start_http_server(port, addr=host)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    server.server_close()
    thread.join(timeout=2)
