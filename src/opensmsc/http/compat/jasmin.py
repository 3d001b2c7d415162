"""Jasmin's HTTP API, drop-in: `/send` (GET, form POST, JSON POST), `/balance`, `/rate` and
`/ping`, answered as Jasmin 0.11 answers them, so that client code written for Jasmin works
unchanged against the node's HTTP API listener.

What this is for: an operator migrating from Jasmin points its applications at opensmsc. The
requests are read as Jasmin's Twisted resources read them (jasmin/protocols/http/endpoints/
send.py, balance.py, rate.py, ping.py; validation.py UrlArgsValidator): the first value of each
argument, query arguments then form fields, or the keys of a JSON body when the Content-Type is
exactly `application/json`; every argument name checked against the endpoint's list and its
regular expression, in Jasmin's order, with Jasmin's own error texts and HTTP statuses
(`Error "Argument [priority] has an invalid value: [5]."`, 400; `Error "Authentication failure
for username:foo"`, 403; `Error "No route found"`, 412 ...). A message is answered
`Success "<id>"` (200) once it is durably stored, through the engine's Acceptor as the JSON API's.

The id is our message id written as a UUID (`jasmin_id`): Jasmin's ids are UUIDs and clients
cut them out of the answer by position (`body[9:45]`).

Delivery reports: `dlr-url` with `dlr-level` 1 (the SMSC accepted the message: stored as a
webhook in the same transaction as the message), 2 (the terminal receipt) or 3 (both), sent as
Jasmin sends them by the webhook sender with the "jasmin" callback style (jasmin_callbacks.py).

What it is not: Jasmin's user model. The username and password are the account's SMPP system_id
and password (http/api/auth.py: the same checks, failure counting, `api_enabled`); Jasmin's
per-user authorizations and value filters, billing (balance, rates), interceptors and tags have
no counterpart here. docs/http-jasmin.md lists every difference.
"""

from __future__ import annotations

import binascii
import email
import email.policy
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Request, Response

from opensmsc.accounts import Account
from opensmsc.engine import InvalidSubmission, ReceiptRequest, Submission, build_receipt
from opensmsc.errors import MessageRejected, StoreUnavailable
from opensmsc.http.api.auth import login, take_tokens
from opensmsc.http.api.context import ApiContext, context_of
from opensmsc.http.api.convert import destination, source
from opensmsc.http.problems import Problem
from opensmsc.smpp import MessageState, SmppError, parse_schedule
from opensmsc.sms import Alphabet, EncodingError, choose_alphabet
from opensmsc.store import Address, StoredMessage

__all__ = [
    "SEND_FIELDS",
    "Args",
    "JasminError",
    "Ready",
    "account_of",
    "commit",
    "jasmin_id",
    "query_args",
    "ready_to_send",
    "router",
    "send_args",
    "send_defaults",
    "validate",
]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# The values of a request's arguments as Jasmin's code sees them: the first value of each name,
# in the order Twisted's request.args holds them. Query and form values are octets (percent-
# decoded, not decoded as text); a JSON body's values are as JSON gave them, strings as UTF-8.
# Names are kept as str holding their octets (latin-1) so that error texts give them back as
# they came.
Args = dict[str, object]

_TEXT: Final = {"content-type": "text/plain"}
_JSON: Final = {"content-type": "application/json"}


class JasminError(Exception):
    """An answer Jasmin gives as `Error "<message>"` (or a JSON string) with `status`."""

    def __init__(self, status: int, message: bytes | str) -> None:
        self.status = status
        self.message = message.encode() if isinstance(message, str) else message
        super().__init__(status, message)


def _unknown(exc: BaseException) -> JasminError:
    # Jasmin answers an exception of its own code with its text (a body its JSON parser could
    # not read, say): the same texts from the same Python operations.
    return JasminError(500, f"Unknown error: {exc}")


@dataclass(frozen=True, slots=True)
class _Field:
    optional: bool
    pattern: re.Pattern[bytes] | None = None


def _f(pattern: bytes | None = None, *, optional: bool = True) -> _Field:
    return _Field(optional, None if pattern is None else re.compile(pattern))


