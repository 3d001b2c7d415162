"""The engine's side of upstream connectors (docs/design/engine.md, issue 5).

- `ConnectorRoute` (upstream_route.py): the Route that submits a stored MT through a connector
  and maps the upstream's message_id to ours.
- `UpstreamReceipts` (upstream_receipts.py): the connectors' receipts, settling our messages
  and re-issued to the ESME with our message_id.
- `MoIngress` (mo_ingress.py): the connectors' mobile-originated messages, routed to an account
  and stored for it.

Import from here; the modules may be split or merged.
"""

from opensmsc.upstream.mo import DEFAULT_MO_VALIDITY, BoundSession, MoIngress, mo_deliver_sm
from opensmsc.upstream.receipts import UpstreamReceipts, receipt_error
from opensmsc.upstream.route import (
    PERMANENT_STATUSES,
    ConnectorRoute,
    classify_status,
    upstream_submit,
)

__all__ = [
    "DEFAULT_MO_VALIDITY",
    "PERMANENT_STATUSES",
    "BoundSession",
    "ConnectorRoute",
    "MoIngress",
    "UpstreamReceipts",
    "classify_status",
    "mo_deliver_sm",
    "receipt_error",
    "upstream_submit",
]
