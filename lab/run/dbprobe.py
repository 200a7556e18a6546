"""How many queries a second this lab's Postgres can serve, measured, not assumed.

    found = probe(dsn, seconds=5, clients=8)
    found.queries_per_s, found.max_connections, found.detail

A short pgbench run (the standard tool; ``postgresql-client`` ships it) of the query a
cache miss costs the API, a primary-key product read, from ``clients`` connections as
fast as they go, read-only and prepared. It measures the database and this machine
together: on a 2-core lab pgbench, Postgres and whatever else runs share the cores, so
the figure is a floor for a dedicated database server, and the capacity plan says so.
``max_connections`` is read from the server itself.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError

READ = "SELECT id, name, price_cents, stock FROM products WHERE id = :id;"
TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


@dataclass(frozen=True)
class DbProbe:
    queries_per_s: float
    max_connections: int
    clients: int
    seconds: float
    detail: str


def probe(dsn: str, *, seconds: float, clients: int, products: int) -> DbProbe:
    """Run pgbench against ``dsn`` for ``seconds``; LabError when it cannot run."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise LabError(
            "pgbench is not installed: the database probe needs it",
            hint="`make setup` installs it (Debian package postgresql-client)",
        )
    max_connections = asyncio.run(_max_connections(dsn))
    with tempfile.TemporaryDirectory(prefix="lab-pgbench-") as tmp:
        script = Path(tmp) / "read.sql"
        script.write_text(f"\\set id random(1, {max(1, products)})\n{READ}\n", encoding="utf-8")
        threads = max(1, min(clients, os.cpu_count() or 1))
        command = [
            pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", str(threads),
            "-T", str(max(1, round(seconds))), "-f", str(script), dsn,
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=seconds + 60, check=False
            )
        except subprocess.TimeoutExpired:
            raise LabError(f"pgbench did not finish within {seconds + 60:g} s") from None
    found = TPS.search(done.stdout)
    if done.returncode != 0 or found is None:
        why = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LabError(f"pgbench failed (exit {done.returncode}): {why[0]}")
    rate = float(found.group(1))
    detail = (
        f"pgbench, {clients} connections for {seconds:g} s of primary-key product reads "
        f"(prepared, read-only): {rate:,.0f} queries/s on this machine, shared with the lab"
    )
    return DbProbe(rate, max_connections, clients, seconds, detail)


async def _max_connections(dsn: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()
