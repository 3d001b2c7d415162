"""Every HTTP error of the admin API as an RFC 9457 problem document (application/problem+json).

What this is for: routes raise `Problem` (or one of the opensmsc errors of STYLE §4) and
`install(app)` turns it, FastAPI's validation errors and Starlette's own 404/405 into
`{"type", "title", "status", "detail", ...}` with the right status code, so a client reads one
shape whatever went wrong. `type` is a URN naming the problem (`urn:opensmsc:problem:<slug>`):
absolute, as RFC 9457 §3.1.1 advises, without promising a web page behind it.

| problem slug | status | when |
|---|---|---|
| invalid-number | 400 | an MSISDN that does not parse as E.164 |
| invalid-request | 400 | a value that is well formed but unusable (an unknown MAP error name) |
| unknown-subscriber | 404 | no such subscriber in the HLR table |
| not-found | 404 | no such resource (unknown path) |
| method-not-allowed | 405 | |
| conflict | 409 | adding a subscriber that exists |
| validation | 422 | the body or a parameter does not match its schema (`errors` lists each) |
| policy-invalid | 422 | a policy reload found errors (`errors`: file, line, key, message each) |
| no-policy | 409 | a policy reload on a node without `[routing] policy_file` |
| config-invalid | 422 | a live change the file's rules refuse (`errors`: key, message each) |
| config-item-not-found | 404 | no account, connector or route of that name |
| config-item-exists | 409 | adding an account, connector or route whose name is taken |
| message-rejected | 400 / 429 | the SMSC refused a message; 429 + Retry-After when throttled |
| store-unavailable | 503 | the store could not persist |
| not-ready | 503 | GET /ready: the node cannot take traffic (`not_ready` lists each part and why) |
| internal | 500 | our bug: logged with its traceback |

The public API (http/api/) adds: invalid-json 400, unauthorized 401 (with WWW-Authenticate),
forbidden 403, unknown-message 404, payload-too-large 413, unsupported-media-type 415,
invalid-submission 422 (a message refused on its merits, with `field` and `command_status`),
idempotency-key-reused 422 (an Idempotency-Key sent again with another request) and
throttled 429 (with Retry-After).

What it is not: the routes (http/routes/).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from opensmsc.errors import MessageRejected, OpensmscError, StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.smpp import CommandStatus

__all__ = [
    "MEDIA_TYPE",
    "Problem",
    "install",
    "problem_response",
    "problem_title",
    "problem_type",
]

log = logging.getLogger(__name__)

MEDIA_TYPE: Final = "application/problem+json"
_TYPE_PREFIX: Final = "urn:opensmsc:problem:"

_TITLES: Final = {
    "invalid-number": "Invalid number",
    "invalid-request": "Invalid request",
    "unknown-subscriber": "Unknown subscriber",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflict",
    "validation": "Validation failed",
    "policy-invalid": "Policy not reloaded",
    "no-policy": "No policy file",
    "config-invalid": "Invalid configuration",
    "config-item-not-found": "No such item",
    "config-item-exists": "Item exists",
    "message-rejected": "Message rejected",
    "store-unavailable": "Store unavailable",
    "not-ready": "Not ready",
    "internal": "Internal error",
    # the public API (http/api/)
    "invalid-json": "Invalid JSON",
    "unauthorized": "Unauthorized",
    "forbidden": "Forbidden",
    "throttled": "Throughput exceeded",
    "payload-too-large": "Payload too large",
    "unsupported-media-type": "Unsupported media type",
    "invalid-submission": "Message refused",
    "policy-rejected": "Refused by the routing policy",
    "policy-throttled": "Held back by the routing policy",
    "unknown-message": "Unknown message",
    "idempotency-key-reused": "Idempotency key reused",
}


def problem_type(slug: str) -> str:
    """The `type` URI of a problem slug."""
    return _TYPE_PREFIX + slug


def problem_title(slug: str) -> str:
    """The `title` of a problem slug."""
    return _TITLES.get(slug, slug.replace("-", " ").capitalize())


class Problem(OpensmscError):
    """An HTTP error answer: `status`, a `slug` naming its type, a `detail` for this
    occurrence, and `extensions` (extra members, RFC 9457 §3.2)."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or _TITLES.get(slug, slug.replace("-", " ").capitalize())
        self.headers = dict(headers or {})
        self.extensions = extensions
        super().__init__(f"{status} {slug}: {detail}")


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """The problem+json response for these values."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title or _TITLES.get(slug, slug.replace("-", " ").capitalize()),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_HTTP_SLUGS: Final = {404: "not-found", 405: "method-not-allowed", 409: "conflict"}


def install(app: FastAPI) -> None:
    """Make every error of `app` a problem document."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.slug,
            exc.detail,
            title=exc.title,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "location": [str(part) for part in error.get("loc", ())],
                "message": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
            for error in exc.errors()
        ]
        first = errors[0] if errors else None
        detail = (
            f"{'.'.join(first['location'])}: {first['message']}"
            if first
            else "the request does not match its schema"
        )
        return problem_response(422, "validation", detail, instance=request.url.path, errors=errors)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = _HTTP_SLUGS.get(exc.status_code, "http-error")
        return problem_response(
            exc.status_code,
            slug,
            str(exc.detail),
            instance=request.url.path,
            headers=exc.headers,
        )

    async def on_rejected(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MessageRejected)
        throttled = exc.status == CommandStatus.ESME_RTHROTTLED
        full = exc.status == CommandStatus.ESME_RMSGQFUL  # the store is full: come back later
        return problem_response(
            429 if throttled else 503 if full else 400,
            "message-rejected",
            exc.reason,
            instance=request.url.path,
            headers={"Retry-After": "1" if throttled else "30"} if throttled or full else None,
            command_status=int(exc.status),
        )

    async def on_store(request: Request, exc: Exception) -> JSONResponse:
        log.error("store unavailable path=%s: %s", peer_text(request.url.path), exc)
        return problem_response(503, "store-unavailable", str(exc), instance=request.url.path)

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("request failed path=%s", peer_text(request.url.path), exc_info=exc)
        return problem_response(
            500, "internal", "an internal error occurred", instance=request.url.path
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(MessageRejected, on_rejected)
    app.add_exception_handler(StoreUnavailable, on_store)
    app.add_exception_handler(Exception, on_bug)
