"""A fake lab, load and metrics for the scenario engine (lab.scenario.ports), on a fake clock.

``World`` is a tiny model of the system under test: closed-loop users each asking
``per_user_rps`` or an open-loop arrival rate, API replicas of ``replica_rps`` capacity
each (optionally a shared cap that no replica count lifts), latency that climbs once
demand passes 80 % of capacity (and keeps climbing past it in an open loop, whose answers
then fall short of the arrivals), new
replicas healthy ``ready_after_s`` after a scale-up, killed or stopped instances down until
started. Every change is an event at a fake time; the fake metrics average the model over
a window exactly as the real ``Measurer`` averages the ``lab:`` rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from lab.autoscale.policy import Policy
from lab.errors import AlreadyRunning
from lab.events import EventLog
from lab.faults.net import NetFault
from lab.load.traffic import Percentiles, Traffic
from lab.run.audit import Audit
from lab.run.scaling import Autoscaling, Scaling
from lab.run.timeseries import Table
from lab.runtime.admin import AppFault
from lab.scenario.measure import MIN_WINDOW_S, Window
from lab.settings import Settings

START = 1_764_000_000.0
SERVICES = {"api": 1, "worker": 2, "lb": 1, "postgres": 1}
_UP = re.compile(r"^lab:(?P<service>[a-z]+)_replicas:up >= (?P<n>\d+)$")


class FakeClock:
    """Time passes only when someone sleeps; ``interrupt_at`` plays Ctrl-C there."""

    def __init__(self, interrupt_at: float | None = None) -> None:
        self.t = START
        self.interrupt_at = interrupt_at

    def time(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t - START

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        if self.interrupt_at is not None and self.t >= self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt


@dataclass(frozen=True)
class State:
    users: int
    up: dict[str, int]  # healthy instances per service
    rate: float | None = None  # open loop: arrivals per second
    steady_s: float = 0.0  # seconds since the load last changed


@dataclass(frozen=True)
class Numbers:
    rps: float
    p95: float | None
    error_ratio: float


@dataclass
class World:
    clock: FakeClock
    per_user_rps: float = 4.0
    replica_rps: float = 100.0
    shared_cap_rps: float | None = None  # something shared (the LB, the DB) saturates here
    # open loop above this share of capacity: a slow queue, p95 + 50 ms per second held
    fragile_above: float | None = None
    max_users: int | None = None  # the load generator cannot run more users than this
    ready_after_s: float = 2.0
    load_cpu_per_user: float = 0.002  # cores
    load_processes: int = 1
    error_ratio: float = 0.0
    orders_drained: bool = True
    planned: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    events: list[tuple[float, str, str, int]] = field(default_factory=list)

    def change(self, kind: str, key: str = "", value: int = 0) -> None:
        self.events.append((self.clock.time(), kind, key, value))

    def state_at(self, t: float) -> State:
        users, up, down, rate, since = 0, dict(SERVICES), set[str](), None, 0.0
        for te, kind, key, value in self.events:
            if te > t:
                break
            if kind == "users":
                users, rate, since = value, None, te
            elif kind == "rate":
                rate = value / 1000
            elif kind == "scale" and (value <= up.get(key, 0) or t >= te + self.ready_after_s):
                up[key] = value
            elif kind == "down":
                down.add(key)
            elif kind == "start":
                down.discard(key)
        for instance in down:
            service, index = instance.rsplit("-", 1)
            if int(index) <= up.get(service, 0):
                up[service] -= 1
        if self.max_users is not None:
            users = min(users, self.max_users)
        return State(users, up, rate, t - since)

    def numbers(self, state: State) -> Numbers:
        demand = state.users * self.per_user_rps if state.rate is None else state.rate
        capacity = state.up.get("api", 0) * self.replica_rps
        if self.shared_cap_rps is not None:
            capacity = min(capacity, self.shared_cap_rps)
        if demand == 0 or capacity == 0:
            return Numbers(0.0, None, 0.0)
        rho = demand / capacity
        climb = 2.0 if state.rate is not None and rho > 1 else 0.5  # an open queue grows
        p95 = 0.04 + climb * max(0.0, rho - 0.8)
        fragile = self.fragile_above is not None and state.rate is not None
        if fragile and self.fragile_above is not None and self.fragile_above < rho <= 1:
            p95 = 0.04 + 0.05 * state.steady_s
        return Numbers(min(demand, capacity), p95, self.error_ratio)

    def p95(self, users: int, api: int) -> float | None:
        """The model's p95 for ``users`` on ``api`` healthy replicas."""
        return self.numbers(State(users, {"api": api})).p95

    def value(self, key: str, t: float) -> float | None:
        state = self.state_at(t)
        n = self.numbers(state)
        if key == "users":
            return float(state.users)
        if key == "cpu_api":
            return n.rps * 0.002
        if key in ("late", "dropped"):  # per second; the fake metrics add them up
            if state.rate is None or n.p95 is None:
                return 0.0
            # a pool of users sends at most users / latency; the rest is late, a tenth
            # of that overdue past the drop limit
            short = max(0.0, state.rate - state.users / n.p95)
            return short if key == "late" else short / 10
        if n.p95 is None and key not in ("rps", "client_rps"):
            return None
        values = {
            "rps": n.rps,
            "client_rps": n.rps * 0.99,
            "p50": (n.p95 or 0) * 0.6,
            "p95": n.p95,
            "p99": (n.p95 or 0) * 1.3,
            "client_p95": (n.p95 or 0) + 0.003,
            "error_ratio": n.error_ratio,
            "client_fail_ratio": n.error_ratio,
            "mean_latency": (n.p95 or 0) * 0.7,
            "in_flight": n.rps * (n.p95 or 0) * 0.7,
            "client_mean_latency": (n.p95 or 0) * 0.7 + 0.001,
            "service_time": 4 / self.replica_rps,  # 4 slots: the capacity is the knobs'
            # within the SLO (the lab's 250 ms) everything answered is good, else nothing
            "goodput": n.rps * (1 - n.error_ratio) if (n.p95 or 0) <= 0.25 else 0.0,
            "shed": 0.0,  # the fake has no admission control
            "amplification": 1.0,  # nor retries
            "db_reads_per_read": 0.1,  # a warm cache
        }
        return values.get(key)  # the pool and slot shares: not modelled


