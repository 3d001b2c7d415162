"""What a webhook says: a stored receipt (store direction RECEIPT, with a callback_url) as the
JSON document POSTed, in the Standard Webhooks shape `{"type", "timestamp", "data"}`.

The document depends only on the stored record, so every attempt of a webhook sends the same
octets (the signature and `webhook-timestamp` are the attempt's own).

```json
{"type": "message.status", "timestamp": "2025-03-01T12:00:00.123456Z",
 "data": {"id": "6b1683170000002a", "state": "delivered", "final": true,
          "to": "+447700900123", "from": "Example", "client_reference": "order-42",
          "error": null, "receipt_id": "6b1683170000002b"}}
```

`state` is the message's state in the API's words (as GET /v1/messages/{id} gives it),
`final` false for an intermediate notification (receipt "all": a first failed attempt), and
`error.code` the error the message ended with (an SMPP command_status or MAP error code).
"""

from __future__ import annotations

import json
from typing import Any, Final

from opensmsc.smpp import EsmClass, MessageState, NetworkErrorCode, Tag
from opensmsc.store import StoredMessage

__all__ = ["STATUS_TYPE", "payload_of"]

STATUS_TYPE: Final = "message.status"


def _address(ton: int, addr: str) -> str:
    return f"+{addr}" if ton == 1 else addr


def _timestamp(record: StoredMessage) -> str:
    return record.submitted_at.isoformat().replace("+00:00", "Z")


def payload_of(receipt: StoredMessage) -> bytes:
    """The JSON octets of `receipt`'s webhook."""
    values = receipt.tlv_values
    state = values.get(Tag.MESSAGE_STATE)
    try:
        state_name = MessageState(state).name.lower() if isinstance(state, int) else "unknown"
    except ValueError:
        state_name = "unknown"
    network_error = values.get(Tag.NETWORK_ERROR_CODE)
    error: dict[str, Any] | None = None
    if isinstance(network_error, NetworkErrorCode) and network_error.error_code:
        error = {"code": network_error.error_code}
    document = {
        "type": STATUS_TYPE,
        "timestamp": _timestamp(receipt),
        "data": {
            "id": receipt.receipted_message_id,
            "state": state_name,
            "final": not receipt.esm_class & EsmClass.INTERMEDIATE_NOTIFICATION,
            # A receipt travels back: from the message's destination to its source.
            "to": _address(receipt.source.ton, receipt.source.addr),
            "from": _address(receipt.destination.ton, receipt.destination.addr),
            "client_reference": receipt.client_reference,
            "error": error,
            "receipt_id": receipt.message_id,
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
