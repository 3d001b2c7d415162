"""IMPS (Wireless Village / OMA IMPS CSP) over SMS: the PTS wire format on port 3590, the CIR
channel on port 3716 (issue 13).

`pts`, `codes` and `cir`: the wire format (sans-IO). `service` answers the primitives, with one
module per concern: `sessions` (login, keep-alive, expiry), `presence`, `contacts` (contact and
block lists), `messaging` (instant messages and the plain-SMS bridge), `outbound` (what it
sends, pushed, queued or kept), `values` (reading request parameters); `settings` its tunables.
`state` (with `schema` and `records`): its durable SQLite state. `binding`: the route between
the SMSC's store and the service; `receipts`: the receiver of the delivery receipts of the SMS
it sends; `worker`: the one thread the service runs on.

What this is not: the wiring into a node (app/imps.py), its admin routes (http/routes/imps.py)
or the demo client (cli/imps.py).
"""

from .binding import (
    CIR_PORT,
    DATA_PORT,
    IMPS_SYSTEM_ID,
    SEGMENT_OCTETS,
    ImpsRoute,
    Inbound,
    claims_mo,
    claims_mt,
    inbound,
)
from .cir import (
    decode_helo,
    decode_wakeup,
    encode_helo,
    encode_wakeup,
    pack_text,
    unpack_text,
)
from .codes import (
    CAPABILITIES,
    CAPABILITY_VALUES,
    ELEMENTS,
    PRESENCE_ATTRIBUTES,
    PRESENCE_VALUES,
    SERVICE_TREE,
    TRANSACTIONS,
    Direction,
    ElementCode,
    Status,
    TransactionCode,
    describe,
)
from .pts import (
    MAX_SEGMENTS,
    MAX_TRANSACTION,
    VERSIONS,
    Assembler,
    Primitive,
    PtsError,
    Value,
    encode,
    missing_segments,
    parse,
    split,
)
from .receipts import ImpsReceipts
from .service import ImpsService, ImpsSettings, InvalidUser
from .state import Channel, ImpsState, ImpsStateError, ImpsStats, Outgoing, User
from .worker import ServiceClosed, ServiceThread

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_VALUES",
    "CIR_PORT",
    "DATA_PORT",
    "ELEMENTS",
    "IMPS_SYSTEM_ID",
    "MAX_SEGMENTS",
    "MAX_TRANSACTION",
    "PRESENCE_ATTRIBUTES",
    "PRESENCE_VALUES",
    "SEGMENT_OCTETS",
    "SERVICE_TREE",
    "TRANSACTIONS",
    "VERSIONS",
    "Assembler",
    "Channel",
    "Direction",
    "ElementCode",
    "ImpsReceipts",
    "ImpsRoute",
    "ImpsService",
    "ImpsSettings",
    "ImpsState",
    "ImpsStateError",
    "ImpsStats",
    "Inbound",
    "InvalidUser",
    "Outgoing",
    "Primitive",
    "PtsError",
    "ServiceClosed",
    "ServiceThread",
    "Status",
    "TransactionCode",
    "User",
    "Value",
    "claims_mo",
    "claims_mt",
    "decode_helo",
    "decode_wakeup",
    "describe",
    "encode",
    "encode_helo",
    "encode_wakeup",
    "inbound",
    "missing_segments",
    "pack_text",
    "parse",
    "split",
    "unpack_text",
]
