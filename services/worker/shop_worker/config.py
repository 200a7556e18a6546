"""Worker settings from ``LAB_*`` variables (same rules as the API's, see shop_api.config)."""

from __future__ import annotations

from pydantic import Field

from shop_api.config import Connections


class WorkerSettings(Connections):
    """One worker process."""

    # Containers serve metrics on every interface (compose leaves this unset);
    # the native runtime always passes 127.0.0.1.
    worker_host: str = "0.0.0.0"  # noqa: S104
    worker_metrics_port: int = Field(9100, ge=1, le=65535)
    worker_work_ms: float = Field(20.0, ge=0, le=600_000)
    worker_ack_wait_s: float = Field(10.0, ge=0.5, le=3600)
    slo_seconds: float = Field(0.25, gt=0, le=60)

    @property
    def heartbeat_s(self) -> float:
        """How often a live worker tells JetStream it is still on a message
        (``in_progress``), so only a dead worker's message is redelivered."""
        return max(0.1, self.worker_ack_wait_s / 3)
