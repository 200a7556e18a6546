"""The annotator against a recorded Grafana HTTP exchange, served on localhost.

The real grafana-client sends real HTTP to pytest-httpserver, which answers with what
Grafana 11.3 answered (tests/data/grafana/annotations-exchange.json) only when method,
path, JSON body and the basic-auth header are exactly the recorded ones. Then the ways
Grafana is not there: nothing listening, a wrong password, a Grafana that never answers.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from lab.annotations import RETRY_AFTER_S, GrafanaAccess, GrafanaAnnotator, Span, span
from lab.errors import LabError
from lab.events import Event
from lab.wait import free_port
from tests.labtools import PROJECT

RECORDING = PROJECT / "tests/data/grafana/annotations-exchange.json"
T0 = 1764250000.0


def recording() -> dict[str, Any]:
    loaded = json.loads(RECORDING.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def scenario_events() -> list[Event]:
    """The lab events behind the recording, as the engine and the Lab facade emit them."""

    def event(dt: float, kind: str, message: str, *tags: str, **data: Any) -> Event:
        return Event(kind=kind, message=message, t=T0 + dt, data=data, tags=tags)

    return [
        event(0, "scenario", "scenario worker-failure (quick)", "scenario", profile="quick"),
        event(0.5, "phase", "phase steady: two workers keep up", "phase", "steady", index=0),
        event(1.25, "load", "load 30 users", "load", users=30),
        event(
            20,
            "phase",
            "phase worker-killed: one worker carries the queue",
            "phase",
            "worker-killed",
            index=1,
        ),
        event(20.125, "kill", "kill worker-2", "fault", "kill", instance="worker-2"),
        event(30, "scale", "scale api 2 → 3", "scale", "api", service="api", after=3),
        event(40, "start", "start worker-2", "fault", "start", instance="worker-2"),
        event(45.5, "scenario", "scenario worker-failure passed", "scenario", passed=True),
    ]


def access_to(url: str, password: str = "") -> Callable[[], GrafanaAccess]:
    password = password or recording()["password"]
    return lambda: GrafanaAccess(url, recording()["user"], password)


@pytest.fixture
def grafana(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    yield httpserver
    httpserver.clear()


def test_a_scenario_becomes_the_recorded_annotations(grafana: HTTPServer) -> None:
    exchanges = recording()["exchanges"]
    for exchange in exchanges:
        asked, answer = exchange["request"], exchange["response"]
        grafana.expect_ordered_request(
            asked["path"], method=asked["method"], json=asked["json"], headers=asked["headers"]
        ).respond_with_json(answer["json"], status=answer["status"])

    annotator = GrafanaAnnotator(access_to(grafana.url_for("/").rstrip("/")))
    for event in scenario_events():
        annotator.on_event(event)

    grafana.check_assertions()  # a request the recording does not hold fails here
    assert [r.status_code for _, r in grafana.log] == [200] * len(exchanges)
    assert not annotator._warned


def test_regions_close_only_what_they_opened() -> None:
    assert span(Event("phase", "phase a")) == Span(begins="phase", ends=("phase",))
    kill = Event("kill", "kill api-1", data={"instance": "api-1"})
    assert span(kill) == Span(begins="down:api-1")
    start = Event("start", "start api-1", data={"instance": "api-1"})
    assert span(start) == Span(ends=("down:api-1",))
    finished = Event("scenario", "scenario x passed", data={"passed": False})
    assert span(finished) == Span(ends=("phase", "scenario"))
    assert span(Event("scale", "scale api 1 → 2")) == Span()
    assert span(Event("down", "lab down")).ends == ("*",)


def test_lab_down_closes_every_open_region(grafana: HTTPServer) -> None:
    grafana.expect_ordered_request("/api/annotations", method="POST").respond_with_json(
        {"id": 7, "message": "Annotation added"}
    )
    grafana.expect_ordered_request(
        "/api/annotations/7",
        method="PATCH",
        json={
            "time": 1000,
            "timeEnd": 9000,
            "tags": ["prodlab", "stop", "fault"],
            "text": "stop api-2",
        },
    ).respond_with_json({"message": "Annotation patched"})
    grafana.expect_ordered_request("/api/annotations", method="POST").respond_with_json(
        {"id": 8, "message": "Annotation added"}
    )
    annotator = GrafanaAnnotator(access_to(grafana.url_for("/").rstrip("/")))
    annotator.on_event(Event("stop", "stop api-2", 1.0, {"instance": "api-2"}, ("fault",)))
    annotator.on_event(Event("down", "lab down", 9.0))
    grafana.check_assertions()
    assert len(grafana.log) == 3


def test_wrong_password_gives_up_after_one_request(
    grafana: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    denied = recording()["unauthorized"]
    grafana.expect_request("/api/annotations", method="POST").respond_with_json(
        denied["json"], status=denied["status"]
    )
    annotator = GrafanaAnnotator(access_to(grafana.url_for("/").rstrip("/"), "not-the-secret"))
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG, logger="lab.annotations"):
        for event in scenario_events():
            annotator.on_event(event)  # never raises into the run
    assert time.monotonic() - started < 1.0
    (request, response), *more = grafana.log
    assert not more, "after a refusal the annotator waits RETRY_AFTER_S before asking again"
    assert response.status_code == 401
    assert request.authorization is not None and request.authorization.password == "not-the-secret"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Invalid username or password" in warnings[0].getMessage()
    assert f"retrying in {RETRY_AFTER_S:.0f} s" in warnings[0].getMessage()


def test_grafana_down_costs_nothing() -> None:
    calls = []

    def access() -> GrafanaAccess:
        calls.append(1)
        return GrafanaAccess(f"http://127.0.0.1:{free_port()}", "admin", "x")

    annotator = GrafanaAnnotator(access)
    started = time.monotonic()
    for event in scenario_events() * 3:
        annotator.on_event(event)
    assert time.monotonic() - started < 1.0
    assert calls == [1], "one try, then no Grafana is believed for RETRY_AFTER_S"


def test_a_grafana_that_never_answers_holds_an_event_under_a_second() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never replies
        port = silent.getsockname()[1]
        annotator = GrafanaAnnotator(lambda: GrafanaAccess(f"http://127.0.0.1:{port}", "a", "b"))
        started = time.monotonic()
        for event in scenario_events():
            annotator.on_event(event)
        assert time.monotonic() - started < 1.5


def test_no_grafana_in_this_runtime_means_no_request() -> None:
    calls = []

    def access() -> GrafanaAccess:
        calls.append(1)
        raise LabError("the native runtime has no Grafana and no Grafana password")

    annotator = GrafanaAnnotator(access)
    for event in scenario_events():
        annotator.on_event(event)
    assert calls == [1]