_USER: Final = rb"^.{1,16}$"
_TO: Final = rb"^\+{0,1}\d+$"
_CODING: Final = rb"^(0|1|2|3|4|5|6|7|8|9|10|13|14){1}$"
_TAGS: Final = rb"^([-a-zA-Z0-9,])*$"
# send.py render_POST: the names /send knows, in the order Jasmin checks them.
SEND_FIELDS: Final = {
    "to": _f(_TO, optional=False),
    "from": _f(),
    "coding": _f(_CODING),
    "username": _f(_USER, optional=False),
    "password": _f(_USER, optional=False),
    "priority": _f(rb"^[0-3]$"),
    "sdt": _f(rb"^\d{2}\d{2}\d{2}\d{2}\d{2}\d{2}\d{1}\d{2}(\+|-|R)$"),
    "validity-period": _f(rb"^\d+$"),
    "dlr": _f(rb"^(yes|no)$", optional=False),
    "dlr-url": _f(rb"^(http|https)\://.*$"),
    "dlr-level": _f(rb"^[1-3]$"),
    "dlr-method": _Field(True, re.compile(rb"^(get|post)$", re.IGNORECASE)),
    "tags": _f(_TAGS),
    "content": _f(),
    "hex-content": _f(),
    "custom_tlvs": _f(),
}
_RATE_FIELDS: Final = {
    "to": _f(_TO, optional=False),
    "from": _f(),
    "coding": _f(_CODING),
    "username": _f(_USER, optional=False),
    "password": _f(_USER, optional=False),
    "priority": _f(rb"^[0-3]$"),
    "validity-period": _f(rb"^\d+$"),
    "tags": _f(_TAGS),
    "content": _f(),
    "hex-content": _f(),
}
_BALANCE_FIELDS: Final = {
    "username": _f(_USER, optional=False),
    "password": _f(_USER, optional=False),
}


def jasmin_id(message_id: str) -> str:
    """Our message id as a Jasmin client expects one, a UUID (36 characters): the id's 16 hex
    digits first (8-4-4), then zeros. An id of another shape is given as it is."""
    if len(message_id) == 16:
        try:
            int(message_id, 16)
        except ValueError:
            return message_id
        return str(uuid.UUID(message_id + "0" * 16))
    return message_id


# ---- reading a request as Twisted does ---------------------------------------------------------


def _pairs(data: bytes) -> list[tuple[str, bytes]]:
    # twisted.web.http.parse_qs(data, keep_blank_values=1): "&" and ";" both separate.
    pairs = []
    for item in (part for chunk in data.split(b"&") for part in chunk.split(b";")):
        name, equals, value = item.partition(b"=")
        if not equals:
            continue  # Twisted's parse_qs drops a name without "="
        name = unquote_to_bytes(name.replace(b"+", b" "))
        pairs.append((name.decode("latin-1"), unquote_to_bytes(value.replace(b"+", b" "))))
    return pairs


def _first(pairs: list[tuple[str, bytes]]) -> dict[str, object]:
    first: dict[str, object] = {}
    for name, value in pairs:
        first.setdefault(name, value)
    return first


def query_args(query: bytes) -> Args:
    """The arguments of a query string."""
    return _first(_pairs(query))


def _media_type(content_type: str | None) -> str:
    return "" if content_type is None else content_type.split(";")[0].strip().lower()