def _times(clock: FakeClock, window: Window | None) -> list[float]:
    """The instants a window averages: one a second, like the rules' samples."""
    now = clock.time()
    if window is None or now - window.start < MIN_WINDOW_S:
        return [now]
    count = int(now - window.start)
    return [window.start + i for i in range(count + 1)]


class FakeMetrics:
    def __init__(self, world: World, gauges: Mapping[str, float] | None = None) -> None:
        self.world = world
        self.gauges = dict(gauges or {})  # expr -> value, for the knob check

    def rule(self, key: str, window: Window | None = None) -> float | None:
        values = [
            v
            for t in _times(self.world.clock, window)
            if (v := self.world.value(key, t)) is not None
        ]
        if key in ("late", "dropped"):  # counts over the window, as increase() gives
            return sum(values)
        return sum(values) / len(values) if values else None

    def replicas(self, window: Window | None = None) -> dict[str, int]:
        times = _times(self.world.clock, window)
        states = [self.world.state_at(t) for t in times]
        return {
            s: round(sum(state.up.get(s, 0) for state in states) / len(states))
            for s in SERVICES
            if any(state.up.get(s, 0) for state in states)
        }

    def expr(self, expr: str, at: float | None = None) -> float | None:
        return self.gauges.get(expr)

    def holds(self, expr: str) -> bool:
        if match := _UP.match(expr):
            up = self.world.state_at(self.world.clock.time()).up
            return up.get(match["service"], 0) >= int(match["n"])
        if "shop_" in expr:  # the "every accepted order processed" conditions
            return self.world.orders_drained
        raise ValueError(f"the fake metrics do not know {expr!r}")


@dataclass(frozen=True)
class FakeStats:
    users: int
    rps: float
    fail_ratio: float
    p50: float | None
    p95: float | None
    p99: float | None


