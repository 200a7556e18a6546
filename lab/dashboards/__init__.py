"""The lab's Grafana dashboards as code (grafana-foundation-sdk, Grafana's own SDK).

One module per dashboard (``overview``, ``api``, ``queue``, ``data``, ``lb``) lists its rows,
panels and PromQL; ``panels`` holds the shapes they share. ``python -m lab.dashboards``
writes ``dashboards/<uid>.json``, which Grafana provisions under Compose
(services/grafana/provisioning); ``--check`` fails when the committed JSON is stale or
does not fit Grafana's schema (``schema``). Edit the Python, never the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from lab.dashboards import api, data, lb, overview, queue

BUILDERS: dict[str, Callable[[], Dashboard]] = {
    overview.UID: overview.build,
    api.UID: api.build,
    queue.UID: queue.build,
    data.UID: data.build,
    lb.UID: lb.build,
}
"""Every dashboard by uid; the uid is also its file name."""


def default_dir() -> Path:
    """The repository's ``dashboards/`` folder (mounted into Grafana by compose.yaml)."""
    return Path(__file__).resolve().parent.parent.parent / "dashboards"


def render(board: Dashboard) -> str:
    """The dashboard as Grafana reads it: indented JSON with a final newline."""
    return json.dumps(board, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name → content, for every dashboard."""
    return {f"{uid}.json": render(build()) for uid, build in BUILDERS.items()}
