"""The lab's own exporter: CPU and memory of every process a native lab runs.

Run as ``python -m lab.agents.process_exporter --state-file .lab/state.json --port N``
(the native runtime starts it as ``lab-exporter``). On each scrape it reads the state
file (so scaled, killed and restarted instances show at once) and measures each
instance's whole process tree: PostgreSQL does its work in forked backends, so the
postmaster alone would read near zero. Each pid is a CPU source of its instance
(``lab.agents.usage``), so a backend that exits never makes the counter go down.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import psutil

from lab.agents.usage import Usage, UsageCollector, serve
from lab.process_groups import ProcRecord, records_from_json


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


class ProcessCollector(UsageCollector):
    what = "an instance's process tree"

    def __init__(self, state_file: Path) -> None:
        super().__init__()
        self.state_file = state_file

    def sample(self) -> list[Usage]:
        children = _children_by_parent()  # one /proc scan per scrape, not one per instance
        found = []
        for rec in recorded(self.state_file):
            tree = _tree(rec, children)
            rss = float(sum(_rss(p) for p in tree))
            found.append(Usage(rec.service, rec.name, tree_cpu(tree), rss, len(tree)))
        return found


def recorded(state_file: Path) -> list[ProcRecord]:
    """The instances a native lab recorded (``instances`` of its state file); none while
    the file is missing or half-written."""
    try:
        raw = json.loads(state_file.read_text(encoding="utf-8"))
        return records_from_json(raw.get("instances", {}).values())
    except (OSError, ValueError, TypeError):
        return []


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
    parser = argparse.ArgumentParser(prog="python -m lab.agents.process_exporter")
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(ProcessCollector(args.state_file), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
