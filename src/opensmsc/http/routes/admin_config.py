"""HTTP routes of the live configuration (issue 16), on the admin listener:

- GET /v1/admin/accounts | connectors | routes: {"items": [...]}, each item its TOML table's keys
  (secrets shown as "***"), "enabled" and "source" ("file", or "live" once changed through here);
- POST /v1/admin/{kind} (the item's TOML keys as JSON) → 201; 409 `config-item-exists`;
- PATCH /v1/admin/{kind}/{name} (the keys to change; null puts a key back to its default) → 200;
- DELETE /v1/admin/{kind}/{name} → 204;
- POST /v1/admin/{kind}/{name}/enable | /disable → 200;
- GET /v1/admin/config.toml: the live configuration as TOML (`opensmsc config export`);
- POST /v1/admin/reload: the configuration file read again, as SIGHUP does → {"applied",
  "restart_needed", "errors"} (a refused reload has errors and applied nothing).

An item is named by its system_id (accounts), name (connectors) or prefix (routes); an unknown
one is 404 `config-item-not-found`. A change the configuration file could not hold is 422
`config-invalid` with "errors": [{"key", "message"}], in the words of the file's own checks. A
change is answered once it is on disk and applied: a restart keeps it.

What it is not: the live configuration itself (app/live_config.py, reached as `ConfigAdmin`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Protocol, cast

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from ..problems import Problem

__all__ = [
    "CONFIG_KINDS",
    "ConfigAdmin",
    "ConfigInvalid",
    "ConfigItemExists",
    "ConfigItemNotFound",
    "router",
]

CONFIG_KINDS: Final = ("accounts", "connectors", "routes")

router = APIRouter(tags=["configuration"])


class ConfigInvalid(Exception):
    """The change is refused: `errors` lists {"key", "message"} each."""

    def __init__(self, detail: str, errors: Sequence[Mapping[str, str]]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = [dict(error) for error in errors]


class ConfigItemNotFound(LookupError):
    """No item of that kind has that name."""


class ConfigItemExists(Exception):
    """An item of that kind already has that name."""


class ConfigAdmin(Protocol):
    """The live configuration as these routes use it (app/live_config.py LiveConfig)."""

    def items(self, kind: str) -> list[Mapping[str, Any]]: ...

    async def add(self, kind: str, body: Mapping[str, Any]) -> Mapping[str, Any]: ...

    async def change(self, kind: str, name: str, body: Mapping[str, Any]) -> Mapping[str, Any]: ...

    async def remove(self, kind: str, name: str) -> None: ...

    def export(self) -> str: ...

    async def reload(self) -> Mapping[str, Any]: ...


def _admin(request: Request) -> ConfigAdmin:
    return cast(ConfigAdmin, request.app.state.config_admin)


Admin = Annotated[ConfigAdmin, Depends(_admin)]
ItemBody = Annotated[dict[str, Any], Body(examples=[{"system_id": "esme9", "window": 20}])]


def _problem(exc: Exception, kind: str, name: str | None = None) -> Problem:
    if isinstance(exc, ConfigInvalid):
        return Problem(422, "config-invalid", exc.detail, errors=exc.errors)
    if isinstance(exc, ConfigItemNotFound):
        return Problem(404, "config-item-not-found", str(exc), kind=kind, name=name)
    return Problem(409, "config-item-exists", str(exc), kind=kind, name=name)


_ERRORS: Final = (ConfigInvalid, ConfigItemNotFound, ConfigItemExists)
_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "config-item-not-found"},
    409: {"description": "config-item-exists"},
    422: {"description": "config-invalid"},
}


def _routes(kind: str) -> None:
    base = f"/v1/admin/{kind}"

    async def list_items(admin: Admin) -> dict[str, Any]:
        return {"items": admin.items(kind)}

    async def add_item(body: ItemBody, admin: Admin) -> JSONResponse:
        try:
            item = await admin.add(kind, body)
        except _ERRORS as exc:
            raise _problem(exc, kind) from exc
        return JSONResponse(dict(item), status_code=201)

    async def change_item(name: str, body: ItemBody, admin: Admin) -> Mapping[str, Any]:
        try:
            return await admin.change(kind, name, body)
        except _ERRORS as exc:
            raise _problem(exc, kind, name) from exc

    async def remove_item(name: str, admin: Admin) -> Response:
        try:
            await admin.remove(kind, name)
        except _ERRORS as exc:
            raise _problem(exc, kind, name) from exc
        return Response(status_code=204)

    def switch(enabled: bool) -> Any:
        async def set_enabled(name: str, admin: Admin) -> Mapping[str, Any]:
            try:
                return await admin.change(kind, name, {"enabled": enabled})
            except _ERRORS as exc:
                raise _problem(exc, kind, name) from exc

        return set_enabled

    router.add_api_route(base, list_items, methods=["GET"], name=f"list {kind}")
    router.add_api_route(
        base, add_item, methods=["POST"], status_code=201, responses=_RESPONSES, name=f"add {kind}"
    )
    item = base + "/{name}"
    router.add_api_route(
        item, change_item, methods=["PATCH"], responses=_RESPONSES, name=f"change one of {kind}"
    )
    router.add_api_route(
        item,
        remove_item,
        methods=["DELETE"],
        status_code=204,
        responses=_RESPONSES,
        name=f"remove one of {kind}",
    )
    for action, enabled in (("enable", True), ("disable", False)):
        router.add_api_route(
            f"{item}/{action}",
            switch(enabled),
            methods=["POST"],
            responses=_RESPONSES,
            name=f"{action} one of {kind}",
        )


for _kind in CONFIG_KINDS:
    _routes(_kind)


@router.get("/v1/admin/config.toml", response_class=PlainTextResponse)
async def export_config(admin: Admin) -> PlainTextResponse:
    return PlainTextResponse(admin.export(), media_type="application/toml")


@router.post("/v1/admin/reload")
async def reload_config(admin: Admin) -> Mapping[str, Any]:
    return await admin.reload()