def _multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """The fields of a multipart/form-data body (as Twisted's cgi.parse_multipart gives
    them: a PHP client posting an array with curl sends this)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.message_from_bytes(head + body, policy=email.policy.HTTP)
    fields = []
    if message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields.append((name, payload))
    return fields


async def _request_args(request: Request) -> tuple[Args, bytes | None]:
    """The query and form arguments, and a JSON body still to be read (Jasmin reads it inside
    its error handling: a body that is not JSON is answered as an unknown error)."""
    args = query_args(request.scope.get("query_string", b""))
    if request.method != "POST":
        return args, None
    body = await request.body()
    content_type = request.headers.get("content-type")
    if content_type == "application/json":
        return args, body
    if body and content_type is not None:
        media = _media_type(content_type)
        if media == "application/x-www-form-urlencoded":
            args.update(_first(_pairs(body)))
        elif media == "multipart/form-data":
            args.update(_first(_multipart(content_type, body)))
    return args, None


def _add_json(args: Args, body: bytes) -> None:
    # send.py: `for key, value in json.loads(body).items(): args[key.encode()] = [value]`, a
    # str value encoded; the operations (and so the texts of their exceptions) are Jasmin's.
    data = json.loads(body)
    for key, value in data.items():
        name = key.encode().decode("latin-1") if isinstance(key, str) else str(key)
        args[name] = value.encode() if isinstance(value, str) else value


def validate(args: Args, fields: Mapping[str, _Field]) -> None:
    """UrlArgsValidator.validate: unknown names and then every field, in Jasmin's order."""
    if not args:
        raise JasminError(
            400, "Mandatory arguments not found, please refer to the HTTPAPI specifications."
        )
    for arg in args:
        if arg not in fields:
            raise JasminError(400, b"Argument [%s] is unknown." % arg.encode("latin-1"))
        for name, spec in fields.items():
            if name in args:
                given = args[name]
                if isinstance(given, dict | list):
                    continue
                value: object
                if isinstance(given, int | float):
                    value = str(given).encode()
                elif isinstance(given, str):
                    value = given.encode()
                else:
                    value = given
                if spec.pattern is not None:
                    try:
                        matched = spec.pattern.match(value)  # type: ignore[call-overload]
                    except TypeError as exc:  # a JSON null
                        raise _unknown(exc) from None
                    if matched is None:
                        raise JasminError(
                            400,
                            b"Argument [%s] has an invalid value: [%s]."
                            % (name.encode("latin-1"), value),
                        )
            elif not spec.optional:
                raise JasminError(
                    400, b"Mandatory argument [%s] is not found." % name.encode("latin-1")
                )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def send_defaults(args: Args) -> None:
    """send.py render_POST: the defaults set before validation."""
    args.setdefault("custom_tlvs", [])
    args.setdefault("coding", b"0")
    if "dlr-url" in args or "dlr-level" in args:
        args["dlr"] = b"yes"
    args.setdefault("dlr", b"no")
    if args["dlr"] == b"yes":
        args.setdefault("dlr-level", 1)
        args.setdefault("dlr-method", b"POST")
    if "dlr-method" in args:
        method = args["dlr-method"]
        try:
            args["dlr-method"] = method.upper()  # type: ignore[attr-defined]
        except AttributeError as exc:  # a JSON number
            raise _unknown(exc) from None


def _check_content(args: Args) -> None:
    if "content" not in args and "hex-content" not in args:
        raise JasminError(400, "content or hex-content not present.")
    if "content" in args and "hex-content" in args:
        raise JasminError(400, "content and hex-content cannot be used both in same request.")


def _hex(value: object) -> bytes:
    try:
        return binascii.unhexlify(value)  # type: ignore[arg-type]
    except Exception:
        raise JasminError(400, f"Invalid hex-content data: '{value}'") from None


def _gsm_text(content: bytes) -> str:
    # Jasmin encodes the UTF-8 content to GSM 03.38 with errors="replace": a character the
    # alphabet lacks becomes "?".
    text = content.decode()
    try:
        choose_alphabet(text, force=Alphabet.GSM7)
        return text
    except EncodingError:
        pass
    kept = []
    for char in text:
        try:
            choose_alphabet(char, force=Alphabet.GSM7)
            kept.append(char)
        except EncodingError:
            kept.append("?")
    return "".join(kept)


# ---- sending -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Ready:
    """A message checked and prepared, to be committed: its records (a receipt wanted on the
    last part only, as Jasmin asks), the level-1 notification owed, the answer's id."""

    account: Account
    records: tuple[StoredMessage, ...]
    message_id: str
    notifications: list[StoredMessage] = field(default_factory=list)


async def account_of(context: ApiContext, request: Request, args: Args) -> Account:
    try:
        username, password = _text(args["username"]), _text(args["password"])
    except UnicodeDecodeError as exc:  # Jasmin decodes them as UTF-8 and fails
        raise _unknown(exc) from None
    try:
        return await login(context, request, username, password)
    except Problem:
        raise JasminError(403, f"Authentication failure for username:{username}") from None


async def ready_to_send(
    context: ApiContext, request: Request, args: Args, *, scheduled_at: datetime | None = None
) -> Ready:
    """Check `args` (already validated: `validate(args, SEND_FIELDS)`) as Jasmin's
    route_routable does, in its order (content, credentials, route, throughput), and prepare
    the message. `scheduled_at`: a batch's schedule when the message gives no `sdt`. Raises
    JasminError."""
    try:
        return await _ready(context, request, args, scheduled_at)
    except UnicodeDecodeError as exc:  # an argument that is not UTF-8 where text is needed
        raise _unknown(exc) from None


