"""HTTP routes of the IMPS service (issue 13), on the admin listener when `[imps]` is enabled.

- GET /v1/imps: the service's figures (sessions online, pending messages, outbox, SMS in and
  out through the binding, the short code);
- GET /v1/imps/users: every user, with its MSISDN and whether it has a session;
- POST /v1/imps/users: add one (201; 409 conflict when the user id or the msisdn is taken;
  422 validation);
- DELETE /v1/imps/users/{user_id}: remove one (204; 404 unknown-user).

Errors are problem documents (http/problems.py). A change is answered once the service
committed it (its state is SQLite, synchronous=FULL): a restart keeps it.

What it is not: the service (imps/service.py, reached through app/imps.py as `ImpsAdmin`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Protocol, cast

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..problems import Problem

__all__ = ["ImpsAdmin", "router"]

router = APIRouter(tags=["imps"])


class ImpsAdmin(Protocol):
    """The IMPS service as these routes use it (app/imps.py ImpsNodeService)."""

    async def stats(self) -> Mapping[str, Any]: ...

    async def users(self) -> list[Mapping[str, Any]]: ...

    async def add_user(
        self, user_id: str, msisdn: str, password: str
    ) -> Mapping[str, Any] | None: ...

    async def remove_user(self, user_id: str) -> bool: ...


def _imps(request: Request) -> ImpsAdmin:
    return cast(ImpsAdmin, request.app.state.imps)


Imps = Annotated[ImpsAdmin, Depends(_imps)]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo must not silently become a default

    # The same rules as [[imps.users]] (config/model/imps.py).
    user_id: str = Field(pattern=r'^[^\s"(),=&]{1,50}$', examples=["alice"])
    msisdn: str = Field(pattern=r"^\+?[0-9]{1,15}$", examples=["+447700900001"])
    password: str = Field(min_length=1, max_length=100)


def _unavailable(exc: RuntimeError) -> Problem:
    return Problem(503, "imps-unavailable", str(exc), title="IMPS unavailable")


@router.get("/v1/imps")
async def imps_stats(imps: Imps) -> Mapping[str, Any]:
    try:
        return await imps.stats()
    except RuntimeError as exc:
        raise _unavailable(exc) from exc


@router.get("/v1/imps/users")
async def list_users(imps: Imps) -> dict[str, Any]:
    try:
        users = await imps.users()
    except RuntimeError as exc:
        raise _unavailable(exc) from exc
    return {"total": len(users), "users": list(users)}


@router.post("/v1/imps/users", status_code=201, responses={409: {"description": "conflict"}})
async def add_user(body: NewUser, imps: Imps) -> JSONResponse:
    try:
        added = await imps.add_user(body.user_id, body.msisdn, body.password)
    except RuntimeError as exc:
        raise _unavailable(exc) from exc
    except ValueError as exc:
        raise Problem(422, "validation", str(exc)) from exc
    except LookupError as exc:  # another user on that handset
        raise Problem(409, "conflict", str(exc), msisdn=body.msisdn) from exc
    if added is None:
        raise Problem(
            409, "conflict", f'the user id "{body.user_id}" is taken', user_id=body.user_id
        )
    return JSONResponse(
        dict(added), status_code=201, headers={"Location": f"/v1/imps/users/{body.user_id}"}
    )


@router.delete(
    "/v1/imps/users/{user_id}", status_code=204, responses={404: {"description": "unknown-user"}}
)
async def remove_user(user_id: str, imps: Imps) -> Response:
    try:
        removed = await imps.remove_user(user_id)
    except RuntimeError as exc:
        raise _unavailable(exc) from exc
    if not removed:
        raise Problem(404, "unknown-user", f'no IMPS user "{user_id}"', user_id=user_id)
    return Response(status_code=204)
