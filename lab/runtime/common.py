"""What the native and the compose runtime share; each imports this, never the other.

``RuntimeBase`` holds the rules both follow: which services scale and how far, the
default replica counts, the fixed user-facing ports, ``api`` reached through ``lb``,
stop/kill/start as one change under the lab lock, the runtime marker, and scrape-target
registration for programs that run outside the lab (the load generator). ``knob_env`` is
the one mapping from settings to compose.yaml's ``${LAB_...}`` knobs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Literal

from lab.defaults import MAX_REPLICAS, NET_LINKS
from lab.errors import ConfigError, LabStateError
from lab.metrics.promconfig import write_targets
from lab.runtime import home
from lab.settings import Settings
from lab.topology import ServiceGraph
from lab.wait import port_free

ENDPOINT_ALIASES = {"api": "lb"}  # users reach the API through the load balancer
FIXED_PORTS = (("lb", "lb_port"), ("prometheus", "prometheus_port"))  # key, Settings field
# Prometheus jobs whose targets are not lab services but programs registered while they
# run (``add_scrape_target``); both Prometheus configs read them from file_sd.
REGISTERED_JOBS = frozenset({"locust"})

Action = Literal["stop", "kill", "start"]


def knob_env(settings: Settings) -> dict[str, str]:
    """compose.yaml's ``${LAB_...}`` knobs from the settings (the settings win over the
    process environment, and over compose.yaml's own defaults)."""
    return {
        "LAB_API_WORK": settings.api_work,
        "LAB_API_WORK_MS": f"{settings.api_work_ms:g}",
        "LAB_API_CONCURRENCY": str(settings.api_concurrency),
        "LAB_CACHE_TTL_S": f"{settings.cache_ttl_s:g}",
        "LAB_CACHE_SINGLE_FLIGHT": "1" if settings.cache_single_flight else "0",
        "LAB_DB_WORK": settings.db_work,
        "LAB_DB_QUERY_MS": f"{settings.db_query_ms:g}",
        "LAB_DB_POOL_SIZE": str(settings.db_pool_size),
        "LAB_PG_MAX_CONNECTIONS": str(settings.pg_max_connections),
        "LAB_SEED_PRODUCTS": str(settings.seed_products),
        "LAB_WORKER_WORK_MS": f"{settings.worker_work_ms:g}",
        "LAB_WORKER_ACK_WAIT_S": f"{settings.worker_ack_wait_s:g}",
        "LAB_SLO_SECONDS": f"{settings.slo_seconds:g}",
        "LAB_API_REPLICAS": str(settings.api_replicas),
        "LAB_WORKER_REPLICAS": str(settings.worker_replicas),
        "LAB_API_DEADLINE_MS": f"{settings.api_deadline_ms:g}",
        "LAB_API_RETRY": settings.api_retry,
        "LAB_API_RETRIES": str(settings.api_retries),
        "LAB_API_RETRY_BUDGET": f"{settings.api_retry_budget:g}",
        "LAB_API_BREAKER": "1" if settings.api_breaker else "0",
        "LAB_API_BREAKER_COOLDOWN_S": f"{settings.api_breaker_cooldown_s:g}",
        "LAB_API_QUEUE_TIMEOUT_MS": f"{settings.api_queue_timeout_ms:g}",
        "LAB_API_MAX_WAITERS": str(settings.api_max_waiters),
        "LAB_ORDERS_MAX_BACKLOG": str(settings.orders_max_backlog),
        **{
            f"LAB_{'PG' if link == 'postgres' else link.upper()}_LINK": (
                "toxiproxy" if settings.net_proxy else link
            )
            for link in NET_LINKS
        },
    }


def endpoint_key(service: str) -> str:
    """The service that serves ``service``'s endpoint (``api`` → ``lb``)."""
    return ENDPOINT_ALIASES.get(service, service)