class FakeLoad:
    def __init__(self, world: World) -> None:
        self.world = world
        self.started = self.closed = False
        self.swarms: list[int] = []  # users asked for, in order
        self.rates: list[float | None] = []  # open-loop rates asked for, in order
        self.traffic: list[Traffic | None] = []
        self.processes = world.load_processes

    def __enter__(self) -> FakeLoad:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closed = True

    def start(self) -> None:
        self.started = True

    def swarm(
        self,
        users: int,
        spawn_rate: float,
        *,
        target_rps: float | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        self.swarms.append(users)
        self.rates.append(target_rps)
        self.traffic.append(traffic)
        self.world.change("users", value=users)
        if target_rps:
            self.world.change("rate", value=round(target_rps * 1000))

    def hdr(self, start: float, end: float, quantiles: tuple[float, ...]) -> Percentiles | None:
        """The model's answers over ``[start, end]``: count and p95 (p50, p99 around it)."""
        grid = [start + i for i in range(int(end - start))] or [start]
        numbers = [self.world.numbers(self.world.state_at(t + 0.5)) for t in grid]
        count = round(sum(n.rps for n in numbers) * (end - start) / len(numbers))
        p95s = [n.p95 for n in numbers if n.p95 is not None]
        if not p95s or count == 0:
            return Percentiles(0, {})
        p95 = sum(p95s) / len(p95s)
        scale = {0.5: 0.6, 0.95: 1.0, 0.99: 1.3}
        return Percentiles(count, {q: round(p95 * scale.get(q, 1.0), 6) for q in quantiles})

    def stats(self) -> FakeStats:
        state = self.world.state_at(self.world.clock.time())
        n = self.world.numbers(state)
        p95 = n.p95
        return FakeStats(
            state.users, n.rps, n.error_ratio, p95 and p95 * 0.6, p95, p95 and p95 * 1.3
        )

    def cpu(self) -> dict[str, float]:
        """The users' CPU shared evenly by the worker processes; the master idles."""
        users = self.world.state_at(self.world.clock.time()).users
        share = users * self.world.load_cpu_per_user / self.processes
        workers = {f"locust-worker-{i}": share for i in range(1, self.processes + 1)}
        return {"locust-master": 0.01, **workers}

    def stop_load(self) -> None:
        self.world.change("users", value=0)

    def copy_csvs(self, dest: Path) -> list[Path]:
        return []


class FakeAutoscaler:
    def __init__(self, lab: FakeLab, policy: Policy, record: Autoscaling) -> None:
        self.lab, self.policy, self.stopped = lab, policy, False
        assert policy.api is not None
        now, before = lab.world.clock.time(), lab.replicas().get("api", 1)
        record.scalings.append(Scaling(now, "api", before, policy.api.max_replicas, "scale up"))
        lab.scale("api", policy.api.max_replicas)

    def stop(self, timeout: float = 120.0) -> None:
        self.stopped = True
        self.lab.events.emit("autoscaler", "autoscaler off")


class FakeLab:
    """``lab.scenario.ports.Lab`` over a ``World``; journals changes like the facade."""

    def __init__(
        self,
        home: Path,
        world: World,
        *,
        running: bool = False,
        gauges: Mapping[str, float] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.world = world
        self.settings = settings or Settings(home=home / ".lab", runs_dir=home / "runs")
        self.runtime_name = "fake"
        self.events = EventLog(home / ".lab" / "events.jsonl", now=world.clock.time)
        self.running = running
        self.gauges = gauges
        self.load = FakeLoad(world)
        self.reports: list[Path] = []
        self.audits: list[tuple[float, float]] = []
        self.audit_passes = True
        self.healed: set[str] = set()
        self.app_faults: dict[str, list[AppFault]] = {}  # replica -> faults in force
        self.net_faults: list[NetFault] = []  # in place now
        self.autoscalers: list[FakeAutoscaler] = []

    def is_up(self) -> bool:
        return self.running

    def autoscaler(self, policy: Policy, folder: Path, record: Autoscaling) -> FakeAutoscaler:
        """An autoscaler that asks for ``api_max`` replicas of ``policy`` at once."""
        scaler = FakeAutoscaler(self, policy, record)
        self.autoscalers.append(scaler)
        return scaler

    def up(self, scales: Mapping[str, int] | None = None) -> None:
        for service, count in (scales or {}).items():
            self.world.planned[service] = count
            self.world.change("scale", service, count)
        self.running = True
        self.events.emit("up", "lab up (fake)")

    def down(self, *, volumes: bool = False) -> None:
        self.running = False

    def scale(self, service: str, replicas: int) -> None:
        before = self.world.planned.get(service)
        self.world.planned[service] = replicas
        self.world.change("scale", service, replicas)
        self.events.emit("scale", f"scale {service} {before} → {replicas}", service=service)

    def set(self, knobs: Mapping[str, object]) -> dict[str, object]:
        changed = self.settings.knobs_changed(knobs)
        before = {name: getattr(self.settings, name) for name in changed}
        if changed:
            self.settings = self.settings.with_knobs(changed)
            self.world.change("set", ",".join(sorted(changed)))
            self.events.emit("set", f"set {changed}", knobs=changed, before=before)
        return before

    def kill(self, instance: str) -> None:
        self.world.change("down", instance)
        self.events.emit("kill", f"kill {instance}", instance=instance)

    def stop(self, instance: str) -> None:
        self.world.change("down", instance)
        self.events.emit("stop", f"stop {instance}", instance=instance)

    def start(self, instance: str) -> None:
        if instance in self.healed:  # its restart policy brought it back already
            raise AlreadyRunning(f"{instance} is already running")
        self.world.change("start", instance)
        self.events.emit("start", f"start {instance}", instance=instance)

    def restart(self, instance: str) -> None:
        self.world.change("down", instance)
        self.world.change("start", instance)
        self.events.emit("restart", f"restart {instance}", instance=instance)

    def pause(self, instance: str) -> None:
        self.world.change("down", instance)
        self.events.emit("pause", f"pause {instance}", instance=instance)

    def resume(self, instance: str) -> None:
        self.world.change("start", instance)
        self.events.emit("resume", f"resume {instance}", instance=instance)

    def app_fault(self, fault: AppFault, replicas: Sequence[str] | None = None) -> list[str]:
        targets = list(replicas or [f"api-{i + 1}" for i in range(self.world.planned["api"])])
        for replica in targets:
            self.app_faults.setdefault(replica, []).append(fault)
        self.world.change("app_fault", fault.kind, len(targets))
        self.events.emit("fault", f"app fault {fault.describe()}", tags=("fault", "app"))
        return targets

    def clear_app_faults(self, replicas: Sequence[str] | None = None) -> int:
        targets = list(replicas or self.app_faults)
        return sum(len(self.app_faults.pop(replica, [])) for replica in targets)

    def net_fault(self, fault: NetFault) -> None:
        self.net_faults.append(fault)
        self.events.emit("net_fault", f"fault {fault.describe()}", fault=fault.model_dump())

    def end_net_fault(self, fault: NetFault) -> None:
        self.net_faults.remove(fault)
        self.events.emit("net_fault_end", f"fault over: {fault.describe()}")

    def replicas(self) -> Mapping[str, int]:
        return dict(self.world.planned)

    def audit(self, since: float, *, drain_s: float) -> Audit:
        self.audits.append((since, drain_s))
        return Audit(self.audit_passes, "fake audit", orders=10, processed=10, deliveries=11)

    def answers(self, service: str, path: str) -> bool:
        return self.running

    def machine_cpu(self) -> float | None:
        return 0.3

    def metrics(self) -> FakeMetrics:
        return FakeMetrics(self.world, self.gauges)

    def load_driver(self) -> FakeLoad:
        return self.load

    def timeseries(self, start: float, end: float) -> Table:
        grid = [start + i for i in range(int(end - start) + 1)]
        keys = {"api_requests_rate10s": "rps", "locust_users": "users"}
        columns = {name: [self.world.value(key, t) for t in grid] for name, key in keys.items()}
        columns["api_replicas_up"] = [float(self.world.state_at(t).up["api"]) for t in grid]
        return Table(grid, columns)

    def render_report(self, run_dir: Path) -> Path:
        self.reports.append(run_dir)
        report = run_dir / "report.html"
        report.write_text("<html>fake</html>", encoding="utf-8")
        return report
