"""The policy protocol on the wire, sans-IO: frames and JSON-RPC 2.0 messages
(docs/policy-protocol.md §2, §3).

What this is for: bytes in, messages out, and back. A frame is a 4-octet big-endian length then
that many octets of UTF-8 JSON; the JSON is a JSON-RPC 2.0 request, notification, response or
batch (https://www.jsonrpc.org/specification). `FrameBuffer` cuts a byte stream into frames
whatever its chunking; `parse` reads a frame's body into messages, each bad one as an `Invalid`
that says what error to answer; the `encode_*` functions build frames. The parameters of each
method are in params.py. What it is not: I/O, timers or dispatch (policyd/server.py and
policyd/client.py drive it); no clock is read and nothing is logged here.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

import orjson

__all__ = [
    "DEFAULT_MAX_FRAME",
    "MAX_BATCH",
    "PROTOCOL_VERSION",
    "Batch",
    "ErrorCode",
    "ErrorResponse",
    "Frame",
    "FrameBuffer",
    "FrameError",
    "Incoming",
    "Invalid",
    "JsonValue",
    "Notification",
    "Request",
    "RequestId",
    "Response",
    "RpcError",
    "encode_batch",
    "encode_error",
    "encode_frame",
    "encode_notification",
    "encode_request",
    "encode_response",
    "error_object",
    "notification_object",
    "parse",
    "request_object",
    "response_object",
]

PROTOCOL_VERSION: Final = "1.1"
"""docs/policy-protocol.md's version: a peer with another major version is refused in hello."""

DEFAULT_MAX_FRAME: Final = 65_535
"""The largest body a receiver accepts by default, in octets (the length field excluded)."""

MAX_BATCH: Final = 100
"""The most calls in one batch: bounds the work and the size of the answer to one frame."""

_LENGTH = struct.Struct(">I")

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
RequestId = int | str


class ErrorCode(IntEnum):
    """JSON-RPC 2.0 §5.1 codes, and ours in the range it leaves to servers (-32000..-32099)."""

    PARSE_ERROR = -32700  # the body is not UTF-8 JSON
    INVALID_REQUEST = -32600  # JSON, but not a JSON-RPC request
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603  # the engine failed on a valid query: a bug on the server
    UNAUTHORIZED = -32001  # hello's token is missing or wrong, or no hello was made yet
    UNSUPPORTED_VERSION = -32002  # hello asked for another major version
    OVERLOADED = -32003  # too many requests of this connection are being answered


# ---------------------------------------------------------------------------------- framing


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete frame: its body, not yet parsed."""

    body: bytes


@dataclass(frozen=True, slots=True)
class FrameError:
    """The stream cannot be read further (a length above the maximum, or zero): the driver
    closes the connection. Nothing is answered: the peer's framing cannot be trusted."""

    reason: str


class FrameBuffer:
    """Incremental framing. `feed()` returns, in order, the frames that `data` completes, then a
    `FrameError` if the stream broke; after that every `feed()` returns nothing."""

    __slots__ = ("_buf", "_failed", "_max")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < 2:
            raise ValueError(f"max_frame {max_frame} cannot hold a JSON body")
        self._max = max_frame
        self._buf = bytearray()
        self._failed = False

    @property
    def buffered(self) -> int:
        """Octets held for an incomplete frame."""
        return len(self._buf)

    @property
    def failed(self) -> bool:
        return self._failed

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame | FrameError]:
        if self._failed:
            return []
        buf = self._buf
        buf += data
        found: list[Frame | FrameError] = []
        pos, end = 0, len(buf)
        while end - pos >= 4:
            (length,) = _LENGTH.unpack_from(buf, pos)
            if length == 0 or length > self._max:
                # Checked from the length alone: an oversized frame is never buffered.
                found.append(FrameError(f"frame length {length} outside 1..{self._max}"))
                self._failed = True
                buf.clear()
                return found
            if end - pos - 4 < length:
                break
            found.append(Frame(bytes(buf[pos + 4 : pos + 4 + length])))
            pos += 4 + length
        del buf[:pos]
        return found


