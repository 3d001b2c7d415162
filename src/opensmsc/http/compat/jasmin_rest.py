"""Jasmin's REST API, drop-in: `POST /secure/send`, `POST /secure/sendbatch`,
`GET /secure/balance`, `GET /secure/rate` (and `/ping` for a JSON client: jasmin.py).

What this is for: clients of Jasmin's Falcon REST API (jasmin/protocols/rest/) work unchanged.
That API is a proxy in front of the HTTP API: it takes HTTP Basic credentials (no other check
of its own), turns a JSON body's `_` into `-` in the names, calls the HTTP API's /send with the
values as query parameters, and wraps the answer: 200 `{"data": <body>}`, else the HTTP API's
status with `{"message": <body>}`, the body stripped of `"` at both ends (so a success reads
`{"data": "Success \\"<id>"}`, the closing quote gone, as Jasmin's documentation shows). Here
the same happens in-process, with the same texts; its own errors (no or undecodable
Authorization, a client that does not accept JSON, a body that is not JSON) are Falcon's
documents.

/secure/sendbatch stores every message it can before answering (one transaction), where Jasmin
queues them for Celery workers; the batch's callback_url / errback_url are called for each
message afterwards as Jasmin's workers call them (GET with batchId, to, status, statusText;
once, no retry).

What it is not: Celery's throughput control of batches (the account's own throughput applies).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
from fastapi import APIRouter, Request, Response

from opensmsc.http.api.context import ApiContext, context_of

from .jasmin import (
    SEND_FIELDS,
    Args,
    JasminError,
    Ready,
    account_of,
    commit,
    jasmin_id,
    ready_to_send,
    send_args,
    send_defaults,
    validate,
)
from .jasmin import balance as _balance
from .jasmin import rate as _rate

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

_DOCS: Final = "http://docs.jasminsms.com/en/latest/apis/rest/index.html"
_JSON: Final = {"content-type": "application/json"}
_BATCH_CALLBACK_TIMEOUT: Final = 30.0


def _falcon_error(
    request: Request, status: int, title: str, description: str | None, *, href: str | None
) -> Response:
    """A Falcon 3 HTTPError as its default serializer writes it: JSON for a client that takes
    JSON (or gives no Accept), no body for one that does not."""
    document: dict[str, Any] = {"title": title}
    if description is not None:
        document["description"] = description
    if href is not None:
        document["link"] = {
            "text": "Documentation related to this error",
            "href": href,
            "rel": "help",
        }
    body = json.dumps(document, ensure_ascii=False).encode() if _accepts_json(request) else b""
    return Response(content=body, status_code=status, headers={**_JSON, "vary": "Accept"})


def _accepts_json(request: Request) -> bool:
    accept = request.headers.get("accept")
    if accept is None:
        return True
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media.lower() in ("*/*", "application/*", "application/json"):
            return True
    return False


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _credentials(request: Request) -> tuple[str, str]:
    """AuthenticationFilter: the Basic token's username and password; raises _Refused 401 (or
    415 first, as ContentTypeFilter runs before it)."""
    if not _accepts_json(request):
        raise _Refused(
            _falcon_error(
                request,
                415,
                "Unsupported media type",
                "This API supports JSON media type only.",
                href=_DOCS,
            )
        )
    token = request.headers.get("authorization")
    hint = "Please provide a valid Basic auth token"
    if token is None:
        raise _Refused(_falcon_error(request, 401, "Authentication required", hint, href=_DOCS))
    keys = token.split(" ")
    if len(keys) != 2:
        raise _Refused(_falcon_error(request, 401, f"Invalid token: {token}", hint, href=_DOCS))
    try:
        decoded = base64.b64decode(keys[1]).decode("utf-8")
    except Exception as exc:
        raise _Refused(
            _falcon_error(request, 401, f"Invalid token: {exc}", hint, href=_DOCS)
        ) from None
    parts = decoded.split(":")
    if len(parts) != 2:
        # Jasmin unpacks the split into two names outside its error handling: Falcon's 500.
        raise _Refused(_falcon_error(request, 500, "500 Internal Server Error", None, href=None))
    return parts[0], parts[1]


def _dashes(params: dict[str, Any]) -> dict[str, Any]:
    # "Convert _ to -" (for clients whose JSON tooling dislikes dashes); custom_tlvs is kept.
    return {(k if k == "custom_tlvs" else re.sub("_", "-", k)): v for k, v in params.items()}


def _as_query(params: dict[str, Any]) -> Args:
    """What Jasmin's HTTP API sees of `params` sent by `requests.get(params=...)`: each value
    as text (a list: its first item; None: left out), the first occurrence of each name."""
    args: Args = {}
    for name, value in params.items():
        values: Iterable[Any]
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            values = [value]
        else:
            values = value
        for item in values:
            if item is None:
                continue
            text = item if isinstance(item, bytes) else str(item).encode()
            args.setdefault(name.encode().decode("latin-1"), text)
            break
    return args


def _wrap(status: int, body: bytes) -> Response:
    """build_response_from_proxy_result, then the JSON middleware."""
    text = body.decode("utf-8").strip('"')
    if status != 200:
        return Response(
            content=json.dumps({"message": text}).encode(), status_code=status, headers=_JSON
        )
    data: Any = json.loads(text) if "{" in text else text
    return Response(content=json.dumps({"data": data}).encode(), status_code=200, headers=_JSON)


async def _read_json(request: Request) -> Any:
    data = await request.body()
    try:
        return json.loads(data)
    except Exception:
        raise _Refused(
            _falcon_error(
                request,
                412,
                "Cannot parse JSON data",
                f"Got unparseable json data: {data!r}",
                href=None,
            )
        ) from None


@router.post("/secure/send")
async def secure_send(request: Request) -> Response:
    context = context_of(request)
    try:
        username, password = _credentials(request)
        params = await _read_json(request)
        params = params.copy()
        params.update({"username": username, "password": password})
    except _Refused as refused:
        return refused.response
    except Exception:
        return _falcon_error(request, 500, "500 Internal Server Error", None, href=None)
    custom_tlvs = params.pop("custom_tlvs", None)
    params = _dashes(params)
    if custom_tlvs is not None:
        # Jasmin POSTs such a message as JSON to /send: the values keep their JSON types.
        params["custom_tlvs"] = custom_tlvs
        args: Args = {
            k.encode().decode("latin-1"): (v.encode() if isinstance(v, str) else v)
            for k, v in params.items()
        }
    else:
        args = _as_query(params)
    status, body = await send_args(context, request, args)
    return _wrap(status, body)


async def _proxied(request: Request, path: str) -> Response:
    # /secure/balance and /secure/rate: the HTTP API's answer with the token's credentials.
    try:
        username, password = _credentials(request)
    except _Refused as refused:
        return refused.response
    params = dict(request.query_params)
    params.update({"username": username, "password": password})
    query = urlencode(_dashes(params) if path == "rate" else params)
    scope = {**request.scope, "query_string": query.encode()}
    inner = Request(scope, request.receive)
    answer = await (_rate(inner) if path == "rate" else _balance(inner))
    return _wrap(answer.status_code, bytes(answer.body))


@router.get("/secure/balance")
async def secure_balance(request: Request) -> Response:
    return await _proxied(request, "balance")


@router.get("/secure/rate")
async def secure_rate(request: Request) -> Response:
    return await _proxied(request, "rate")


def _countdown(request: Request, value: Any) -> float:
    """parse_schedule_at: seconds from now; raises _Refused 412."""
    if value is None:
        return 0
    try:
        at = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except (ValueError, TypeError):
        match = re.match(r"^(\d+)s$", value) if isinstance(value, str) else None
        if not match:
            raise _Refused(
                _falcon_error(
                    request,
                    412,
                    "Cannot parse scheduled_at value",
                    f"Got unknown format: {value}, correct formats are 'YYYY-MM-DD mm:hh:ss' or "
                    "number of seconds, c.f. http://docs.jasminsms.com/en/latest/apis/rest",
                    href=None,
                )
            ) from None
        return int(match.group(1))
    now = datetime.now()
    if at < now:
        raise _Refused(
            _falcon_error(
                request,
                412,
                "Cannot schedule batch in past date",
                f"Invalid past date given: {at}",
                href=None,
            )
        )
    return (at - now).total_seconds()


@router.post("/secure/sendbatch")
async def secure_sendbatch(request: Request) -> Response:
    context = context_of(request)
    try:
        username, password = _credentials(request)
        balance_args = _as_query({"username": username, "password": password})
        try:
            validate(balance_args, {k: SEND_FIELDS[k] for k in ("username", "password")})
            await account_of(context, request, balance_args)
        except JasminError:
            raise _Refused(
                _falcon_error(
                    request,
                    412,
                    "Authentication failed",
                    f"Authentication failed for user: {username}",
                    href=None,
                )
            ) from None
        params = await _read_json(request)
        batch_config = params.get("batch_config", {})
        countdown = _countdown(request, batch_config.get("schedule_at", None))
        messages = params.get("messages", {})
        globals_ = params.get("globals", {})
    except _Refused as refused:
        return refused.response
    except Exception:
        return _falcon_error(request, 500, "500 Internal Server Error", None, href=None)
    batch_id = uuid.uuid4()
    scheduled_at = context.clock() + timedelta(seconds=countdown) if countdown > 0 else None
    outcomes: list[tuple[str, int, str]] = []  # (to, 1/0, statusText)
    readies: list[tuple[str, Ready]] = []
    try:
        items = _batch_items(username, password, globals_, messages)
    except Exception:  # a message that is not an object: Jasmin's code fails on it (Falcon 500)
        return _falcon_error(request, 500, "500 Internal Server Error", None, href=None)
    for to, args in items:
        try:
            send_defaults(args)
            validate(args, SEND_FIELDS)
            readies.append(
                (to, await ready_to_send(context, request, args, scheduled_at=scheduled_at))
            )
        except JasminError as exc:
            outcomes.append((to, 0, f'HTTPAPI error: Error "{_decoded(exc.message)}'))
    stored: list[tuple[str, int, str]] = []
    if readies:
        try:
            await commit(context, [ready for _, ready in readies])
        except JasminError as exc:
            stored = [
                (to, 0, f'HTTPAPI error: Error "{_decoded(exc.message)}') for to, _ in readies
            ]
        else:
            stored = [(to, 1, f'Success "{jasmin_id(ready.message_id)}"') for to, ready in readies]
    count = len(outcomes) + len(stored)
    _call_back(context, batch_id, batch_config, [*stored, *outcomes])
    data: dict[str, Any] = {"batchId": str(batch_id), "messageCount": count}
    if countdown > 0:
        data["scheduled"] = f"{countdown}s"
    return Response(content=json.dumps({"data": data}).encode(), headers=_JSON)


def _batch_items(
    username: str, password: str, globals_: Any, messages: Any
) -> list[tuple[str, Args]]:
    """(to, /send arguments) of each message of a batch, one per destination, as Jasmin builds
    them: the credentials, then `globals`, then the message; a message without `to` or
    content left out."""
    items: list[tuple[str, Args]] = []
    for item in messages:
        message = {"username": username, "password": password}
        message.update(globals_)
        message.update(item)
        custom_tlvs = message.pop("custom_tlvs", None)
        message = _dashes(message)
        if custom_tlvs is not None:
            message["custom_tlvs"] = custom_tlvs
        if "to" not in message or ("content" not in message and "hex-content" not in message):
            continue  # Jasmin skips such a message silently
        destinations = message["to"] if isinstance(message["to"], list) else [message["to"]]
        for to in destinations:
            items.append((str(to), _as_query({**message, "to": to})))
    return items


def _decoded(message: bytes) -> str:
    return message.decode("utf-8", errors="replace")


_BATCH_TASKS: Final[set[asyncio.Task[None]]] = set()


def _call_back(
    context: ApiContext, batch_id: uuid.UUID, config: Any, outcomes: list[tuple[str, int, str]]
) -> None:
    callback = config.get("callback_url") if isinstance(config, dict) else None
    errback = config.get("errback_url") if isinstance(config, dict) else None
    calls = [
        (callback if status == 1 else errback, to, status, text)
        for to, status, text in outcomes
        if (callback if status == 1 else errback)
    ]
    if not calls:
        return

    async def run() -> None:
        timeout = aiohttp.ClientTimeout(total=_BATCH_CALLBACK_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            for url, to, status, text in calls:
                params = {
                    "batchId": str(batch_id),
                    "to": to,
                    "status": str(status),
                    "statusText": text,
                }
                try:
                    async with client.get(str(url), params=params) as answer:
                        await answer.read()
                except Exception as exc:  # once, as Jasmin's batch_callback task
                    log.info("jasmin batch %s callback to %s failed: %r", batch_id, url, exc)

    task = asyncio.create_task(run(), name=f"jasmin batch {batch_id}")
    _BATCH_TASKS.add(task)
    task.add_done_callback(_BATCH_TASKS.discard)