class RuntimeBase:
    """Shared by ``NativeRuntime`` and ``ComposeRuntime``; each implements ``_change``
    and ``scrape_host``."""

    name: str

    def __init__(self, settings: Settings, graph: ServiceGraph) -> None:
        self.settings = settings
        self.graph = graph

    # -- one change at a time -----------------------------------------------------------

    def stop(self, instance: str) -> None:
        """Stop one instance gracefully (SIGTERM)."""
        self._change(instance, "stop")

    def kill(self, instance: str) -> None:
        """Kill one instance at once (SIGKILL), as a crash: its ``restart:`` policy
        decides whether it comes back (a ``stop`` never does)."""
        self._change(instance, "kill")

    def restart(self, instance: str) -> None:
        """Stop one instance gracefully, start it again, wait until it is ready
        (``docker restart``)."""
        self._change(instance, "stop")
        self._change(instance, "start")

    def start(self, instance: str) -> None:
        """Start a stopped or killed instance again and wait until it is ready."""
        self._change(instance, "start")

    def _change(self, instance: str, action: Action) -> None:
        raise NotImplementedError

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with home.locked(self.settings.state_dir):
            yield

    def _mark_up(self) -> None:
        home.write_marker(self.settings.state_dir, self.name)
        home.write_net_proxy(self.settings.state_dir, self.settings.net_proxy)

    def _mark_down(self) -> None:
        home.clear_marker(self.settings.state_dir)

    # -- scrape targets -----------------------------------------------------------------

    def scrape_host(self) -> str:
        """The address on this machine where a program outside the lab (Locust) must
        serve its metrics for this lab's Prometheus to reach them."""
        raise NotImplementedError

    def add_scrape_target(self, job: str, address: str, labels: Mapping[str, str]) -> None:
        """Make Prometheus scrape ``address`` (``host:port``, the host from
        ``scrape_host``) as the one target of ``job``, within a few seconds, no restart."""
        self._check_registered(job)
        targets = [(address, dict(labels))]
        write_targets(home.targets_dir(self.settings.state_dir), job, targets)

    def remove_scrape_target(self, job: str) -> None:
        """Stop scraping ``job``'s registered target. Safe when there is none."""
        self._check_registered(job)
        write_targets(home.targets_dir(self.settings.state_dir), job, [])

    def _clear_registered_targets(self) -> None:
        for job in sorted(REGISTERED_JOBS):
            self.remove_scrape_target(job)

    @staticmethod
    def _check_registered(job: str) -> None:
        if job not in REGISTERED_JOBS:
            known = ", ".join(sorted(REGISTERED_JOBS))
            raise ConfigError(
                f"Prometheus has no job {job!r} for registered targets",
                hint=f"registered jobs: {known}",
            )

    # -- shared rules -------------------------------------------------------------------

    def _check_scale(self, service: str, replicas: int) -> None:
        if not self.graph.get(service).scalable:
            raise ConfigError(f"{service} does not scale", hint=f"scalable: {self._scalable()}")
        if replicas < 0 or replicas > MAX_REPLICAS:
            raise ConfigError(f"replicas must be between 0 and {MAX_REPLICAS}, not {replicas}")

    def _replicas(self, scales: Mapping[str, int] | None) -> dict[str, int]:
        """Desired replicas: the settings' defaults, then ``scales`` (each checked)."""
        wanted = {"api": self.settings.api_replicas, "worker": self.settings.worker_replicas}
        for service, count in (scales or {}).items():
            self._check_scale(service, count)
            wanted[service] = count
        return wanted

    def _scalable(self) -> str:
        return ", ".join(s.name for s in self.graph.services.values() if s.scalable)

    def _check_fixed_ports(self) -> dict[str, int]:
        """The user-facing ports (LB, Prometheus) must be free; returns key → port."""
        host, found = self.settings.bind_host, {}
        for key, setting in FIXED_PORTS:
            port = int(getattr(self.settings, setting))
            if not port_free(host, port):
                raise LabStateError(
                    f"{host}:{port} (for {key}) is taken by another program",
                    hint=f"free it, or pick another: LAB_{setting.upper()}=... or lab.toml",
                )
            found[key] = port
        return found
