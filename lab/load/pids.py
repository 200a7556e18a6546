"""The Locust processes a driver started, on disk, so a later orchestrator can end them.

``<workdir>/pids.json`` is rewritten atomically when the master starts and again once its
workers are known. A process is ours only if its pid AND its start time match the record
(``ProcRecord.process``): a reused pid is never signalled.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from lab import process_groups
from lab.fsio import atomic_write_json
from lab.process_groups import ProcRecord, records_from_json
from lab.settings import Settings

log = logging.getLogger(__name__)

PIDS_FILE = "pids.json"


def workdir_of(settings: Settings) -> Path:
    """The load generator's folder in the lab home (``.lab/locust``)."""
    return settings.state_dir / "locust"


def reap_leftovers(settings: Settings) -> None:
    """End the Locust of an orchestrator that was killed before it could (``lab down``)."""
    reap_stale(workdir_of(settings))


def save(workdir: Path, records: list[ProcRecord]) -> None:
    atomic_write_json(workdir / PIDS_FILE, [asdict(r) for r in records])


def load(workdir: Path) -> list[ProcRecord]:
    """The recorded processes; an empty list when there is no (readable) file."""
    try:
        raw = json.loads((workdir / PIDS_FILE).read_text(encoding="utf-8"))
        return records_from_json(raw)
    except (OSError, ValueError, TypeError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("ignoring unreadable %s: %s", workdir / PIDS_FILE, exc)
        return []


def forget(workdir: Path) -> None:
    (workdir / PIDS_FILE).unlink(missing_ok=True)


def reap_stale(workdir: Path) -> None:
    """SIGKILL the Locust processes recorded in ``workdir/pids.json`` that still run
    (pid and start time both match), with their process groups; then forget them.

    For leftovers of an orchestrator that was killed before it could stop Locust.
    Never raises for a missing or broken file.
    """
    records = load(workdir)
    for record in records:  # the master first: its group holds the forked workers
        if record.alive():
            log.info("killing stale Locust process %s (pid %s)", record.name, record.pid)
            process_groups.kill(record)
    forget(workdir)
