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

import sys
from pathlib import Path

from lab.passwords import ensure_secrets


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m lab.agents.secrets DIR", file=sys.stderr)
        return 2
    created = ensure_secrets(Path(argv[0]))
    print(f"secrets in {argv[0]}: created {', '.join(created) or 'none (kept existing)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
