"""`lab doctor`'s swarm line, from `docker info`'s Swarm part as Docker 20.10 prints it."""

from __future__ import annotations

from lab.doctor import swarm_finding


def test_no_swarm_yet_is_usable_and_says_lab_up_makes_one() -> None:
    found = swarm_finding({"LocalNodeState": "inactive"}, None)
    assert found.ok and "initialises a one-node swarm" in found.detail


def test_an_active_swarm_shows_nodes_and_managers() -> None:
    info = {"LocalNodeState": "active", "Nodes": 3, "Managers": 1, "ControlAvailable": True}
    found = swarm_finding(info, None)
    assert found.ok and "3 node(s), 1 manager(s)" in found.detail


def test_a_worker_node_or_a_broken_swarm_is_not_usable_and_says_why() -> None:
    worker = {"LocalNodeState": "active", "Nodes": 3, "Managers": 1, "ControlAvailable": False}
    assert not swarm_finding(worker, None).ok
    assert "promote" in swarm_finding(worker, None).fix
    assert not swarm_finding({"LocalNodeState": "error"}, None).ok
    gone = swarm_finding(None, "no Docker engine answers")
    assert not gone.ok and gone.detail == "no Docker engine answers"
