"""The methods of the policy protocol and their parameters and results, sans-IO
(docs/policy-protocol.md §4): `hello`, `keepalive`, `route.query`, `route.report`.

What this is for: turning a JSON-RPC `params` (or `result`) value into a typed, checked value
and back, so that the server and the client read the same shapes and every refusal names the
member at fault (`destination.addr: expected a string of at most 64 characters`). Members a
receiver does not know are ignored: a 1.x peer may send members added after 1.0. What it is
not: the routing values (routing.RouteQuery, routing.Decision; policyd/convert.py maps them)
or dispatch (policyd/server.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.policyd.wire import PROTOCOL_VERSION, JsonValue

__all__ = [
    "ACTIONS",
    "OUTCOMES",
    "AddressMembers",
    "HelloParams",
    "HelloResult",
    "InvalidParams",
    "Method",
    "QueryMembers",
    "QueryParams",
    "QueryResult",
    "ReportParams",
    "RewriteParams",
    "RouteEntry",
    "WireAddress",
    "query_members",
]

ACTIONS: Final = ("route", "reject", "throttle", "defer")
OUTCOMES: Final = ("ok", "temp", "perm")

MAX_ADDR: Final = 64
MAX_NAME: Final = 64  # account, route, node
MAX_SERVICE_TYPE: Final = 32
MAX_CONTENT_SAMPLE: Final = 2048
MAX_PRIORITY: Final = 3  # SMPP 3.4 §5.2.14: priority_flag 0 to 3; higher values are reserved
MAX_REASON: Final = 1024
MAX_TOKEN: Final = 1024
MAX_ROUTES: Final = 32
MAX_TLVS: Final = 64
MAX_MS: Final = 2**31 - 1  # about 24 days: durations in milliseconds
MAX_NUMBER: Final = 1e12  # costs and latencies: any larger is a mistake (and may not be a float)


class Method(StrEnum):
    HELLO = "hello"
    KEEPALIVE = "keepalive"
    ROUTE_QUERY = "route.query"
    ROUTE_REPORT = "route.report"


class InvalidParams(OpensmscError):
    """A params or result value that is not what its method takes: answered -32602, with this
    message naming the member (`where`) and what was expected."""

    def __init__(self, where: str, expected: str, got: object) -> None:
        self.where = where
        super().__init__(f"{where}: expected {expected}, got {_show(got)}")


def _show(value: object) -> str:
    if value is _MISSING:
        return "nothing"
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_MISSING: Final = object()


class _Reader:
    """Reads the members of one JSON object, naming `prefix.member` in refusals."""

    __slots__ = ("_obj", "_prefix")

    def __init__(self, value: JsonValue | object, prefix: str, what: str = "an object") -> None:
        if not isinstance(value, dict):
            raise InvalidParams(prefix or "params", what, value)
        self._obj: Mapping[str, object] = value
        self._prefix = f"{prefix}." if prefix else ""

    def get(self, key: str) -> object:
        return self._obj.get(key, _MISSING)

    def fail(self, key: str, expected: str, got: object) -> InvalidParams:
        return InvalidParams(self._prefix + key, expected, got)

    def text(self, key: str, maximum: int, *, default: str | None = None) -> str:
        value = self._obj.get(key, _MISSING)
        if value is _MISSING and default is not None:
            return default
        if not isinstance(value, str) or len(value) > maximum:
            raise self.fail(key, f"a string of at most {maximum} characters", value)
        return value

    def name(self, key: str) -> str:
        value = self.text(key, MAX_NAME)
        if not value:
            raise self.fail(key, f"a string of 1 to {MAX_NAME} characters", value)
        return value

    def optional_text(self, key: str, maximum: int) -> str | None:
        if self._obj.get(key) is None:
            return None
        return self.text(key, maximum)

    def integer(self, key: str, low: int, high: int, *, default: int | None = None) -> int:
        value = self._obj.get(key, _MISSING)
        if value is _MISSING and default is not None:
            return default
        if type(value) is not int or not low <= value <= high:
            raise self.fail(key, f"an integer {low}..{high}", value)
        return value

    def optional_integer(self, key: str, low: int, high: int) -> int | None:
        if self._obj.get(key) is None:
            return None
        return self.integer(key, low, high)

    def optional_number(self, key: str) -> float | None:
        value = self._obj.get(key)
        if value is None:
            return None
        if not (type(value) in (int, float) and 0 <= value <= MAX_NUMBER):  # type: ignore[operator]
            raise self.fail(key, f"a number 0..{MAX_NUMBER:.0e}", value)
        return float(value)  # type: ignore[arg-type]

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self._obj.get(key, _MISSING)
        if value not in choices:
            raise self.fail(key, "one of " + ", ".join(f'"{c}"' for c in choices), value)
        return value

    def array(self, key: str, maximum: int) -> list[object]:
        value = self._obj.get(key, _MISSING)
        if value is _MISSING or value is None:
            return []
        if not isinstance(value, list) or len(value) > maximum:
            raise self.fail(key, f"an array of at most {maximum} items", value)
        return value


def _drop_none(members: dict[str, JsonValue]) -> dict[str, JsonValue]:
    return {k: v for k, v in members.items() if v is not None}


# ---------------------------------------------------------------------------------- hello


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloParams:
    """`hello`: the protocol version the client speaks, its name, the shared token when the
    server asks for one. All optional."""

    version: str = PROTOCOL_VERSION
    node: str | None = None
    token: str | None = None

    @classmethod
    def from_json(cls, params: JsonValue) -> HelloParams:
        if params is None or params == []:
            return cls()
        r = _Reader(params, "", "an object (named params)")
        return cls(
            version=r.text("version", 16, default=PROTOCOL_VERSION),
            node=r.optional_text("node", MAX_NAME),
            token=r.optional_text("token", MAX_TOKEN),
        )

    def to_json(self) -> JsonValue:
        return _drop_none({"version": self.version, "node": self.node, "token": self.token})

    def __repr__(self) -> str:  # the token stays out of logs
        return f"HelloParams(version={self.version!r}, node={self.node!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloResult:
    """The answer to `hello`: the version the server speaks, its node name, its methods."""

    version: str = PROTOCOL_VERSION
    node: str = ""
    methods: tuple[str, ...] = tuple(Method)

    @classmethod
    def from_json(cls, result: JsonValue) -> HelloResult:
        r = _Reader(result, "result")
        methods = r.array("methods", 64)
        if not all(isinstance(m, str) for m in methods):
            raise r.fail("methods", "an array of strings", methods)
        return cls(
            version=r.text("version", 16),
            node=r.text("node", MAX_NAME, default=""),
            methods=tuple(methods),  # type: ignore[arg-type]
        )

    def to_json(self) -> JsonValue:
        return {"version": self.version, "node": self.node, "methods": list(self.methods)}


# ---------------------------------------------------------------------------------- route.query


@dataclass(frozen=True, slots=True)
class WireAddress:
    """An address with its SMPP type of number and numbering plan (SMPP 3.4 §5.2.5-§5.2.8)."""

    addr: str
    ton: int = 0
    npi: int = 0

    @classmethod
    def from_json(cls, value: object, where: str) -> WireAddress:
        r = _Reader(value, where, "an object with addr, ton, npi")
        return cls(
            r.text("addr", MAX_ADDR),
            r.integer("ton", 0, 255, default=0),
            r.integer("npi", 0, 255, default=0),
        )

    def to_json(self) -> JsonValue:
        return {"addr": self.addr, "ton": self.ton, "npi": self.npi}


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryParams:
    """`route.query`: one message to decide on (routing.RouteQuery on the wire)."""

    account: str
    source: WireAddress
    destination: WireAddress
    service_type: str = ""
    data_coding: int = 0
    esm_class: int = 0
    segments: int = 1
    content_sample: str | None = None
    priority_flag: int = 0  # since 1.1; SMPP 3.4 §5.2.14: 0 (lowest) to 3

    @classmethod
    def from_json(cls, params: JsonValue) -> QueryParams:
        """Raises InvalidParams naming the first member at fault."""
        return _fast_query(params) or cls.checked(params)

    @classmethod
    def checked(cls, params: JsonValue) -> QueryParams:
        """from_json member by member: the path that names what is wrong."""
        r = _Reader(params, "", "an object (named params)")
        return cls(
            account=r.name("account"),
            source=WireAddress.from_json(r.get("source"), "source"),
            destination=WireAddress.from_json(r.get("destination"), "destination"),
            service_type=r.text("service_type", MAX_SERVICE_TYPE, default=""),
            data_coding=r.integer("data_coding", 0, 255, default=0),
            esm_class=r.integer("esm_class", 0, 255, default=0),
            segments=r.integer("segments", 1, 255, default=1),
            content_sample=r.optional_text("content_sample", MAX_CONTENT_SAMPLE),
            priority_flag=r.integer("priority_flag", 0, MAX_PRIORITY, default=0),
        )

    def to_json(self) -> JsonValue:
        return _drop_none(
            {
                # Left out at 0 (its default): a request without priority stays a 1.0 request.
                "priority_flag": self.priority_flag or None,
                "account": self.account,
                "source": self.source.to_json(),
                "destination": self.destination.to_json(),
                "service_type": self.service_type,
                "data_coding": self.data_coding,
                "esm_class": self.esm_class,
                "segments": self.segments,
                "content_sample": self.content_sample,
            }
        )


AddressMembers = tuple[str, int, int]
"""An address's addr, ton and npi, checked."""
QueryMembers = tuple[str, AddressMembers, AddressMembers, str, int, int, int, str | None, int]
"""`route.query`'s members, checked, in QueryParams' field order."""


