"""The lab's own exporter: CPU and memory of every process a native lab runs.

Run as ``python -m lab.metrics.procstats --state-file .lab/state.json --port N``. On each
scrape it reads the state file (so scaled, killed and restarted instances show at once)
and measures each instance's whole process tree: PostgreSQL does its work in forked
backends, so the postmaster alone would read near zero.

``lab_process_cpu_seconds_total`` must stay a counter although backends come and go: the
collector keeps each instance's total and adds only the CPU each pid used since the last
scrape, so a pid that exits never makes the counter go down.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from lab.metrics.counters import MonotonicTotal
from lab.runtime.native.state import ProcRecord, StateStore

LABELS = ("service", "instance")


def tree_cpu(tree: list[psutil.Process]) -> dict[tuple[int, float], float]:
    """CPU seconds used so far by each live process of a tree, keyed by (pid, start time)."""
    readings: dict[tuple[int, float], float] = {}
    for proc in tree:
        try:
            with proc.oneshot():
                key = (proc.pid, proc.create_time())
                times = proc.cpu_times()
        except psutil.Error:
            continue
        readings[key] = times.user + times.system
    return readings


class ProcessCollector(Collector):
    def __init__(self, state_file: Path) -> None:
        self.store = StateStore(state_file.parent)
        self.cpu: dict[str, MonotonicTotal[tuple[int, float]]] = {}
        self.lock = threading.Lock()

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        cpu = CounterMetricFamily(
            "lab_process_cpu_seconds", "CPU time used by an instance's process tree", labels=LABELS
        )
        memory = GaugeMetricFamily(
            "lab_process_resident_memory_bytes",
            "Resident memory of an instance's process tree",
            labels=LABELS,
        )
        count = GaugeMetricFamily(
            "lab_process_tree_processes", "Processes in an instance's tree", labels=LABELS
        )
        state = self.store.load()
        with self.lock:
            children = _children_by_parent()  # one /proc scan per scrape, not one per instance
            for rec in state.instances.values() if state else ():
                tree = _tree(rec, children)
                labels = [rec.service, rec.name]
                total = self.cpu.setdefault(rec.name, MonotonicTotal()).update(tree_cpu(tree))
                cpu.add_metric(labels, total)
                memory.add_metric(labels, float(sum(_rss(p) for p in tree)))
                count.add_metric(labels, float(len(tree)))
        yield cpu
        yield memory
        yield count


def _children_by_parent() -> dict[int, list[psutil.Process]]:
    children: dict[int, list[psutil.Process]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info["ppid"]
        if ppid:
            children.setdefault(ppid, []).append(proc)
    return children


def _tree(rec: ProcRecord, children: dict[int, list[psutil.Process]]) -> list[psutil.Process]:
    root = rec.process()
    if root is None:
        return []
    tree, frontier = [root], [root]
    while frontier:
        found = children.get(frontier.pop().pid, [])
        tree.extend(found)
        frontier.extend(found)
    return tree


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    REGISTRY.register(ProcessCollector(args.state_file))
    server, thread = start_http_server(args.port, addr=args.host)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    thread.join(timeout=2)


if __name__ == "__main__":
    main()
