"""What every runtime keeps in the lab home (``settings.state_dir``, ``.lab/``).

    lock        one lab change at a time across shells (``lab scale`` vs ``lab down``)
    runtime     the marker: ``native`` or ``compose`` while a lab is up, so later commands
                in any shell pick the runtime that started it; removed by ``down``
    prometheus/targets/<job>.json
                Prometheus file_sd target files. The native Prometheus reads every job
                from here; the compose one mounts the folder and reads the jobs of
                programs that run outside the lab (the load generator), see
                ``RuntimeBase.add_scrape_target``.

Each runtime keeps its own state beside these (``state.json`` natively, ``compose.json``
and ``compose.env`` under Compose).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

MARKER_FILE = "runtime"
LOCK_FILE = "lock"
RUNTIMES = ("native", "compose", "swarm")


def targets_dir(state_dir: Path) -> Path:
    """Where the lab's Prometheus file_sd target files live."""
    return state_dir / "prometheus" / "targets"


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Serialise changes to the lab across processes (an exclusive ``flock``)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / LOCK_FILE).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


NET_PROXY_FILE = "net_proxy"


def write_marker(state_dir: Path, runtime: str) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / MARKER_FILE).write_text(f"{runtime}\n", encoding="utf-8")


def clear_marker(state_dir: Path) -> None:
    (state_dir / MARKER_FILE).unlink(missing_ok=True)
    (state_dir / NET_PROXY_FILE).unlink(missing_ok=True)


def write_net_proxy(state_dir: Path, on: bool) -> None:
    """Record whether the running lab's links go through Toxiproxy (``net_proxy``), so a
    later shell without the setting still knows."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / NET_PROXY_FILE).write_text("1\n" if on else "0\n", encoding="utf-8")


def recorded_net_proxy(state_dir: Path) -> bool | None:
    """What ``write_net_proxy`` recorded at ``up``; None when no lab recorded it."""
    try:
        return (state_dir / NET_PROXY_FILE).read_text(encoding="utf-8").strip() == "1"
    except FileNotFoundError:
        return None


def recorded_runtime(state_dir: Path) -> str | None:
    """The runtime of the lab recorded in ``state_dir``: set by ``up``, cleared by ``down``
    (also after a crash: a lab that was never taken down is still this runtime's to end)."""
    try:
        name = (state_dir / MARKER_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if name in RUNTIMES else None
