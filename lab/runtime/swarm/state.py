"""What a swarm lab keeps under ``.lab/``: ``swarm.json`` and the secrets it generated.

``swarm.json`` holds the stack's name, the desired replica counts, the instances stopped
on purpose, the Locust workers deployed with it, and whether ``lab up`` initialised the
swarm (then ``lab down`` leaves it again; a swarm the lab found is never touched).
``swarm-secrets/`` holds the generated passwords (0600) the Swarm secrets are created
from: Swarm never gives a secret back, and the lab reads its own (``read_secret``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.fsio import atomic_write_json

STATE_FILE = "swarm.json"
STACK_FILE = "stack.yaml"
SECRETS_DIR = "swarm-secrets"


@dataclass
class SwarmState:
    stack: str
    replicas: dict[str, int] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)  # instances stopped on purpose
    load_workers: int = 0
    load_master: str = ""  # host:port the load workers join (lab.load.driver's master)
    created_swarm: bool = False
    profiles: list[str] = field(default_factory=list)


def load_state(state_dir: Path) -> SwarmState | None:
    try:
        raw = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return SwarmState(
        stack=str(raw.get("stack", "")),
        replicas={str(k): int(v) for k, v in raw.get("replicas", {}).items()},
        stopped=[str(s) for s in raw.get("stopped", [])],
        load_workers=int(raw.get("load_workers", 0)),
        load_master=str(raw.get("load_master", "")),
        created_swarm=bool(raw.get("created_swarm", False)),
        profiles=[str(p) for p in raw.get("profiles", [])],
    )


def save_state(state_dir: Path, state: SwarmState) -> None:
    atomic_write_json(state_dir / STATE_FILE, asdict(state))


def clear(state_dir: Path, *, secrets: bool) -> None:
    for name in (STATE_FILE, STACK_FILE):
        (state_dir / name).unlink(missing_ok=True)
    if secrets:
        shutil.rmtree(state_dir / SECRETS_DIR, ignore_errors=True)
