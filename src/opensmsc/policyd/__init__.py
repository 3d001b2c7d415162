"""The policy server on TCP 3055 and its client (issue 11; docs/policy-protocol.md): JSON-RPC
2.0 in length-prefixed frames, serving a `routing.PolicyEngine` to other systems.

wire.py (frames and JSON-RPC messages) and params.py (each method's parameters) are sans-IO;
convert.py maps them to routing's values; dispatch.py answers calls from a PolicyEngine;
server.py is the TCP listener, http.py the same over HTTP POST; client.py asks remote servers
(PSX client behaviour).
Import from here; the modules may be split or merged.
"""

from opensmsc.policyd.client import ClientSettings, PolicyClient, ServerMode, ServerSpec
from opensmsc.policyd.convert import (
    QueryReader,
    decision_from_result,
    params_from_query,
    params_from_report,
    query_from_params,
    report_from_params,
    result_from_decision,
)
from opensmsc.policyd.dispatch import Dispatcher, Peer
from opensmsc.policyd.http import JsonRpcHttp
from opensmsc.policyd.params import (
    HelloParams,
    HelloResult,
    InvalidParams,
    Method,
    QueryParams,
    QueryResult,
    ReportParams,
    RewriteParams,
    RouteEntry,
    WireAddress,
)
from opensmsc.policyd.server import PolicyServer, ServerLimits
from opensmsc.policyd.wire import (
    DEFAULT_MAX_FRAME,
    MAX_BATCH,
    PROTOCOL_VERSION,
    Batch,
    ErrorCode,
    ErrorResponse,
    Frame,
    FrameBuffer,
    FrameError,
    Incoming,
    Invalid,
    Notification,
    Request,
    RequestId,
    Response,
    RpcError,
    encode_batch,
    encode_error,
    encode_frame,
    encode_notification,
    encode_request,
    encode_response,
    parse,
)

__all__ = [
    "DEFAULT_MAX_FRAME",
    "MAX_BATCH",
    "PROTOCOL_VERSION",
    "Batch",
    "ClientSettings",
    "Dispatcher",
    "ErrorCode",
    "ErrorResponse",
    "Frame",
    "FrameBuffer",
    "FrameError",
    "HelloParams",
    "HelloResult",
    "Incoming",
    "Invalid",
    "InvalidParams",
    "JsonRpcHttp",
    "Method",
    "Notification",
    "Peer",
    "PolicyClient",
    "PolicyServer",
    "QueryParams",
    "QueryReader",
    "QueryResult",
    "ReportParams",
    "Request",
    "RequestId",
    "Response",
    "RewriteParams",
    "RouteEntry",
    "RpcError",
    "ServerLimits",
    "ServerMode",
    "ServerSpec",
    "WireAddress",
    "decision_from_result",
    "encode_batch",
    "encode_error",
    "encode_frame",
    "encode_notification",
    "encode_request",
    "encode_response",
    "params_from_query",
    "params_from_report",
    "parse",
    "query_from_params",
    "report_from_params",
    "result_from_decision",
]
