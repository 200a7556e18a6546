"""The lab's generated secrets: which there are, and making the missing ones.

Compose's one-shot ``secrets`` service (``lab.agents.secrets``) writes them into its
volume; the swarm runtime writes them beside its state and creates Swarm secrets from them.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from lab.fsio import atomic_write_text

NAMES = (
    "pg_password",
    "redis_password",
    "nats_password",
    "grafana_password",
    "api_admin_token",
)


def ensure_secrets(folder: Path) -> list[str]:
    """Create each missing password file; return the names created."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    created = []
    for name in NAMES:
        path = folder / name
        if path.exists() and path.read_text(encoding="utf-8").strip():
            continue
        # URL-safe: the passwords end up in DSNs and command lines.
        atomic_write_text(path, secrets.token_urlsafe(24), mode=0o644)
        created.append(name)
    return created
