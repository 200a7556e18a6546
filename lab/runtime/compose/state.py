"""What a compose lab keeps under ``.lab/`` (beside ``lab.runtime.home``'s lock and marker).

``compose.json`` keeps the desired replica counts (every ``docker compose up`` must pass
them again, or Compose would reset each service to its ``deploy.replicas``), the active
profiles and the instances stopped on purpose; ``compose.env`` is the ``--env-file`` that
turns settings into compose.yaml's ``${LAB_...}`` variables (the knobs, the published
ports, and the scrape-target folder that Prometheus mounts).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.fsio import atomic_write_json, atomic_write_text
from lab.runtime.common import knob_env
from lab.runtime.home import targets_dir
from lab.settings import Settings

STATE_FILE = "compose.json"
ENV_FILE = "compose.env"


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


def compose_env(settings: Settings) -> dict[str, str]:
    """compose.yaml's variables: ``LAB_*`` of the environment (images...), then the
    settings (knobs, default replicas, ports, the scrape-target folder)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("LAB_")}
    env.update(knob_env(settings))
    env.update(
        {
            "LAB_LB_PORT": str(settings.lb_port),
            "LAB_PROMETHEUS_PORT": str(settings.prometheus_port),
            "LAB_LOCUST_PORT": str(settings.locust_port),
            "LAB_GRAFANA_PORT": str(settings.grafana_port),
            "LAB_SCRAPE_TARGETS_DIR": str(targets_dir(settings.state_dir)),
        }
    )
    return env


def write_env_file(settings: Settings) -> Path:
    """(Re)write ``compose.env``; values are quoted so no shell or compose syntax leaks."""
    path = settings.state_dir / ENV_FILE
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}={json.dumps(value)}" for key, value in sorted(compose_env(settings).items())]
    text = "\n".join(lines) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return path
