"""The policy protocol's sans-IO core (policyd/wire.py, params.py, convert.py): framing in any
split, every message shape round-trips, bad input comes back as the JSON-RPC error to answer."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc.policyd import (
    MAX_BATCH,
    Batch,
    ErrorCode,
    ErrorResponse,
    Frame,
    FrameBuffer,
    FrameError,
    HelloParams,
    HelloResult,
    Invalid,
    InvalidParams,
    Notification,
    QueryParams,
    QueryReader,
    QueryResult,
    ReportParams,
    Request,
    Response,
    RewriteParams,
    RouteEntry,
    RpcError,
    WireAddress,
    decision_from_result,
    encode_batch,
    encode_error,
    encode_frame,
    encode_notification,
    encode_request,
    encode_response,
    params_from_query,
    params_from_report,
    parse,
    query_from_params,
    report_from_params,
    result_from_decision,
)

# ---------------------------------------------------------------------------------- strategies

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=64)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
octet = st.integers(0, 255)
ids = st.one_of(st.integers(-(2**63), 2**63), st.text(max_size=20))
ms = st.integers(0, 2**31 - 1)
digits = st.text("0123456789", min_size=5, max_size=6)

addresses = st.builds(WireAddress, st.text(max_size=64), octet, octet)
queries = st.builds(
    QueryParams,
    account=names,
    source=addresses,
    destination=addresses,
    service_type=st.text(max_size=32),
    data_coding=octet,
    esm_class=octet,
    segments=st.integers(1, 255),
    content_sample=st.none() | st.text(max_size=200),
    priority_flag=st.integers(0, 3),
)
costs = st.none() | st.floats(0, 1e6, allow_nan=False)
routes = st.builds(RouteEntry, route=names, cost=costs, mccmnc=st.none() | digits)
rewrites = st.builds(
    RewriteParams,
    source_addr=st.none() | st.text(max_size=64),
    source_addr_ton=st.none() | octet,
    source_addr_npi=st.none() | octet,
    destination_addr=st.none() | st.text(max_size=64),
    data_coding=st.none() | octet,
    validity_s=st.none() | ms,
    strip_tlvs=st.lists(st.integers(0, 0xFFFF), max_size=4).map(tuple),
    add_tlvs=st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=8)), max_size=3).map(
        tuple
    ),
)
some_routes = st.lists(routes, min_size=1, max_size=4).map(tuple)
results = st.one_of(
    st.builds(
        QueryResult,
        action=st.just("route"),
        routes=some_routes,
        rewrite=st.none() | rewrites,
        ttl_ms=ms,
    ),
    st.builds(
        QueryResult,
        action=st.just("reject"),
        status=st.integers(1, 0xFFFFFFFF),
        reason=st.none() | texts,
        ttl_ms=ms,
    ),
    st.builds(QueryResult, action=st.just("throttle"), retry_after_ms=ms, reason=st.none() | texts),
    st.builds(
        QueryResult,
        action=st.just("defer"),
        routes=some_routes,
        retry_after_ms=ms,
        rewrite=st.none() | rewrites,
    ),
)
reports = st.builds(
    ReportParams,
    route=names,
    outcome=st.sampled_from(["ok", "temp", "perm"]),
    status=st.none() | st.integers(0, 0xFFFFFFFF),
    map_error=st.none() | octet,
    latency_ms=st.none() | st.floats(0, 1e6, allow_nan=False),
)
hellos = st.builds(
    HelloParams,
    version=st.text(max_size=16),
    node=st.none() | st.text(max_size=64),
    token=st.none() | st.text(max_size=100),
)
hello_results = st.builds(
    HelloResult,
    version=st.text(max_size=16),
    node=st.text(max_size=64),
    methods=st.lists(st.text(max_size=20), max_size=5).map(tuple),
)
errors = st.builds(
    RpcError,
    code=st.integers(-32768, 32767),
    message=texts,
    data=st.none() | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

# Every shape a peer sends, as (frame, what parse must give back).
requests = st.one_of(
    st.tuples(ids, hellos).map(lambda t: Request(t[0], "hello", t[1].to_json())),
    ids.map(lambda i: Request(i, "keepalive", None)),
    st.tuples(ids, queries).map(lambda t: Request(t[0], "route.query", t[1].to_json())),
)
notifications = reports.map(lambda r: Notification("route.report", r.to_json()))
responses = st.one_of(
    st.tuples(ids, hello_results).map(lambda t: Response(t[0], t[1].to_json())),
    ids.map(lambda i: Response(i, {})),
    st.tuples(ids, results).map(lambda t: Response(t[0], t[1].to_json())),
    st.tuples(st.none() | ids, errors).map(lambda t: ErrorResponse(t[0], t[1])),
)
messages = st.one_of(requests, notifications, responses)


def frame_of(message: Request | Notification | Response | ErrorResponse) -> bytes:
    match message:
        case Request(request_id, method, params):
            return encode_request(request_id, method, params)
        case Notification(method, params):
            return encode_notification(method, params)
        case Response(request_id, result):
            return encode_response(request_id, result)
        case ErrorResponse(request_id, error):
            return encode_error(request_id, error)
    raise AssertionError(message)


def body(frame: bytes) -> bytes:
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame) - 4
    return frame[4:]


# ---------------------------------------------------------------------------------- round trips


@given(messages)
def test_every_message_round_trips(message: Any) -> None:
    assert parse(body(frame_of(message))) == message


@given(st.lists(messages, min_size=1, max_size=10))
def test_batches_round_trip(items: list[Any]) -> None:
    objects = [json.loads(body(frame_of(m))) for m in items]
    assert parse(body(encode_batch(objects))) == Batch(tuple(items))


@given(queries)
def test_query_params_round_trip(params: QueryParams) -> None:
    assert QueryParams.from_json(json.loads(json.dumps(params.to_json()))) == params
    assert params_from_query(query_from_params(params)) == params


@given(results)
def test_query_results_round_trip(result: QueryResult) -> None:
    assert QueryResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    decision = decision_from_result(result)
    again = result_from_decision(decision)
    # An empty rewrite object says nothing: the decision drops it.
    expected = result
    if result.rewrite == RewriteParams():
        expected = QueryResult(**{**_fields(result), "rewrite": None})
    if result.reason == "":
        expected = QueryResult(**{**_fields(expected), "reason": None})
    assert again == expected


def _fields(result: QueryResult) -> dict[str, Any]:
    return {name: getattr(result, name) for name in QueryResult.__dataclass_fields__}


@given(reports)
def test_reports_round_trip(report: ReportParams) -> None:
    assert ReportParams.from_json(json.loads(json.dumps(report.to_json()))) == report
    back = params_from_report(report_from_params(report))
    assert back == ReportParams(
        **{**_report_fields(report), "latency_ms": report.latency_ms or 0.0}
    )


def _report_fields(report: ReportParams) -> dict[str, Any]:
    return {name: getattr(report, name) for name in ReportParams.__dataclass_fields__}


@given(hellos, hello_results)
def test_hello_round_trips(hello: HelloParams, result: HelloResult) -> None:
    assert HelloParams.from_json(hello.to_json()) == hello
    assert HelloResult.from_json(result.to_json()) == result


def test_hello_token_is_not_in_repr() -> None:
    assert "s3cret" not in repr(HelloParams(token="s3cret"))


# ---------------------------------------------------------------------------------- framing


@settings(max_examples=50)
@given(st.lists(messages, min_size=1, max_size=4))
def test_framing_split_at_every_byte_boundary(items: list[Any]) -> None:
    stream = b"".join(frame_of(m) for m in items)
    expected = [Frame(body(frame_of(m))) for m in items]
    for cut in range(len(stream) + 1):
        frames = FrameBuffer()
        got = frames.feed(stream[:cut]) + frames.feed(stream[cut:])
        assert got == expected, cut
        assert frames.buffered == 0


def test_framing_one_octet_at_a_time() -> None:
    stream = encode_request(1, "keepalive") + encode_request(2, "keepalive")
    frames = FrameBuffer()
    got = [event for octet in stream for event in frames.feed(bytes([octet]))]
    assert [parse(f.body) for f in got if isinstance(f, Frame)] == [
        Request(1, "keepalive"),
        Request(2, "keepalive"),
    ]


def test_oversized_frame_is_an_error_from_its_length_alone() -> None:
    frames = FrameBuffer(max_frame=100)
    good = encode_request(1, "keepalive")
    events = frames.feed(good + struct.pack(">I", 101))
    assert events[0] == Frame(body(good))
    assert isinstance(events[1], FrameError)
    assert "101" in events[1].reason
    assert frames.failed
    assert frames.feed(good) == []  # the stream cannot be resynchronised
    assert frames.buffered == 0


def test_zero_length_frame_is_an_error() -> None:
    events = FrameBuffer().feed(b"\x00\x00\x00\x00")
    assert len(events) == 1 and isinstance(events[0], FrameError)


def test_a_frame_at_the_maximum_is_read() -> None:
    frames = FrameBuffer(max_frame=len(body(encode_request(1, "keepalive"))))
    assert frames.feed(encode_request(1, "keepalive")) == [
        Frame(body(encode_request(1, "keepalive")))
    ]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    for event in FrameBuffer(max_frame=200).feed(data):
        if isinstance(event, Frame):
            parse(event.body)
    parse(data)


# ---------------------------------------------------------------------------------- bad input


def code_of(result: object) -> int:
    assert isinstance(result, Invalid), result
    return result.error.code


@pytest.mark.parametrize(
    "raw",
    [b"{", b"\xff\xfe{}", b"NaN", b'{"a": Infinity}', b"[" * 100_000, "{}".encode("utf-16")],
)
def test_unreadable_json_is_a_parse_error(raw: bytes) -> None:
    result = parse(raw)
    assert code_of(result) == ErrorCode.PARSE_ERROR
    assert isinstance(result, Invalid) and result.id is None


@pytest.mark.parametrize(
    ("message", "answer_id"),
    [
        (1, None),
        ("x", None),
        ({"id": 1, "method": "keepalive"}, 1),  # no jsonrpc
        ({"jsonrpc": "1.0", "id": 1, "method": "keepalive"}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": "keepalive", "params": 3}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": "keepalive", "params": None}, 1),
        ({"jsonrpc": "2.0", "id": True, "method": "keepalive"}, None),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "keepalive"}, None),
        ({"jsonrpc": "2.0", "id": None, "method": "keepalive"}, None),
        ({"jsonrpc": "2.0", "id": [1], "method": "keepalive"}, None),
        ({"jsonrpc": "2.0", "id": 1}, 1),
        ({"jsonrpc": "2.0", "result": 1}, None),
        ({"jsonrpc": "2.0", "id": 1, "result": 1, "error": {"code": 1, "message": ""}}, 1),
        ({"jsonrpc": "2.0", "id": 1, "error": {"code": "1", "message": ""}}, 1),
        ({"jsonrpc": "2.0", "error": {"code": 1, "message": ""}}, None),
        ([], None),
    ],
)
def test_invalid_requests_name_their_fault(message: object, answer_id: object) -> None:
    result = parse(json.dumps(message).encode())
    assert code_of(result) == ErrorCode.INVALID_REQUEST
    assert isinstance(result, Invalid) and result.id == answer_id
    assert result.error.message.startswith("Invalid request: ")


def test_batch_items_are_judged_one_by_one() -> None:
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "keepalive"}, 7, []]
    result = parse(json.dumps(batch).encode())
    assert isinstance(result, Batch)
    assert result.messages[0] == Request(1, "keepalive")
    assert [code_of(m) for m in result.messages[1:]] == [ErrorCode.INVALID_REQUEST] * 2


def test_a_batch_too_large_is_refused_whole() -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "keepalive"} for i in range(MAX_BATCH + 1)]
    assert code_of(parse(json.dumps(batch).encode())) == ErrorCode.INVALID_REQUEST
    assert isinstance(parse(json.dumps(batch[:MAX_BATCH]).encode()), Batch)


def test_encode_frame_refuses_nan() -> None:
    with pytest.raises(ValueError):
        encode_frame({"x": float("nan")})


GOOD_QUERY: dict[str, Any] = {
    "account": "acme",
    "source": {"addr": "ACME", "ton": 5, "npi": 0},
    "destination": {"addr": "447700900123", "ton": 1, "npi": 1},
}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"account": ""}, "account"),
        ({"account": 7}, "account"),
        ({"account": None}, "account"),
        ({"destination": None}, "destination"),
        ({"destination": {"addr": 447700900123}}, "destination.addr"),
        ({"destination": {"addr": "4" * 65}}, "destination.addr"),
        ({"source": {"addr": "A", "ton": 256}}, "source.ton"),
        ({"source": {"addr": "A", "npi": -1}}, "source.npi"),
        ({"source": {"addr": "A", "npi": True}}, "source.npi"),
        ({"segments": 0}, "segments"),
        ({"data_coding": 1.0}, "data_coding"),
        ({"esm_class": "0"}, "esm_class"),
        ({"service_type": "x" * 33}, "service_type"),
        ({"content_sample": 5}, "content_sample"),
        ({"priority_flag": 4}, "priority_flag"),
        ({"priority_flag": True}, "priority_flag"),
    ],
)
def test_invalid_query_params_name_the_member(change: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        QueryParams.from_json({**GOOD_QUERY, **change})
    assert raised.value.where == where
    assert str(raised.value).startswith(f"{where}: expected ")


def test_query_params_defaults_and_unknown_members() -> None:
    params = QueryParams.from_json({**GOOD_QUERY, "future_member": [1, 2]})
    assert (params.segments, params.data_coding, params.service_type) == (1, 0, "")
    assert params.priority_flag == 0
    assert "priority_flag" not in params.to_json()  # type: ignore[operator]  # a 1.0 request
    high = QueryParams.from_json({**GOOD_QUERY, "priority_flag": 1})
    assert high.priority_flag == 1 and high.to_json()["priority_flag"] == 1  # type: ignore[index,call-overload]
    with pytest.raises(InvalidParams):
        QueryParams.from_json([GOOD_QUERY])  # positional params are not taken


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"outcome": "ok"}, "route"),
        ({"route": "a", "outcome": "fine"}, "outcome"),
        ({"route": "a", "outcome": "ok", "latency_ms": -1}, "latency_ms"),
        ({"route": "a", "outcome": "ok", "latency_ms": 10**400}, "latency_ms"),
        ({"route": "a", "outcome": "ok", "map_error": 256}, "map_error"),
    ],
)
def test_invalid_report_params(params: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        ReportParams.from_json(params)
    assert raised.value.where == where


@pytest.mark.parametrize(
    ("result", "where"),
    [
        ({"action": "route", "routes": []}, "result.routes"),
        ({"action": "defer", "routes": [{"route": "a"}]}, "result.retry_after_ms"),
        ({"action": "reject"}, "result.status"),
        ({"action": "reject", "status": 0}, "result.status"),
        ({"action": "throttle"}, "result.retry_after_ms"),
        ({"action": "drop"}, "result.action"),
        ({"action": "route", "routes": [{"route": ""}]}, "result.routes[0].route"),
        (
            {"action": "route", "routes": [{"route": "a", "mccmnc": "2341"}]},
            "result.routes[0].mccmnc",
        ),
        (
            {"action": "route", "routes": [{"route": "a"}], "rewrite": {"add_tlvs": [{"tag": 1}]}},
            "rewrite.add_tlvs[0].value",
        ),
        (
            {
                "action": "route",
                "routes": [{"route": "a"}],
                "rewrite": {"add_tlvs": [{"tag": 1, "value": "zz"}]},
            },
            "rewrite.add_tlvs[0].value",
        ),
    ],
)
def test_invalid_results_are_refused(result: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        QueryResult.from_json(result)
    assert raised.value.where == where


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-300, 300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=70)
)
address_like = json_scalars | st.fixed_dictionaries(
    {}, optional={"addr": json_scalars, "ton": json_scalars, "npi": json_scalars}
)
query_like = st.fixed_dictionaries(
    {},
    optional={
        "account": json_scalars,
        "source": address_like,
        "destination": address_like,
        "service_type": json_scalars,
        "data_coding": json_scalars,
        "esm_class": json_scalars,
        "segments": json_scalars,
        "content_sample": json_scalars,
        "priority_flag": json_scalars,
    },
)


def _one_member_changed(query: QueryParams, key: str, value: Any) -> Any:
    params: dict[str, Any] = dict(query.to_json())  # type: ignore[arg-type]
    if key.startswith(("source.", "destination.")):
        side, member = key.split(".")
        params[side] = {**params[side], member: value}
    else:
        params[key] = value
    return params


members = st.sampled_from(
    [
        *("account", "service_type", "data_coding", "esm_class", "segments", "content_sample"),
        "priority_flag",
        *("source", "destination", "source.addr", "source.ton", "destination.npi"),
    ]
)
near_valid = st.builds(_one_member_changed, queries, members, json_scalars | st.integers(-2, 258))


@settings(max_examples=1000)
@given(st.one_of(queries.map(lambda q: q.to_json()), near_valid, query_like, json_scalars))
def test_the_fast_path_answers_as_the_checked_path(params: Any) -> None:
    """QueryParams.from_json's inline checks are the same rules as QueryParams.checked."""
    try:
        expected: QueryParams | None = QueryParams.checked(params)
    except InvalidParams:
        expected = None
    if expected is None:
        with pytest.raises(InvalidParams):
            QueryParams.from_json(params)
    else:
        assert QueryParams.from_json(params) == expected


@settings(max_examples=1000)
@given(st.one_of(queries.map(lambda q: q.to_json()), near_valid, query_like, json_scalars))
def test_the_server_reader_answers_as_from_json_then_query_from_params(params: Any) -> None:
    """QueryReader (the server's one step) gives the RouteQuery, or the refusal, of
    QueryParams.from_json then query_from_params; its kept senders change nothing."""
    read = QueryReader(max_sources=2)
    try:
        expected = query_from_params(QueryParams.from_json(params))
    except InvalidParams as exc:
        with pytest.raises(InvalidParams) as raised:
            read(params)
        assert str(raised.value) == str(exc)
        return
    assert read(params) == expected
    assert read(params) == expected  # the sender kept from the first read
