"""Network faults on the links from the API and workers to Postgres, Redis and NATS.

Each kind is one Toxiproxy toxic on the dependency's proxy, except ``down``, which is
Toxiproxy's way: the proxy is disabled (new connections refused, open ones closed).

    latency     every chunk ms ± jitter late        (toxic ``latency``)
    bandwidth   at most rate KB/s                     (toxic ``bandwidth``)
    timeout     a black hole; closed after ms (0: never)  (toxic ``timeout``)
    reset       a TCP RST after ms                    (toxic ``reset_peer``)
    slow_close  the close passed on ms late           (toxic ``slow_close``)
    limit_data  closed after bytes                    (toxic ``limit_data``)
    down        the proxy disabled                    (no toxic)

``NetFault`` is the one model: the CLI and the scenario step build it, ``apply`` and
``undo`` carry it out through a ``ToxiproxyClient``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lab.defaults import NET_LINKS
from lab.errors import ConfigError
from lab.faults.toxiproxy import Json, ToxiproxyClient

NetKind = Literal["latency", "bandwidth", "timeout", "reset", "slow_close", "limit_data", "down"]
Stream = Literal["upstream", "downstream"]
TOXIC_TYPE = {"reset": "reset_peer"}  # our name → Toxiproxy's, where they differ
NAME_PREFIX = "lab_"  # toxics the lab added; `lab fault clear` removes every toxic anyway


class NetFault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: NetKind
    to: str = Field(description="the dependency: postgres, redis or nats")
    ms: int = Field(default=0, ge=0, le=600_000, description="latency, or when to act")
    jitter: int = Field(default=0, ge=0, le=600_000)
    rate: int = Field(default=0, ge=0, description="bandwidth in KB/s")
    bytes: int = Field(default=0, ge=0)
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)
    stream: Stream = "downstream"

    @model_validator(mode="after")
    def _check(self) -> NetFault:
        if self.to not in NET_LINKS:
            raise ValueError(f"to: must be one of {', '.join(NET_LINKS)}, not {self.to!r}")
        if self.kind == "latency" and self.ms == 0:
            raise ValueError("ms: a latency fault needs ms > 0")
        if self.kind == "bandwidth" and self.rate < 1:
            raise ValueError("rate: a bandwidth fault needs rate >= 1 (KB/s)")
        if self.kind == "limit_data" and self.bytes < 1:
            raise ValueError("bytes: a limit_data fault needs bytes >= 1")
        if self.jitter and self.kind != "latency":
            raise ValueError("jitter: only a latency fault has jitter")
        if self.kind == "down" and self.toxicity < 1.0:
            raise ValueError("toxicity: down takes the whole link down (no toxicity)")
        return self

    @property
    def toxic_name(self) -> str:
        return f"{NAME_PREFIX}{self.kind}_{self.stream}"

    def toxic(self) -> Json:
        """The Toxiproxy toxic this fault adds (``down`` adds none)."""
        attributes: dict[str, int] = {
            "latency": {"latency": self.ms, "jitter": self.jitter},
            "bandwidth": {"rate": self.rate},
            "timeout": {"timeout": self.ms},
            "reset": {"timeout": self.ms},
            "slow_close": {"delay": self.ms},
            "limit_data": {"bytes": self.bytes},
        }[self.kind]
        return {
            "name": self.toxic_name,
            "type": TOXIC_TYPE.get(self.kind, self.kind),
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": attributes,
        }

    def describe(self) -> str:
        what = {
            "latency": f"+{self.ms}" + (f"±{self.jitter}" if self.jitter else "") + " ms",
            "bandwidth": f"{self.rate} KB/s",
            "timeout": "black hole" + (f", closed after {self.ms} ms" if self.ms else ""),
            "reset": f"reset after {self.ms} ms",
            "slow_close": f"close {self.ms} ms late",
            "limit_data": f"closed after {self.bytes} B",
            "down": "down",
        }[self.kind]
        chance = f", toxicity {self.toxicity:g}" if self.toxicity < 1 else ""
        return f"{self.to} {self.kind}: {what} ({self.stream}{chance})"


def parse_fault(**fields: object) -> NetFault:
    """A ``NetFault`` from flags or a scenario step; ``ConfigError`` names the bad field."""
    from pydantic import ValidationError

    try:
        return NetFault.model_validate(fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            msg = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {msg}" if where else msg)
        raise ConfigError("bad network fault: " + "; ".join(problems)) from None


def apply(client: ToxiproxyClient, fault: NetFault) -> None:
    """Inject ``fault``; one of the same kind and stream on that link is replaced."""
    if fault.kind == "down":
        client.set_enabled(fault.to, False)
        return
    names = {t["name"] for t in client.toxics(fault.to)}
    if fault.toxic_name in names:
        client.remove_toxic(fault.to, fault.toxic_name)
    client.add_toxic(fault.to, fault.toxic())


def undo(client: ToxiproxyClient, fault: NetFault) -> None:
    """Take ``fault`` away again (safe when it is already gone)."""
    if fault.kind == "down":
        client.set_enabled(fault.to, True)
        return
    if fault.toxic_name in {t["name"] for t in client.toxics(fault.to)}:
        client.remove_toxic(fault.to, fault.toxic_name)


def active(client: ToxiproxyClient) -> list[str]:
    """Every fault on the links now, one line each (``lab fault list``)."""
    lines = []
    for name, proxy in sorted(client.proxies().items()):
        if not proxy.get("enabled", True):
            lines.append(f"{name}: down (proxy disabled)")
        for toxic in proxy.get("toxics") or []:
            attrs = ", ".join(f"{k}={v}" for k, v in toxic.get("attributes", {}).items())
            lines.append(
                f"{name}: {toxic['name']} {toxic['type']} {toxic['stream']}"
                f" toxicity={toxic['toxicity']:g} {attrs}".rstrip()
            )
    return lines
