"""The native lab's restart policies: a small process that watches the others.

Docker restarts a crashed container by its ``restart:`` policy; natively nothing would,
because no ``lab`` command runs between commands. ``lab up`` starts this process last
(``lab-supervisor-1``, in state.json like any instance, carrying the lab home's marker)
and ``lab down`` stops it first. Every ``POLL_S`` it reads state.json and, for each
instance that should run (``desired == "running"``) but is gone, asks its
``RestartManager`` (Docker's backoff) whether and when to bring it back, then calls
``NativeRuntime.respawn`` under the lab lock: same port, readiness check, and for an
API replica HAProxy takes it back. A manual ``lab stop`` sets ``desired = "stopped"``
first, so it is never undone; a paused process is alive, so it is left alone.

It keeps nothing the lab needs in memory: every process it starts is recorded in
state.json at once, so if it is killed itself ``lab down`` still finds them all (and
``lab status`` shows it exited). Restarts are one at a time.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from lab import proc
from lab.errors import LabError
from lab.events import EventLog
from lab.runtime.native.restart import RestartManager
from lab.runtime.native.runtime import SUPERVISOR_NAME, NativeRuntime
from lab.runtime.native.state import NativeState
from lab.settings import Settings

POLL_S = 0.1
log = logging.getLogger("lab.supervisor")


class Supervisor:
    def __init__(self, runtime: NativeRuntime, *, poll_s: float = POLL_S) -> None:
        self.runtime = runtime
        self.poll_s = poll_s
        self.events = EventLog(runtime.settings.state_dir / "events.jsonl")
        self.managers: dict[str, RestartManager] = {}
        self.handled: dict[str, float | None] = {}  # instance -> start time of its last exit
        self.due: dict[str, float] = {}  # instance -> monotonic time of its restart

    def run(self, ready_file: Path | None = None) -> None:
        """Watch until the lab is taken down (its state file is gone)."""
        if ready_file is not None:
            ready_file.touch()
        while (state := self.runtime.store.load()) is not None:
            self.tick(state)
            time.sleep(self.poll_s)
        log.info("the lab is down; supervisor exits")

    def tick(self, state: NativeState) -> None:
        now = time.monotonic()
        for name, rec in state.instances.items():
            if rec.service == SUPERVISOR_NAME:
                continue
            if rec.desired != "running":  # stopped on purpose; a later start resets it
                self.managers.pop(name, None)
                self.due.pop(name, None)
                continue
            if rec.alive():
                self.due.pop(name, None)
                continue
            if self.handled.get(name) != rec.create_time:  # a new exit
                self.handled[name] = rec.create_time
                self._decide(name, rec.service, rec.pid, rec.create_time, now)
            if name in self.due and now >= self.due[name]:
                del self.due[name]
                self._restart(name)
        proc.reap()

    def _decide(
        self, name: str, service: str, pid: int | None, started: float | None, now: float
    ) -> None:
        policy = self.runtime.policy(service)
        manager = self.managers.setdefault(name, RestartManager(policy))
        code = proc.exit_code(pid) if pid is not None else None
        ran = time.time() - started if started is not None else 0.0
        delay = manager.should_restart(code, ran)
        how = "exit code unknown" if code is None else f"exit code {code}"
        if delay is None:
            log.info("%s exited (%s); restart: %s, it stays down", name, how, policy)
            self.events.emit(
                "exited", f"{name} exited; restart: {policy}", instance=name, tags=("heal", name)
            )
            return
        self.due[name] = now + delay
        log.info("%s exited (%s); restarting in %.1f s (restart: %s)", name, how, delay, policy)
        self.events.emit(
            "restarting",
            f"{name} exited; restart in {delay:g} s (restart: {policy})",
            instance=name,
            delay_s=delay,
            restart_count=manager.restart_count,
            tags=("heal", name),
        )

    def _restart(self, name: str) -> None:
        began = time.monotonic()
        try:
            rec = self.runtime.respawn(name)
        except LabError as exc:
            log.warning("%s did not come back: %s", name, exc)
            self.handled.pop(name, None)  # its next state (a new exit) is decided again
            return
        if rec is None:
            return
        took = time.monotonic() - began
        log.info("%s restarted (pid %s), ready in %.2f s", name, rec.pid, took)
        self.events.emit(
            "restarted",
            f"{name} restarted and ready in {took:.2f} s",
            instance=name,
            ready_s=round(took, 3),
            tags=("heal", name),
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", type=Path, required=True, help="the lab's settings JSON")
    parser.add_argument("--ready-file", type=Path, help="touched once watching")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings.model_validate_json(args.settings.read_text(encoding="utf-8"))
    Supervisor(NativeRuntime(settings)).run(args.ready_file)


if __name__ == "__main__":
    main()
