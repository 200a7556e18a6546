"""The lab's own programs (lab.agents), without starting them: collectors and parsers."""

from __future__ import annotations

import struct
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from lab.agents.container_exporter import cgroup_usage
from lab.agents.process_exporter import recorded
from lab.agents.replica_name import parse_ptr_answer, ptr_query, replica_name
from lab.agents.usage import Usage, UsageCollector
from lab.process_groups import ProcRecord
from lab.runtime.native.state import NativeState, StateStore


class Scripted(UsageCollector):
    """A collector whose readings the test sets before each scrape."""

    what = "a scripted instance"

    def __init__(self) -> None:
        super().__init__()
        self.readings: list[Usage] = []

    def sample(self) -> list[Usage]:
        return self.readings


def scrape(collector: UsageCollector) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


CPU = 'lab_process_cpu_seconds_total{instance="api-1",service="api"}'
RSS = 'lab_process_resident_memory_bytes{instance="api-1",service="api"}'
COUNT = 'lab_process_tree_processes{instance="api-1",service="api"}'


def test_cpu_counter_never_goes_down_when_a_source_restarts() -> None:
    collector = Scripted()
    collector.readings = [Usage("api", "api-1", {"c1": 5.0}, 100.0)]
    assert scrape(collector)[CPU] == 5.0
    collector.readings = [Usage("api", "api-1", {"c2": 1.5}, 80.0)]  # replaced container
    values = scrape(collector)
    assert values[CPU] == 6.5
    assert values[RSS] == 80.0
    assert COUNT not in values  # a container exporter counts no processes


def test_process_counts_are_exported_when_measured() -> None:
    collector = Scripted()
    collector.readings = [Usage("api", "api-1", {(10, 1.0): 0.5, (11, 2.0): 0.25}, 1.0, 2)]
    values = scrape(collector)
    assert values[CPU] == 0.75
    assert values[COUNT] == 2.0


def test_cgroup_v2_and_v1_usage(tmp_path: Path) -> None:
    v2 = tmp_path / "v2" / "system.slice" / "docker-abc.scope"
    v2.mkdir(parents=True)
    (v2 / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    (v2 / "memory.stat").write_text("anon 4096\nfile 99\n")
    assert cgroup_usage(tmp_path / "v2", "abc") == (2.5, 4096.0)

    cpu, mem = (
        tmp_path / "v1" / "cpuacct" / "docker" / "abc",
        tmp_path / "v1" / "memory" / "docker" / "abc",
    )
    cpu.mkdir(parents=True)
    mem.mkdir(parents=True)
    (cpu / "cpuacct.usage").write_text("3000000000\n")
    (mem / "memory.stat").write_text("rss 10\ntotal_rss 2048\n")
    assert cgroup_usage(tmp_path / "v1", "abc") == (3.0, 2048.0)
    assert cgroup_usage(tmp_path / "v2", "gone") is None


def test_process_exporter_reads_the_native_state_file(tmp_path: Path) -> None:
    state = NativeState(instances={"api-1": ProcRecord("api-1", "api", 1, pid=1, port=8000)})
    StateStore(tmp_path).save(state)
    found = recorded(tmp_path / "state.json")
    assert [(r.name, r.service, r.pid, r.port) for r in found] == [("api-1", "api", 1, 8000)]
    (tmp_path / "state.json").write_text('{"instances": {"api-1": {"na')  # half written
    assert recorded(tmp_path / "state.json") == []
    assert recorded(tmp_path / "missing.json") == []


def ptr_answer(query: bytes, name: str) -> bytes:
    """The answer Docker's DNS gives: the question, then one PTR record pointing at it."""
    qid = struct.unpack("!H", query[:2])[0]
    header = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    question = query[12:]
    rdata = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    answer = struct.pack("!HHHIH", 0xC00C, 12, 1, 600, len(rdata)) + rdata
    return header + question + answer


def test_replica_is_named_from_its_reverse_dns_record() -> None:
    query = ptr_query("172.18.0.5", 4242)
    assert b"\x015\x010\x0218\x03172\x07in-addr\x04arpa\x00" in query
    answer = ptr_answer(query, "prodlab-api-2.prodlab_default")
    assert parse_ptr_answer(answer, 4242) == "prodlab-api-2.prodlab_default"
    assert parse_ptr_answer(answer, 4243) is None  # not our query
    assert replica_name("api", "prodlab-api-2.prodlab_default") == "api-2"
    assert replica_name("api", "prodlab-worker-2.prodlab_default") is None
