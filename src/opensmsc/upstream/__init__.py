"""Upstream connectors: our ESME sessions to carriers' SMSCs, and the engine's side of them.

- `SmppConnector` (connector.py): one connector, a facade over its submit queue
  (submit_queue.py, sans-IO), its sessions (link.py: bind, reconnect, outbind), what the
  upstream sends (incoming.py: receipts and MO) and the id matching (matching.py).
- `Connectors` (pool.py): every connector of a node, by name.
- `ConnectorSettings` (settings.py): what a connector needs, built from the configuration by
  the app (`app/connector_settings.py`; nothing here reads the file model).
- `ConnectorRoute` (route.py): the Route that submits a stored MT through a connector and maps
  the upstream's message_id to ours.
- `UpstreamReceipts` (receipts.py): the connectors' receipts, settling our messages and
  re-issued to the ESME with our message_id.
- `MoIngress` (mo.py): the connectors' mobile-originated messages, routed to an account
  (routing.MoRouter) and stored for it.

Import from here; the modules may be split or merged.
"""

from opensmsc.upstream.connector import SmppConnector
from opensmsc.upstream.matching import IdReading, Match, ReceiptMatcher, upstream_id_keys
from opensmsc.upstream.mo import (
    DEFAULT_MO_VALIDITY,
    MoClaim,
    MoIngress,
    MoObserver,
    mo_deliver_sm,
)
from opensmsc.upstream.model import (
    Connector,
    ConnectorOptions,
    ConnectorState,
    ConnectorStatus,
    LinkState,
    MoCallback,
    ReceiptCallback,
    SessionStatus,
    SubmitOutcome,
    SubmitResult,
    reconnect_delay,
)
from opensmsc.upstream.outbind import outbind_bind_mode, outbind_refusal
from opensmsc.upstream.pool import Connectors, NamedMoCallback, NamedReceiptCallback
from opensmsc.upstream.receipts import UpstreamReceipts, receipt_error
from opensmsc.upstream.route import (
    PERMANENT_STATUSES,
    ConnectorRoute,
    NpLookup,
    classify_status,
    upstream_submit,
)
from opensmsc.upstream.settings import (
    SMPP_V33,
    SMPP_V34,
    SMPP_V50,
    ConnectorBind,
    ConnectorSettings,
    MessageIdFormat,
    bind_request,
    resolve_password,
)
from opensmsc.upstream.submit_queue import SubmitQueue

__all__ = [
    "DEFAULT_MO_VALIDITY",
    "PERMANENT_STATUSES",
    "SMPP_V33",
    "SMPP_V34",
    "SMPP_V50",
    "Connector",
    "ConnectorBind",
    "ConnectorOptions",
    "ConnectorRoute",
    "ConnectorSettings",
    "ConnectorState",
    "ConnectorStatus",
    "Connectors",
    "IdReading",
    "LinkState",
    "Match",
    "MessageIdFormat",
    "MoCallback",
    "MoClaim",
    "MoIngress",
    "MoObserver",
    "NamedMoCallback",
    "NamedReceiptCallback",
    "NpLookup",
    "ReceiptCallback",
    "ReceiptMatcher",
    "SessionStatus",
    "SmppConnector",
    "SubmitOutcome",
    "SubmitQueue",
    "SubmitResult",
    "UpstreamReceipts",
    "bind_request",
    "classify_status",
    "mo_deliver_sm",
    "outbind_bind_mode",
    "outbind_refusal",
    "receipt_error",
    "reconnect_delay",
    "resolve_password",
    "upstream_id_keys",
    "upstream_submit",
]
