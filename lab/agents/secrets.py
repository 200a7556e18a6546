"""``python -m lab.agents.secrets DIR``: random passwords for the compose stack, made once.

Compose's one-shot ``secrets`` service runs this against the shared ``secrets`` volume
before anything else starts; every service then reads its password from a file
(``*_PASSWORD_FILE``). Existing files are kept, so a restart keeps the passwords that
Postgres' data volume was initialised with.

The files are world-readable *inside the volume*: the images read them as different
non-root users (postgres as uid 999, the exporters as ``nobody``), and only this
project's containers mount the volume.
"""

from __future__ import annotations

import secrets
import sys
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


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m lab.agents.secrets DIR", file=sys.stderr)
        return 2
    created = ensure_secrets(Path(argv[0]))
    print(f"secrets in {argv[0]}: created {', '.join(created) or 'none (kept existing)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