async def _ready(
    context: ApiContext, request: Request, args: Args, scheduled_at: datetime | None
) -> Ready:
    coding = args["coding"]
    binary: bytes | None = None
    text: str | None = None
    try:
        if "hex-content" in args:
            binary = _hex(args["hex-content"])
        else:
            content = args["content"]
            if not isinstance(content, bytes):
                # A JSON null, number or array: Jasmin calls its .encode() and fails.
                raise AttributeError(f"'{type(content).__name__}' object has no attribute 'encode'")
            if coding == b"0":
                text = _gsm_text(content)
            else:
                binary = content
    except (UnicodeDecodeError, AttributeError) as exc:
        raise _unknown(exc) from None
    account = await account_of(context, request, args)
    engine = context.engine
    now = context.clock()
    dlr = args["dlr"] == b"yes"
    level = int(_text(args["dlr-level"])) if dlr else 0
    method = _text(args["dlr-method"]) if dlr else "POST"
    url = _text(args["dlr-url"]) if dlr and "dlr-url" in args else None
    try:
        to = destination(_text(args["to"]))
    except Problem:
        raise JasminError(400, _invalid("to", args["to"])) from None
    sender = Address(0, 0, "")
    if "from" in args:
        try:
            given = args["from"]
            sender = source(
                given.decode("utf-8", "replace") if isinstance(given, bytes) else str(given)
            )
        except Problem:
            raise JasminError(400, _invalid("from", args["from"])) from None
    schedule = scheduled_at
    if "sdt" in args:
        try:
            schedule = parse_schedule(_text(args["sdt"]), now=now)
        except SmppError as exc:
            raise JasminError(400, _invalid("sdt", args["sdt"], exc)) from None
    submission = Submission(
        source=sender,
        destination=to,
        text=text,
        binary=binary,
        alphabet=Alphabet.GSM7 if text is not None else None,
        data_coding=int(_text(coding)) if binary is not None else None,
        scheduled_at=schedule,
        validity=(
            timedelta(minutes=int(_text(args["validity-period"])))
            if "validity-period" in args
            else None
        ),
        priority=int(_text(args["priority"])) if "priority" in args else 0,
        receipt=ReceiptRequest.FINAL
        if url is not None and level in (2, 3)
        else ReceiptRequest.NONE,
        callback_url=url,
        callback_style=f"jasmin;level=2;method={method}" if url is not None else None,
    )
    try:
        prepared = engine.acceptor.prepare(account.system_id, submission)
    except InvalidSubmission as exc:
        raise JasminError(400, _refused(exc)) from None
    except MessageRejected:  # the store is behind: as Jasmin's throughput answer
        raise JasminError(403, "User throughput exceeded") from None
    records = prepared.records
    first = records[0]
    route = engine.router.route_name_for(first.destination.addr)
    if engine.router.route_for(first) is None:
        raise JasminError(412, "No route found")
    message_id = first.message_id
    policy = engine.policies(account.system_id)
    if len(records) > 1:
        # Jasmin asks for a receipt on the last part only and reports it under the message's
        # id: the parts carry that id as their client reference, which receipts copy. (An
        # account with whole-message receipts gets one per message anyway: every part keeps
        # the request, whichever ends last reports.)
        last = len(records) - 1 if not policy.whole_message_receipts else -1
        records = tuple(
            replace(
                r,
                client_reference=message_id,
                registered_delivery=r.registered_delivery if last in (i, -1) else 0,
            )
            for i, r in enumerate(records)
        )
    ready = Ready(account, records, message_id)
    if url is not None and level in (1, 3):
        accepted = build_receipt(
            first,
            receipt_id=engine.ids.next(),
            state=MessageState.ENROUTE,
            at=first.submitted_at,
            expires_at=first.submitted_at + policy.default_validity,
            intermediate=True,
        )
        ready.notifications.append(
            replace(
                accepted,
                callback_url=url,
                callback_style=f"jasmin;level=1;method={method};connector={route}",
                client_reference=message_id,
            )
        )
    return ready


def _invalid(name: str, value: object, reason: object = None) -> bytes:
    shown = value if isinstance(value, bytes) else str(value).encode()
    text = b"Argument [%s] has an invalid value: [%s]." % (name.encode(), shown)
    return text if reason is None else text[:-1] + b" (%s)." % str(reason).encode()