def _fast_address(value: object) -> AddressMembers | None:
    if type(value) is not dict:
        return None
    addr, ton, npi = value.get("addr"), value.get("ton", 0), value.get("npi", 0)
    if (
        type(addr) is str
        and len(addr) <= MAX_ADDR
        and type(ton) is int
        and 0 <= ton <= 255
        and type(npi) is int
        and 0 <= npi <= 255
    ):
        return addr, ton, npi
    return None


def query_members(params: JsonValue) -> QueryMembers | None:
    """`route.query`'s members when every one is right, else None (QueryParams.checked then
    says what is wrong). The hot path of a policy server: the same rules as `checked`, inline
    (a test holds the two to the same answers), and no value built but the tuple."""
    if type(params) is not dict:
        return None
    get = params.get
    account, service_type = get("account"), get("service_type", "")
    data_coding, esm_class, segments = (
        get("data_coding", 0),
        get("esm_class", 0),
        get("segments", 1),
    )
    sample = get("content_sample")
    priority = get("priority_flag", 0)
    if not (
        type(account) is str
        and 0 < len(account) <= MAX_NAME
        and type(service_type) is str
        and len(service_type) <= MAX_SERVICE_TYPE
        and type(data_coding) is int
        and 0 <= data_coding <= 255
        and type(esm_class) is int
        and 0 <= esm_class <= 255
        and type(segments) is int
        and 1 <= segments <= 255
        and (sample is None or (type(sample) is str and len(sample) <= MAX_CONTENT_SAMPLE))
        and type(priority) is int
        and 0 <= priority <= MAX_PRIORITY
    ):
        return None
    source, destination = _fast_address(get("source")), _fast_address(get("destination"))
    if source is None or destination is None:
        return None
    return (
        account,
        source,
        destination,
        service_type,
        data_coding,
        esm_class,
        segments,
        sample,
        priority,
    )


