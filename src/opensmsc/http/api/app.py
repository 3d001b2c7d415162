"""The public HTTP API as an ASGI app: `create_api_app(engine=..., authenticator=...)`.

What this is for: applications send and track messages over HTTP instead of binding SMPP
(issue 12). The app serves its own OpenAPI document (`/openapi.json`) and docs page (`/docs`,
from the node's own files), separate from the admin app (http/app.py). Every error is an RFC
9457 problem document (http/problems.py) naming the field and the reason; this module adds
the API's own answers: bad JSON is 400 `invalid-json`, a body that does not match the schema
422 `validation` (each field listed), a refused submission 422 `invalid-submission` with the
field and the SMPP command_status it would have had.

What it is not: the listener (http/server.py) or business logic (engine).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from opensmsc import __version__
from opensmsc.accounts import Authenticator
from opensmsc.engine import InvalidSubmission, PolicyRefusal, StoreAndForward
from opensmsc.http import problems
from opensmsc.http.docs import install_docs
from opensmsc.routing import Action
from opensmsc.store import Clock, system_clock

from . import messages
from .context import ApiContext, ApiSettings
from .limits import BodyLimits

__all__ = ["create_api_app", "purge_forever"]


def create_api_app(
    *,
    engine: StoreAndForward,
    authenticator: Authenticator,
    now: Callable[[], float],
    settings: ApiSettings | None = None,
    clock: Clock = system_clock,
) -> FastAPI:
    """The API over `engine`, for the accounts of `authenticator`; `now` gives monotonic
    seconds (the throughput buckets'), `clock` the wall clock (idempotency answers' age)."""
    settings = settings or ApiSettings()
    app = FastAPI(
        title="opensmsc API",
        version=__version__,
        description="Send and track SMS over HTTP. Authenticate with `Authorization: Bearer "
        "<API key>` or HTTP Basic (the account's SMPP system_id and password).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.api = ApiContext(
        engine=engine, authenticator=authenticator, settings=settings, now=now, clock=clock
    )
    problems.install(app)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(InvalidSubmission, _on_invalid_submission)
    app.add_exception_handler(PolicyRefusal, _on_policy_refusal)
    app.add_middleware(BodyLimits, max_body_size=settings.max_body_size)
    app.include_router(messages.router)
    install_docs(app)

    @app.get("/v1/health", tags=["node"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    _document_security(app)
    return app


async def purge_forever(app: FastAPI, interval: float) -> None:
    """The API's housekeeping, until cancelled: idempotency answers older than
    `[api] idempotency_ttl` are deleted every `interval` seconds."""
    context: ApiContext = app.state.api
    await context.idempotency.purge_forever(interval)


def _document_security(app: FastAPI) -> None:
    # The routes read the Authorization header themselves (http/api/auth.py: one parser, one
    # set of answers); the schemes are declared here so that the document and /docs show them.
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            }
            schema["components"].setdefault("schemas", {})["Problem"] = _PROBLEM_SCHEMA
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    if path.startswith("/v1/messages"):
                        operation["security"] = [{"apiKey": []}, {"basic": []}]
                    _document_problems(operation)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_PROBLEM_SCHEMA: Any = {
    "type": "object",
    "description": "An RFC 9457 problem document; `field` names the request field at fault.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": ["string", "null"]},
    },
    "required": ["type", "title", "status"],
}


def _document_problems(operation: dict[str, Any]) -> None:
    # Every error is a problem document (http/problems.py), whatever FastAPI would say of it.
    responses = operation.setdefault("responses", {})
    for code in ("400", "413", "415", "422", "429", "503"):
        responses.setdefault(code, {"description": _STATUS_TEXT[code]})
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            response["content"] = {
                problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }


_STATUS_TEXT = {
    "400": "the request cannot be read",
    "413": "the body is too large",
    "415": "the body is not JSON",
    "422": "a field is missing, of the wrong type or unusable",
    "429": "over the account's throughput; see Retry-After",
    "503": "the node cannot take it now",
}


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())[1:]) or "body",
            "location": [str(part) for part in error.get("loc", ())],
            "message": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    path = request.url.path
    bad_json = next((e for e in errors if e["type"] == "json_invalid"), None)
    if bad_json is not None:
        return problems.problem_response(
            400, "invalid-json", f"the body is not JSON: {bad_json['message']}", instance=path
        )
    first = errors[0] if errors else None
    detail = f"{first['field']}: {first['message']}" if first else "the request is not valid"
    return problems.problem_response(
        422,
        "validation",
        detail,
        instance=path,
        field=first["field"] if first else None,
        errors=errors,
    )


async def _on_policy_refusal(request: Request, exc: Exception) -> JSONResponse:
    # The routing policy's reject (403: the message is valid, the node will not send it) or
    # throttle (429 with the policy's retry-after), with the command_status SMPP answers.
    assert isinstance(exc, PolicyRefusal)
    if exc.action is Action.THROTTLE:
        wait_ms = exc.retry_after_ms or 1000
        return problems.problem_response(
            429,
            "policy-throttled",
            exc.reason,
            instance=request.url.path,
            headers={"Retry-After": str(max(1, math.ceil(wait_ms / 1000)))},
            command_status=int(exc.status),
            retry_after_ms=wait_ms,
        )
    return problems.problem_response(
        403,
        "policy-rejected",
        exc.reason,
        instance=request.url.path,
        command_status=int(exc.status),
    )


async def _on_invalid_submission(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidSubmission)
    return problems.problem_response(
        422,
        "invalid-submission",
        f"{exc.field}: {exc.reason}",
        instance=request.url.path,
        field=exc.field,
        command_status=int(exc.status),
    )