# One encoder for every frame (json.dumps with options builds one per call).
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
# What orjson may write as the standard encoder would (orjson: a tenth of its time); subclasses
# of str and int, dataclasses and datetimes go to the standard one, which knows or refuses them.
_ORJSON_OPTIONS: Final = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def _to_json(message: JsonValue) -> bytes:
    try:
        data = orjson.dumps(message, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:  # a non-string key, an integer beyond 64 bits, ...
        return _encode_json(message).encode()
    # orjson writes NaN and the infinities as null where the standard encoder refuses them:
    # a text with null is made again by that one (a real null gets the same text).
    return _encode_json(message).encode() if b"null" in data else data


def encode_frame(message: JsonValue) -> bytes:
    """The frame of one JSON value (a message, or a list of them for a batch). Raises
    ValueError for NaN or an infinity, which JSON cannot carry."""
    data = _to_json(message)
    return _LENGTH.pack(len(data)) + data


# ---------------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class RpcError:
    """A JSON-RPC error object: `message` reads alone in a log; `data` is optional detail."""

    code: int
    message: str
    data: JsonValue = None


@dataclass(frozen=True, slots=True)
class Request:
    """A call that wants an answer with the same `id`. `params` is a JSON object or array, or
    None when absent; params.py checks it for each method."""

    id: RequestId
    method: str
    params: JsonValue = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A call that wants no answer (JSON-RPC §4.1: a request without `id`)."""

    method: str
    params: JsonValue = None


@dataclass(frozen=True, slots=True)
class Response:
    """A successful answer to the request `id`."""

    id: RequestId
    result: JsonValue


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """A failed answer; `id` is None when the request's id could not be read."""

    id: RequestId | None
    error: RpcError


@dataclass(frozen=True, slots=True)
class Invalid:
    """Something received that is not a valid message: answer `error` to `id` (None when the
    id could not be read). A peer's mistake, never a reason to close the connection."""

    id: RequestId | None
    error: RpcError


Incoming = Request | Notification | Response | ErrorResponse | Invalid


@dataclass(frozen=True, slots=True)
class Batch:
    """A JSON array of messages (JSON-RPC §6): answered, if at all, by one array of the
    answers to its requests, in any order."""

    messages: tuple[Incoming, ...] = field(default_factory=tuple)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# One decoder for every frame (json.loads with an option builds one per call).
_decode_json = json.JSONDecoder(parse_constant=_reject_constant).decode
# 19 digits in a row: maybe an integer beyond 64 bits, which orjson reads as a float.
_LONG_DIGITS: Final = re.compile(rb"[0-9]{19}")


def _from_json(body: bytes) -> object:
    """The JSON value of `body`, as the standard decoder reads it: orjson (a quarter of its
    time) when it can, the standard decoder for what orjson refuses (it says why) or may read
    otherwise (long integers; NaN, lone surrogates and numbers beyond a double are refused by
    orjson, so they reach it too). Raises UnicodeDecodeError, ValueError, RecursionError."""
    if _LONG_DIGITS.search(body) is None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return _decode_json(body.decode("utf-8"))


def parse(body: bytes) -> Incoming | Batch:
    """The message (or batch) in a frame's body. Never raises: what cannot be read comes back
    as `Invalid` with the error to answer (parse error, invalid request)."""
    try:
        value = _from_json(body)
    except UnicodeDecodeError as exc:
        return Invalid(None, RpcError(ErrorCode.PARSE_ERROR, f"Parse error: not UTF-8 ({exc})"))
    except (ValueError, RecursionError) as exc:
        # RecursionError: JSON nested deeper than the decoder goes is refused, not a crash.
        return Invalid(None, RpcError(ErrorCode.PARSE_ERROR, f"Parse error: {_short(exc)}"))
    if isinstance(value, list):
        if not value:
            return _invalid(None, "empty batch")
        if len(value) > MAX_BATCH:
            return _invalid(None, f"a batch of {len(value)} calls; at most {MAX_BATCH}")
        return Batch(tuple(_message(item) for item in value))
    return _message(value)


def _message(value: object) -> Incoming:
    if not isinstance(value, dict):
        return _invalid(None, f"expected an object, got {_json_type(value)}")
    has_id = "id" in value
    raw_id = value.get("id")
    # Ids are strings or integers. JSON-RPC also allows null and fractions but discourages
    # both; null is read only on an error response (the answer to an unreadable id).
    request_id: RequestId | None = (
        raw_id if isinstance(raw_id, str) or type(raw_id) is int else None
    )
    if has_id and request_id is None and not (raw_id is None and "error" in value):
        return _invalid(None, f"id must be a string or an integer, got {_json_type(raw_id)}")
    if value.get("jsonrpc") != "2.0":
        return _invalid(request_id, 'jsonrpc must be "2.0"')
    if "method" in value:
        method, params = value["method"], value.get("params", _ABSENT)
        if not isinstance(method, str):
            return _invalid(request_id, f"method must be a string, got {_json_type(method)}")
        if params is _ABSENT:
            params = None
        elif not isinstance(params, dict | list):
            return _invalid(
                request_id, f"params must be an object or array, got {_json_type(params)}"
            )
        if request_id is None:
            return Notification(method, params)
        return Request(request_id, method, params)
    if "result" in value and "error" not in value:
        if request_id is None:
            return _invalid(None, "a response needs an id")
        return Response(request_id, value["result"])
    if "error" in value and "result" not in value:
        if not has_id:
            return _invalid(None, "a response needs an id")
        error = _error(value["error"])
        if error is None:
            return _invalid(
                request_id, "error must be an object with an integer code and a message"
            )
        return ErrorResponse(request_id, error)
    return _invalid(request_id, "expected method, or result or error")


_ABSENT: Final = object()


def _error(value: object) -> RpcError | None:
    if not isinstance(value, dict):
        return None
    code, message = value.get("code"), value.get("message")
    if type(code) is not int or not isinstance(message, str):
        return None
    return RpcError(code, message, value.get("data"))


def _invalid(request_id: RequestId | None, detail: str) -> Invalid:
    return Invalid(request_id, RpcError(ErrorCode.INVALID_REQUEST, f"Invalid request: {detail}"))


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return "an object"


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# ---------------------------------------------------------------------------------- encoding


def request_object(request_id: RequestId, method: str, params: JsonValue = None) -> JsonValue:
    message: dict[str, JsonValue] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification_object(method: str, params: JsonValue = None) -> JsonValue:
    message: dict[str, JsonValue] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def response_object(request_id: RequestId, result: JsonValue) -> JsonValue:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_object(request_id: RequestId | None, error: RpcError) -> JsonValue:
    body: dict[str, JsonValue] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


def encode_request(request_id: RequestId, method: str, params: JsonValue = None) -> bytes:
    return encode_frame(request_object(request_id, method, params))


def encode_notification(method: str, params: JsonValue = None) -> bytes:
    return encode_frame(notification_object(method, params))


def encode_response(request_id: RequestId, result: JsonValue) -> bytes:
    return encode_frame(response_object(request_id, result))


def encode_error(request_id: RequestId | None, error: RpcError) -> bytes:
    return encode_frame(error_object(request_id, error))


def encode_batch(messages: Iterable[JsonValue]) -> bytes:
    """One frame holding these message objects as a JSON array."""
    return encode_frame(list(messages))