# Our field names in an InvalidSubmission, as Jasmin's arguments.
_ARGUMENTS: Final = {
    "text": "content",
    "binary": "hex-content",
    "encoding": "coding",
    "validity": "validity-period",
    "scheduled_at": "sdt",
    "to": "to",
    "priority": "priority",
}


def _refused(exc: InvalidSubmission) -> str:
    return f"Argument [{_ARGUMENTS.get(exc.field, exc.field)}] refused: {exc.reason}."


async def commit(context: ApiContext, readies: list[Ready]) -> None:
    """Take the messages from their accounts' throughput and store them in one transaction.
    Raises JasminError (throughput 403, the store 500): then nothing was stored."""
    for ready in readies:
        try:
            take_tokens(context, ready.account, len(ready.records))
        except Problem:
            raise JasminError(403, "User throughput exceeded") from None
    records = [r for ready in readies for r in ready.records]
    notifications = [n for ready in readies for n in ready.notifications]
    try:
        await context.engine.acceptor.store(records, notifications=notifications)
    except StoreUnavailable as exc:
        log.warning("jasmin /send not stored: %s", exc)
        raise JasminError(
            500, "Cannot send submit_sm, check SMPPClientManagerPB log file for details"
        ) from None
    if notifications:
        context.engine.webhook_stored.set()


async def send_args(context: ApiContext, request: Request, args: Args) -> tuple[int, bytes]:
    """/send with these arguments: (HTTP status, body)."""
    try:
        send_defaults(args)
        validate(args, SEND_FIELDS)
        _check_content(args)
        ready = await ready_to_send(context, request, args)
        await commit(context, [ready])
    except JasminError as exc:
        return exc.status, b'Error "%s"' % exc.message
    return 200, b'Success "%s"' % jasmin_id(ready.message_id).encode()


def _text_response(status: int, body: bytes) -> Response:
    return Response(content=body, status_code=status, headers=_TEXT)


def _json_response(status: int, document: object) -> Response:
    return Response(content=json.dumps(document).encode(), status_code=status, headers=_JSON)


@router.api_route("/send", methods=["GET", "POST"])
async def send(request: Request) -> Response:
    context = context_of(request)
    args, json_body = await _request_args(request)
    if json_body is not None:
        try:
            _add_json(args, json_body)
        except Exception as exc:
            return _text_response(500, b'Error "%s"' % _unknown(exc).message)
    status, body = await send_args(context, request, args)
    return _text_response(status, body)


@router.get("/balance")
async def balance(request: Request) -> Response:
    context = context_of(request)
    args = query_args(request.scope.get("query_string", b""))
    try:
        validate(args, _BALANCE_FIELDS)
        await account_of(context, request, args)
    except JasminError as exc:
        return _json_response(exc.status, exc.message.decode(errors="replace"))
    # opensmsc keeps no balance nor message quota: what Jasmin answers for a user without them.
    return _json_response(200, {"balance": "ND", "sms_count": "ND"})


@router.get("/rate")
async def rate(request: Request) -> Response:
    context = context_of(request)
    args = query_args(request.scope.get("query_string", b""))
    try:
        args.setdefault("coding", b"0")
        if "hex-content" not in args and "content" not in args:
            args["content"] = b""
        validate(args, _RATE_FIELDS)
        if "content" in args and "hex-content" in args:
            raise JasminError(400, "content and hex-content cannot be used both in same request.")
        count = await _rate(context, request, args)
    except JasminError as exc:
        return _json_response(exc.status, exc.message.decode(errors="replace"))
    # No rating here: every route costs 0, as a Jasmin route without a rate.
    return _json_response(200, {"unit_rate": 0.0, "submit_sm_count": count})


async def _rate(context: ApiContext, request: Request, args: Args) -> int:
    args = dict(args)
    args.setdefault("dlr", b"no")
    ready = await ready_to_send(context, request, args)
    return len(ready.records)


@router.get("/ping")
async def ping(request: Request) -> Response:
    if request.headers.get("accept", "").startswith("application/json"):
        # The REST API's /ping (a JSON client): the same path on one listener.
        return _json_response(200, {"data": "Jasmin/PONG"})
    return Response(content=b"Jasmin/PONG", headers={"content-type": "text/html"})
