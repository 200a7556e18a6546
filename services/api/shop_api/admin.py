"""The replica's admin endpoint: application faults, on a loopback-only listener.

It is a separate app on a separate socket (``127.0.0.1:LAB_API_ADMIN_PORT``), never the
public one: HAProxy only knows the public port (and denies ``/admin`` anyway), and in a
container 127.0.0.1 is the container's own loopback, so only ``docker exec`` reaches it.
Every request needs ``Authorization: Bearer <LAB_API_ADMIN_TOKEN>``, compared in constant
time; without a token configured the listener is not started at all.

* ``GET /admin/faults``: the active faults;
* ``POST /admin/faults``: add one (a ``shop_api.faults`` spec, ``kind`` picks which): 201;
* ``DELETE /admin/faults`` or ``/admin/faults/{id}``: remove all, or one.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from shop_api import errors
from shop_api.faults import ActiveFault, AnyFault, FaultBoard

BEARER = "bearer "


def describe(fault: ActiveFault, now: float) -> dict[str, Any]:
    return {
        "id": fault.id,
        **fault.spec.model_dump(),
        "remaining_s": round(fault.remaining_s(now), 3),
    }


def create_admin_app(board: FaultBoard, token: str, replica: str) -> FastAPI:
    """The admin app; ``token`` must be non-empty (no token, no admin endpoint)."""
    if not token:
        raise ValueError("the admin endpoint needs a token")
    expected = token.encode()

    async def authorized(request: Request) -> None:
        given = request.headers.get("authorization", "")
        supplied = given[len(BEARER) :] if given.lower().startswith(BEARER) else ""
        if not hmac.compare_digest(supplied.encode(), expected):
            raise HTTPException(
                401,
                "missing or wrong admin token (Authorization: Bearer <LAB_API_ADMIN_TOKEN>)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    app = FastAPI(
        title=f"prodlab shop admin ({replica})",
        dependencies=[Depends(authorized)],
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)

    @app.get("/admin/faults")
    async def list_faults() -> dict[str, Any]:
        now = time.monotonic()
        return {"replica": replica, "faults": [describe(f, now) for f in board.active()]}

    @app.post("/admin/faults", status_code=201)
    async def add_fault(spec: Annotated[AnyFault, Body()]) -> dict[str, Any]:
        try:
            fault = board.add(spec)
        except LookupError as exc:
            raise HTTPException(422, f"body.route: {exc}") from exc
        return {"replica": replica, **describe(fault, time.monotonic())}

    @app.delete("/admin/faults")
    async def clear_faults() -> dict[str, Any]:
        return {"replica": replica, "removed": [f.id for f in board.remove()]}

    @app.delete("/admin/faults/{fault_id}")
    async def remove_fault(fault_id: int) -> JSONResponse:
        removed = board.remove(fault_id)
        if not removed:
            return errors.error_response(404, f"no active fault {fault_id}")
        return JSONResponse({"replica": replica, "removed": [fault_id]})

    return app