def _fast_query(params: JsonValue) -> QueryParams | None:
    members = query_members(params)
    if members is None:
        return None
    account, source, destination, service_type, data_coding, esm_class, segments, sample, pf = (
        members
    )
    return QueryParams(
        account=account,
        source=WireAddress(*source),
        destination=WireAddress(*destination),
        service_type=service_type,
        data_coding=data_coding,
        esm_class=esm_class,
        segments=segments,
        content_sample=sample,
        priority_flag=pf,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteEntry:
    """One of the routes to try, in a `route.query` result."""

    route: str
    cost: float | None = None
    mccmnc: str | None = None

    @classmethod
    def from_json(cls, value: object, where: str) -> RouteEntry:
        r = _Reader(value, where, "an object with route")
        mccmnc = r.optional_text("mccmnc", 6)
        if mccmnc is not None and not (mccmnc.isdigit() and mccmnc.isascii() and len(mccmnc) >= 5):
            raise r.fail("mccmnc", "5 or 6 digits", mccmnc)
        return cls(route=r.name("route"), cost=r.optional_number("cost"), mccmnc=mccmnc)

    def to_json(self) -> JsonValue:
        return _drop_none({"route": self.route, "cost": self.cost, "mccmnc": self.mccmnc})


@dataclass(frozen=True, slots=True, kw_only=True)
class RewriteParams:
    """`rewrite` in a `route.query` result: the fields to change (routing.Rewrite)."""

    source_addr: str | None = None
    source_addr_ton: int | None = None
    source_addr_npi: int | None = None
    destination_addr: str | None = None
    data_coding: int | None = None
    validity_s: int | None = None
    strip_tlvs: tuple[int, ...] = ()
    add_tlvs: tuple[tuple[int, bytes], ...] = ()

    @classmethod
    def from_json(cls, value: object, where: str = "rewrite") -> RewriteParams:
        r = _Reader(value, where)
        strip = r.array("strip_tlvs", MAX_TLVS)
        if not all(type(tag) is int and 0 <= tag <= 0xFFFF for tag in strip):
            raise r.fail("strip_tlvs", "an array of integers 0..65535", strip)
        add: list[tuple[int, bytes]] = []
        for index, item in enumerate(r.array("add_tlvs", MAX_TLVS)):
            tlv = _Reader(item, f"{where}.add_tlvs[{index}]", "an object with tag, value")
            tag = tlv.integer("tag", 0, 0xFFFF)
            hex_value = tlv.text("value", 2 * 0xFFFF)
            try:
                add.append((tag, bytes.fromhex(hex_value)))
            except ValueError:
                raise tlv.fail("value", "hexadecimal octets", hex_value) from None
        return cls(
            source_addr=r.optional_text("source_addr", MAX_ADDR),
            source_addr_ton=r.optional_integer("source_addr_ton", 0, 255),
            source_addr_npi=r.optional_integer("source_addr_npi", 0, 255),
            destination_addr=r.optional_text("destination_addr", MAX_ADDR),
            data_coding=r.optional_integer("data_coding", 0, 255),
            validity_s=r.optional_integer("validity_s", 0, MAX_MS),
            strip_tlvs=tuple(strip),  # type: ignore[arg-type]
            add_tlvs=tuple(add),
        )

    def to_json(self) -> JsonValue:
        members: dict[str, JsonValue] = _drop_none(
            {
                "source_addr": self.source_addr,
                "source_addr_ton": self.source_addr_ton,
                "source_addr_npi": self.source_addr_npi,
                "destination_addr": self.destination_addr,
                "data_coding": self.data_coding,
                "validity_s": self.validity_s,
            }
        )
        if self.strip_tlvs:
            members["strip_tlvs"] = list(self.strip_tlvs)
        if self.add_tlvs:
            members["add_tlvs"] = [{"tag": t, "value": v.hex()} for t, v in self.add_tlvs]
        return members


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryResult:
    """The result of `route.query` (routing.Decision on the wire). Reading one checks what
    each action needs: routes for route and defer, a non-zero status for reject,
    retry_after_ms for throttle and defer."""

    action: str
    routes: tuple[RouteEntry, ...] = ()
    rewrite: RewriteParams | None = None
    status: int | None = None
    reason: str | None = None
    retry_after_ms: int | None = None
    ttl_ms: int = 0

    @classmethod
    def from_json(cls, result: JsonValue) -> QueryResult:
        r = _Reader(result, "result")
        action = r.choice("action", ACTIONS)
        routes = tuple(
            RouteEntry.from_json(item, f"result.routes[{i}]")
            for i, item in enumerate(r.array("routes", MAX_ROUTES))
        )
        rewrite = r.get("rewrite")
        value = cls(
            action=action,
            routes=routes,
            rewrite=None if rewrite in (None, _MISSING) else RewriteParams.from_json(rewrite),
            status=r.optional_integer("status", 1, 0xFFFFFFFF),
            reason=r.optional_text("reason", MAX_REASON),
            retry_after_ms=r.optional_integer("retry_after_ms", 0, MAX_MS),
            ttl_ms=r.integer("ttl_ms", 0, MAX_MS, default=0),
        )
        if action in ("route", "defer") and not routes:
            raise r.fail("routes", f"at least one route for {action}", [])
        if action == "reject" and value.status is None:
            raise r.fail("status", "a command_status for reject", None)
        if action in ("throttle", "defer") and value.retry_after_ms is None:
            raise r.fail("retry_after_ms", f"milliseconds for {action}", None)
        return value

    def to_json(self) -> JsonValue:
        members: dict[str, JsonValue] = {
            "action": self.action,
            "routes": [route.to_json() for route in self.routes],
        }
        if self.rewrite is not None:
            members["rewrite"] = self.rewrite.to_json()
        if self.status is not None:
            members["status"] = self.status
        if self.reason is not None:
            members["reason"] = self.reason
        if self.retry_after_ms is not None:
            members["retry_after_ms"] = self.retry_after_ms
        members["ttl_ms"] = self.ttl_ms
        return members


# ---------------------------------------------------------------------------------- route.report


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportParams:
    """`route.report` (a notification): how an attempt on `route` ended. `status`: the SMPP
    command_status an upstream answered; `map_error`: the MAP error of a mobile network."""

    route: str
    outcome: str
    status: int | None = None
    map_error: int | None = None
    latency_ms: float | None = None

    @classmethod
    def from_json(cls, params: JsonValue) -> ReportParams:
        r = _Reader(params, "", "an object (named params)")
        return cls(
            route=r.name("route"),
            outcome=r.choice("outcome", OUTCOMES),
            status=r.optional_integer("status", 0, 0xFFFFFFFF),
            map_error=r.optional_integer("map_error", 0, 255),
            latency_ms=r.optional_number("latency_ms"),
        )

    def to_json(self) -> JsonValue:
        return _drop_none(
            {
                "route": self.route,
                "outcome": self.outcome,
                "status": self.status,
                "map_error": self.map_error,
                "latency_ms": self.latency_ms,
            }
        )
