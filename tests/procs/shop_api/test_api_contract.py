"""The API's OpenAPI document is its contract: the live API answers only as it says.

Against a real replica of the session's native lab (real PostgreSQL, Redis, NATS):

- ``test_every_documented_answer_happens_and_matches_the_document`` sends, for every
  route, a request for each status the document lists (202, 404, 415, 422, 503 with
  Postgres stopped, 504 on a replica whose deadline is spent, ...) and validates each
  answer with openapi-core: the status is listed, the content type and body match its
  schema. Each request is also checked
  against the document: a request the test means as valid must be valid per the
  schema, one the API refuses as malformed must be invalid per the schema. Finally,
  every (route, status) the document lists must have been seen.
- ``test_schema_valid_requests_get_only_documented_answers`` is a bounded
  property-based pass (schemathesis, fixed seed): requests generated from the document
  never get a 5xx or an undocumented status, and are accepted (2xx), or refused only
  for what the schema cannot know (an id or a product that does not exist).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError

from lab.lab import Lab
from lab.runtime.admin import AppFault
from lab.wait import http_ok, wait_for
from tests.shoptools import shop_process

pytestmark = pytest.mark.procs

NO_PRODUCT = 99_999  # the session's lab seeds 1000 products
NO_ORDER = "00000000-0000-0000-0000-000000000000"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def first_replica(lab: Lab) -> str:
    urls = [i.endpoint.url for i in lab.runtime.status().of("api") if i.endpoint is not None]
    assert urls, "no api replica is up"
    return urls[0]


@dataclass
class Contract:
    """Sends requests to one live replica and holds each answer to the document."""

    url: str
    document: dict[str, Any]
    openapi: OpenAPI
    session: requests.Session = field(default_factory=requests.Session)
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def send(
        self,
        method: str,
        route: str,
        path: str,
        status: int,
        *,
        valid: bool | None = True,
        **kwargs: Any,
    ) -> requests.Response:
        """``method path`` answers ``status`` as documented for ``route``.

        ``valid``: whether the request itself is valid per the document (None: not
        checked, for a body no JSON parser can read).
        """
        response = self.session.request(method, self.url + path, timeout=10, **kwargs)
        assert response.status_code == status, (method, path, response.text[:500])
        request = RequestsOpenAPIRequest(response.request)
        if valid is True:
            self.openapi.validate_request(request)
        elif valid is False:
            with pytest.raises(OpenAPIError):
                self.openapi.validate_request(request)
        try:
            self.openapi.validate_response(request, RequestsOpenAPIResponse(response))
        except OpenAPIError as exc:
            raise AssertionError(f"{method} {path} -> {status}: {exc!r} {exc.__cause__!r}") from exc
        if status >= 400:
            assert response.json()["error"], "every error names its kind"
        self.seen.add((method.lower(), route, str(status)))
        return response

    def documented(self) -> set[tuple[str, str, str]]:
        return {
            (method, route, status)
            for route, operations in self.document["paths"].items()
            for method, operation in operations.items()
            for status in operation["responses"]
        }

    def documented_operations(self) -> set[tuple[str, str]]:
        return {(method, route) for method, route, _ in self.documented()}

    def error_body_schema(self) -> dict[str, Any]:
        """``ErrorBody`` as a standalone JSON Schema (its refs resolved in the document)."""
        return {**self.document["components"]["schemas"]["ErrorBody"], **self.components()}

    def components(self) -> dict[str, Any]:
        return {"components": self.document["components"]}


@pytest.fixture(scope="module")
def contract(running_lab: Lab) -> Iterator[Contract]:
    url = first_replica(running_lab)
    document = httpx.get(f"{url}/openapi.json", timeout=10).json()
    checked = Contract(url, document, OpenAPI.from_dict(document))
    yield checked
    checked.session.close()


def order(product_id: object = 1, quantity: object = 1, customer: object = "ada") -> bytes:
    body = {"product_id": product_id, "quantity": quantity, "customer": customer}
    return json.dumps(body).encode()


JSON = {"content-type": "application/json"}


def test_every_documented_answer_happens_and_matches_the_document(
    contract: Contract, running_lab: Lab, tmp_path: Path
) -> None:
    c = contract
    product, products = "/products/{product_id}", "/products"
    orders, one_order = "/orders", "/orders/{order_id}"

    c.send("GET", product, "/products/5", 200)
    c.send("GET", product, f"/products/{NO_PRODUCT}", 404)
    c.send("GET", product, "/products/0", 422, valid=False)
    c.send("GET", product, "/products/abc", 422, valid=False)
    c.send("GET", products, "/products?limit=3&offset=10", 200)
    c.send("GET", products, "/products?limit=0", 422, valid=False)
    c.send("GET", products, "/products?offset=-1", 422, valid=False)

    placed = c.send("POST", orders, orders, 202, data=order(quantity=2), headers=JSON)
    # JSON Schema's integer includes 586.0, so the API takes it.
    c.send("POST", orders, orders, 202, data=order(quantity=586.0), headers=JSON)
    c.send("POST", orders, orders, 415, valid=False, data={"product_id": "1"})
    deep = b"[" * 50_000 + b"]" * 50_000
    c.send("POST", orders, orders, 400, valid=None, data=deep, headers=JSON)
    for bad in (
        order(quantity=1.5),
        order(quantity="2"),
        order(product_id=True),
        order(customer="   "),
        order(customer="a\x00b"),
        b'{"product_id": 1, "quantity": 1, "customer": "a", "coupon": 1}',
    ):
        refused = c.send("POST", orders, orders, 422, valid=False, data=bad, headers=JSON)
        assert refused.json()["problems"], "a malformed body lists each refused input"
    # JSON can escape a lone surrogate, which no text column can store: a 422, not a 500.
    lone = b'{"product_id": 1, "quantity": 1, "customer": "a\\ud800"}'
    c.send("POST", orders, orders, 422, valid=None, data=lone, headers=JSON)
    # Valid per the schema, unknown to the database: 422 that says so.
    unknown = c.send("POST", orders, orders, 422, data=order(product_id=NO_PRODUCT), headers=JSON)
    assert unknown.json()["reason"] == f"product_id {NO_PRODUCT} does not exist"

    order_id = UUID(placed.json()["order_id"])
    c.send("GET", one_order, f"/orders/{order_id}", 200)
    c.send("GET", one_order, f"/orders/{NO_ORDER}", 404)
    c.send("GET", one_order, "/orders/not-a-uuid", 422, valid=False)

    c.send("GET", "/healthz", "/healthz", 200)
    c.send("GET", "/readyz", "/readyz", 200)

    # Idempotency-Key: a retry gets the first order; the key with another body is a 422
    keyed = {"Idempotency-Key": f"contract-{uuid4().hex}", **JSON}
    first = c.send("POST", orders, orders, 202, data=order(quantity=3), headers=keyed)
    again = c.send("POST", orders, orders, 202, data=order(quantity=3), headers=keyed)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    reused = c.send("POST", orders, orders, 422, data=order(quantity=4), headers=keyed)
    assert reused.json()["reason"].startswith("header.Idempotency-Key: key")
    spaced = {"Idempotency-Key": "a b", **JSON}
    c.send("POST", orders, orders, 422, valid=False, data=order(), headers=spaced)

    # an injected `unready` fault fails the probe HAProxy checks
    replica = running_lab.runtime.status().of("api")[0].name
    running_lab.app_fault(AppFault(kind="unready", for_s=30), [replica])
    try:
        unready_fault = c.send("GET", "/healthz", "/healthz", 503)
        assert "unready" in unready_fault.json()["reason"]
    finally:
        running_lab.clear_app_faults([replica])
    metrics = c.send("GET", "/metrics", "/metrics", 200)
    assert metrics.headers["content-type"] == METRICS_TYPE

    running_lab.stop("postgres-1")
    try:
        for method, route, path, body in (
            ("GET", product, "/products/979", None),  # never read before: not cached
            ("GET", products, "/products", None),
            ("POST", orders, orders, order()),
            ("GET", one_order, f"/orders/{order_id}", None),
        ):
            down = c.send(method, route, path, 503, data=body, headers=JSON)
            assert down.json()["error"] == "unavailable"
            assert down.headers["retry-after"] == "1"
        unready = c.send("GET", "/readyz", "/readyz", 503)
        assert list(unready.json()["failed"]) == ["postgres"]
    finally:
        running_lab.start("postgres-1")
    wait_for("readyz back to 200", lambda: http_ok(f"{c.url}/readyz"), timeout=20)

    # 504: a replica whose work (200 ms) spends the whole request deadline (100 ms), so
    # every dependency call is refused before it starts
    late = {"LAB_API_DEADLINE_MS": "100", "LAB_API_WORK_MS": "200"}
    with shop_process(running_lab, tmp_path, "api", **late) as api:
        slow = Contract(api.url, c.document, c.openapi)
        for method, route, path, body in (
            ("GET", product, "/products/5", None),
            ("GET", products, "/products", None),
            ("POST", orders, orders, order()),
            ("GET", one_order, f"/orders/{order_id}", None),
        ):
            cut = slow.send(method, route, path, 504, data=body, headers=JSON)
            assert cut.json()["error"] == "deadline_exceeded"
            assert cut.headers["retry-after"] == "1"
        slow.session.close()
    c.seen |= slow.seen

    missing = c.documented() - c.seen
    assert not missing, f"documented answers never seen: {sorted(missing)}"
    assert c.seen <= c.documented()


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nowhere", 404), ("DELETE", "/orders", 405)]
)
def test_answers_outside_the_routes_have_the_one_error_shape(
    contract: Contract, method: str, path: str, status: int
) -> None:
    response = contract.session.request(method, contract.url + path, timeout=10)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    jsonschema.validate(response.json(), contract.error_body_schema())


# --- property-based: what the schema allows gets a documented answer, never a 5xx ----


EXAMPLES = 50  # per operation; the whole pass takes about 10 s


def accepted_unless_unknown(ctx: Any, response: Any, case: Any) -> None:
    """A schema-valid request is accepted; the only refusals are for what the schema
    cannot know: an id that does not exist (404), an order for an unknown product, an
    ``Idempotency-Key`` already used for another order."""
    status = response.status_code
    if status < 300:
        return
    if status == 404 and case.path in ("/products/{product_id}", "/orders/{order_id}"):
        return
    if status == 422 and case.path == "/orders":
        reason = json.loads(response.content)["reason"]
        if reason.startswith("header.Idempotency-Key: key"):
            return  # a generated key used before with another body
        assert reason.startswith("product_id ") and reason.endswith(" does not exist"), reason
        return
    raise AssertionError(f"schema-valid request refused: {status} {response.content[:300]!r}")


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


def generated_requests_pass(
    contract: Contract, mode: schemathesis.GenerationMode, checks: list[Any]
) -> None:
    """Send ``EXAMPLES`` requests per route generated from the document in ``mode``
    (fixed seed) to the live replica, and run ``checks`` on every answer."""
    schema = schemathesis.openapi.from_dict(contract.document)
    schema.config.update(base_url=contract.url)
    schema.config.generation.update(modes=[mode], max_examples=EXAMPLES, deterministic=True)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(contract.documented_operations())
    for operation in operations:
        documented = contract.document["paths"][operation.path][operation.method.lower()]
        takes_input = "parameters" in documented or "requestBody" in documented
        if mode == schemathesis.GenerationMode.NEGATIVE and not takes_input:
            continue  # nothing in the request can be wrong

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: Any) -> None:
            # Sent here rather than by ``case.call``: schemathesis' transport counts
            # urllib3's pools in a way the urllib3-future installed here breaks.
            sent = case.as_transport_kwargs(base_url=contract.url)
            response = contract.session.request(**sent, timeout=10)
            case.validate_response(response, checks=checks)

        answers_as_documented()


def test_schema_valid_requests_get_only_documented_answers(contract: Contract) -> None:
    generated_requests_pass(
        contract, schemathesis.GenerationMode.POSITIVE, [*CHECKS, accepted_unless_unknown]
    )


def test_schema_invalid_requests_are_refused_with_a_documented_4xx(contract: Contract) -> None:
    """The other direction: what the schema refuses, the API refuses (never a 5xx)."""
    generated_requests_pass(
        contract,
        schemathesis.GenerationMode.NEGATIVE,
        [*CHECKS, schemathesis.checks.negative_data_rejection],
    )
