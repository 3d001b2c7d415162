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

A mobile-originated message for an account with a webhook_url goes the same way, as
`message.received`:

```json
{"type": "message.received", "timestamp": "2025-03-01T12:00:00.123456Z",
 "data": {"id": "6b1683170000002c", "from": "+447700900123", "to": "4000",
          "text": "STOP", "binary": null, "udh": null, "data_coding": 0,
          "encoding": "gsm7"}}
```

`text` is the content decoded by its data_coding (null for binary content, which is in
`binary` as hex); `udh` is the User Data Header in hex when the message has one (a part of a
long message, an application port).
"""

from __future__ import annotations

import json
from typing import Any, Final

from opensmsc.smpp import EsmClass, MessageState, NetworkErrorCode, Tag
from opensmsc.sms import (
    Alphabet,
    UdhError,
    UnsupportedDataCoding,
    alphabet_of,
    decode_text,
    parse_udh,
)
from opensmsc.store import StoredMessage

__all__ = ["MO_TYPE", "STATUS_TYPE", "content_of", "mo_payload_of", "payload_of"]

STATUS_TYPE: Final = "message.status"
MO_TYPE: Final = "message.received"


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


def content_of(record: StoredMessage) -> tuple[bytes, bytes]:
    """(UDH, payload) of a stored message's content (`StoredMessage.payload`); the UDH is split
    off when esm_class says there is one (and it parses)."""
    content = record.payload
    if record.esm_class & EsmClass.UDHI and content:
        try:
            _, payload = parse_udh(content)
        except UdhError:
            return b"", content  # sent on as it came: the receiver sees all the octets
        return content[: len(content) - len(payload)], payload
    return b"", content


def mo_payload_of(message: StoredMessage) -> bytes:
    """The JSON octets of a mobile-originated `message`'s webhook."""
    udh, payload = content_of(message)
    try:
        alphabet = alphabet_of(message.data_coding)
    except UnsupportedDataCoding:
        alphabet = Alphabet.BINARY
    text: str | None = None
    if alphabet is not Alphabet.BINARY:
        try:
            text = decode_text(message.data_coding, payload)
        except UnsupportedDataCoding:
            text = None
    document = {
        "type": MO_TYPE,
        "timestamp": _timestamp(message),
        "data": {
            "id": message.message_id,
            "from": _address(message.source.ton, message.source.addr),
            "to": _address(message.destination.ton, message.destination.addr),
            "text": text,
            "binary": payload.hex() if text is None else None,
            "udh": udh.hex() if udh else None,
            "data_coding": message.data_coding,
            "encoding": alphabet.name.lower(),
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
