"""Answering the policy protocol's calls from a `routing.PolicyEngine`: one frame's body in,
the JSON text of its answer out (docs/policy-protocol.md §3, §4).

What this is for: the one place that knows what each method does, shared by every transport
(the TCP listener of server.py; an HTTP POST of the same body gets the same answer). It never
raises for anything a peer sends: a bad call gets its JSON-RPC error, an engine that fails gets
-32603 (and a log line with the traceback: a bug). What it is not: framing or sockets.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from opensmsc.policyd.convert import QueryReader, report_from_params, result_from_decision
from opensmsc.policyd.params import (
    HelloParams,
    HelloResult,
    InvalidParams,
    Method,
    ReportParams,
)
from opensmsc.policyd.wire import (
    PROTOCOL_VERSION,
    Batch,
    ErrorCode,
    ErrorResponse,
    Incoming,
    Invalid,
    JsonValue,
    Notification,
    Request,
    RequestId,
    Response,
    RpcError,
    error_object,
    parse,
)
from opensmsc.routing import Decision, PolicyEngine
from opensmsc.store import Clock, system_clock

__all__ = ["Dispatcher", "Peer"]

log = logging.getLogger(__name__)

_MAX_LOGGED_ERRORS: Final = 10  # per peer: more bad calls are only counted (a flood logs little)
_RESULT_CACHE: Final = 4096  # serialized results of distinct decisions kept
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_MAJOR: Final = PROTOCOL_VERSION.split(".", 1)[0]


@dataclass(slots=True)
class Peer:
    """One client's standing: whether its hello was accepted, what it did (for the log line
    when it leaves)."""

    name: str
    authorized: bool = False
    node: str | None = None
    calls: int = 0
    errors: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.error = RpcError(code, message)


class Dispatcher:
    """Answers calls with `engine`. `token`: when set, a peer's first call must be a `hello`
    carrying it. `node`: this server's name in hello's answer. `clock` gives `now` to the
    engine (aware UTC)."""

    def __init__(
        self,
        engine: PolicyEngine,
        *,
        node: str = "opensmsc",
        token: str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._engine = engine
        self._node = node
        self._token = token.encode() if token is not None else None
        self._clock = clock
        self._results: dict[int, tuple[Decision, str]] = {}
        self._read_query = QueryReader()
        self._methods: dict[str, Callable[[JsonValue, Peer], str]] = {
            Method.HELLO: self._hello,
            Method.KEEPALIVE: self._keepalive,
            Method.ROUTE_QUERY: self._route_query,
            Method.ROUTE_REPORT: self._route_report,
        }

    def new_peer(self, name: str) -> Peer:
        return Peer(name, authorized=self._token is None)

    def answer(self, body: bytes, peer: Peer) -> str | None:
        """The JSON text answering the message (or batch) in `body`; None when nothing is
        owed (notifications, responses)."""
        message = parse(body)
        if isinstance(message, Batch):
            answers = [a for m in message.messages if (a := self._one(m, peer)) is not None]
            # JSON-RPC §6: a batch of notifications only gets no answer at all.
            return "[" + ",".join(answers) + "]" if answers else None
        return self._one(message, peer)

    def _one(self, message: Incoming, peer: Peer) -> str | None:
        if type(message) is Request:  # nearly every message: before the match, which costs
            asked = message.id
            try:
                result = self._call(message.method, message.params, peer)
            except _Refused as exc:
                return self._error(asked, exc.error, peer)
            text_id = str(asked) if type(asked) is int else _dumps(asked)
            return '{"jsonrpc":"2.0","id":' + text_id + ',"result":' + result + "}"
        match message:
            case Notification(method, params):
                try:
                    self._call(method, params, peer)
                except _Refused as exc:
                    self._note(peer, f"notification {method}: {exc.error.message}")
                return None
            case Invalid(request_id, error):
                return self._error(request_id, error, peer)
            case Response() | ErrorResponse():
                # Never answered: two peers answering each other's answers would never stop.
                self._note(peer, "a response object where a call was expected (ignored)")
                return None
        raise AssertionError(message)  # pragma: no cover - every Incoming is matched above

    def _call(self, method: str, params: JsonValue, peer: Peer) -> str:
        handler = self._methods.get(method)
        if handler is None:
            raise _Refused(ErrorCode.METHOD_NOT_FOUND, f'Method not found: "{method[:64]}"')
        if not peer.authorized and method != Method.HELLO:
            raise _Refused(ErrorCode.UNAUTHORIZED, "Unauthorized: call hello with the token first")
        peer.calls += 1
        peer.counts[method] = peer.counts.get(method, 0) + 1
        try:
            return handler(params, peer)
        except InvalidParams as exc:
            raise _Refused(ErrorCode.INVALID_PARAMS, f"Invalid params: {exc}") from None

    def _error(self, request_id: RequestId | None, error: RpcError, peer: Peer) -> str:
        self._note(peer, f"id={request_id!r} answered {error.code}: {error.message}")
        return _dumps(error_object(request_id, error))

    def _note(self, peer: Peer, text: str) -> None:
        peer.errors += 1
        if peer.errors <= _MAX_LOGGED_ERRORS:
            log.info("policy call refused peer=%s %s", peer.name, text)
            if peer.errors == _MAX_LOGGED_ERRORS:
                log.info("policy call refused peer=%s: further refusals only counted", peer.name)

    # ---- methods -------------------------------------------------------------------------------

    def _hello(self, params: JsonValue, peer: Peer) -> str:
        hello = HelloParams.from_json(params)
        if hello.version.split(".", 1)[0] != _MAJOR:
            raise _Refused(
                ErrorCode.UNSUPPORTED_VERSION,
                f'Unsupported version "{hello.version[:16]}": the server speaks {PROTOCOL_VERSION}',
            )
        if self._token is not None:
            given = (hello.token or "").encode()
            if not hmac.compare_digest(given, self._token):
                peer.authorized = False
                log.warning("policy hello refused peer=%s: wrong or missing token", peer.name)
                raise _Refused(ErrorCode.UNAUTHORIZED, "Unauthorized: wrong or missing token")
        peer.authorized = True
        peer.node = hello.node
        log.info("policy hello peer=%s node=%s version=%s", peer.name, hello.node, hello.version)
        return _dumps(HelloResult(node=self._node).to_json())

    def _keepalive(self, params: JsonValue, peer: Peer) -> str:
        return "{}"

    def _route_query(self, params: JsonValue, peer: Peer) -> str:
        query = self._read_query(params)
        try:
            decision = self._engine.decide(query, self._clock())
        except Exception:
            log.exception("policy engine failed peer=%s account=%s", peer.name, query.account)
            raise _Refused(ErrorCode.INTERNAL_ERROR, "Internal error: the engine failed") from None
        # Decisions repeat (PrefixPolicy keeps one per route): each is serialized once. Keyed
        # by identity, which is cheaper than hashing the value; the entry holds the decision
        # so that its id is not reused while cached.
        cached = self._results.get(id(decision))
        if cached is not None and cached[0] is decision:
            return cached[1]
        if len(self._results) >= _RESULT_CACHE:
            self._results.clear()
        text = _dumps(result_from_decision(decision).to_json())
        self._results[id(decision)] = (decision, text)
        return text

    def _route_report(self, params: JsonValue, peer: Peer) -> str:
        report = report_from_params(ReportParams.from_json(params))
        try:
            self._engine.report(report, self._clock())
        except Exception:
            log.exception(
                "policy engine failed on a report peer=%s route=%s", peer.name, report.route
            )
            raise _Refused(ErrorCode.INTERNAL_ERROR, "Internal error: the engine failed") from None
        return "{}"
