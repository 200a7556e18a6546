"""What a compose lab keeps under ``.lab/`` (beside ``lab.runtime.home``'s lock and marker).


``compose.json`` keeps the desired replica counts (every ``docker compose up`` must pass
them again, or Compose would reset each service to its ``deploy.replicas``), the active
profiles and the instances stopped on purpose; ``compose.env`` is the ``--env-file`` that
turns settings into compose.yaml's ``${LAB_...}`` variables (the knobs, the published
ports, and the scrape-target folder that Prometheus mounts).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.fsio import atomic_write_json
from lab.runtime.docker_common import ENV_FILE

STATE_FILE = "compose.json"


@dataclass
class ComposeState:
    project: str
    replicas: dict[str, int] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)  # instances stopped on purpose


def load_state(state_dir: Path) -> ComposeState | None:
    try:
        raw = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return ComposeState(
        project=str(raw.get("project", "")),
        replicas={str(k): int(v) for k, v in raw.get("replicas", {}).items()},
        profiles=[str(p) for p in raw.get("profiles", [])],
        stopped=[str(s) for s in raw.get("stopped", [])],
    )


def save_state(state_dir: Path, state: ComposeState) -> None:
    atomic_write_json(state_dir / STATE_FILE, asdict(state))


def clear(state_dir: Path) -> None:
    for name in (STATE_FILE, ENV_FILE):
        (state_dir / name).unlink(missing_ok=True)
