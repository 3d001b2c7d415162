"""The "jasmin" callback style: delivery reports and mobile-originated messages sent to a URL as
Jasmin sends them, so that receivers written for Jasmin work unchanged.

What this is for: the webhook sender (http/webhooks/) calls a stored record's callback_url as
its callback_style says; a record whose style is `jasmin;...` is called here:

- a delivery report (jasmin/routing/throwers.py DLRThrower.http_dlr_callback): a form POST (or a
  GET with the fields in the query, `method=GET`) with `id` (the id /send answered), `level`,
  `message_status`, `connector`; a level-2 report (the terminal receipt) adds `id_smsc`, `sub`,
  `dlvrd`, `subdate`, `donedate`, `err` and `text`, read from the receipt's text. `level` is
  the level of this report (1: the SMSC accepted the message, `ESME_ROK`; 2: the receipt's
  `stat`), as Jasmin's code sends it, not the level asked for;
- a mobile-originated message (DeliverSmThrower.http_deliver_sm_callback, record direction MO):
  `id`, `from`, `to`, `origin-connector`, `content` (the message's octets), `binary` (the same
  in hex), `priority`, `coding` (the data_coding as one raw octet, as Jasmin 0.11's code sends
  it); a GET by default, as Jasmin's HTTP connectors.

Headers as Jasmin's: `Content-Type: application/x-www-form-urlencoded`, `Accept: text/plain`,
`User-Agent: Jasmin gateway/1.0 DLRThrower` (`deliverSmHttpThrower` for an MO). The callback is
done when the receiver answers a status below 400 with a body that is `ACK/Jasmin` once
stripped of blanks; anything else is tried again (the sender's back-off and retry time, not
Jasmin's three retries 30 s apart). Jasmin means not to retry a 404, but its check compares
the exception's text ("404: HttpApiError (...)") with "404" and never matches: a 404 is tried
again there too, and here.

Parameters (after `jasmin;`, `;`-separated `name=value`): `level` (1 or 2), `method` (GET or
POST), `connector` (the `connector` of a level-1 report, the `origin-connector` of an MO).

What it is not: the sender or its retry discipline (http/webhooks/sender.py).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlencode

from opensmsc.http.webhooks import CallbackRequest
from opensmsc.http.webhooks.payload import content_of
from opensmsc.sms import UnsupportedDataCoding, decode_text
from opensmsc.store import Direction, StoredMessage

from .jasmin import jasmin_id

__all__ = ["JasminStyle", "jasmin_fields"]

_ACK: Final = "ACK/Jasmin"
_DLR_AGENT: Final = "Jasmin gateway/1.0 DLRThrower"
_MO_AGENT: Final = "Jasmin gateway/1.0 deliverSmHttpThrower"
_RECEIPT: Final = re.compile(
    r"id:(?P<id>\S*)\s+sub:(?P<sub>\S*)\s+dlvrd:(?P<dlvrd>\S*)\s+submit date:(?P<subdate>\S*)"
    r"\s+done date:(?P<donedate>\S*)\s+stat:(?P<stat>\S*)\s+err:(?P<err>\S*)\s+text:(?P<text>.*)",
    re.IGNORECASE | re.DOTALL,
)


def _parameters(text: str) -> dict[str, str]:
    found = {}
    for item in text.split(";"):
        name, equals, value = item.partition("=")
        if equals:
            found[name.strip()] = value.strip()
    return found


def _receipt_text(record: StoredMessage) -> str:
    _, payload = content_of(record)
    try:
        return decode_text(record.data_coding, payload)
    except UnsupportedDataCoding:
        return payload.decode("latin-1")


def jasmin_fields(record: StoredMessage, parameters: str) -> list[tuple[str, str | bytes]]:
    """The fields Jasmin sends for `record`, in its order."""
    given = _parameters(parameters)
    if record.direction is Direction.MO:
        _, content = content_of(record)
        return [
            ("id", jasmin_id(record.message_id)),
            ("from", record.source.addr),
            ("to", record.destination.addr),
            ("origin-connector", given.get("connector", "opensmsc")),
            ("content", content),
            ("binary", content.hex()),
            ("priority", str(record.priority_flag)),
            # DataCodingEncoder().encode(): one raw octet (b"\x08"), not digits, whatever
            # Jasmin's documentation says.
            ("coding", bytes([record.data_coding & 0xFF])),
        ]
    message_id = record.client_reference or record.receipted_message_id or record.message_id
    if given.get("level") == "1":
        return [
            ("id", jasmin_id(message_id)),
            ("level", "1"),
            ("message_status", "ESME_ROK"),
            ("connector", given.get("connector", "")),
        ]
    match = _RECEIPT.search(_receipt_text(record))
    values = match.groupdict() if match else {}
    receipted = values.get("id") or (record.receipted_message_id or "")
    return [
        ("id", jasmin_id(message_id)),
        ("level", "2"),
        ("message_status", values.get("stat") or "UNKNOWN"),
        # Jasmin fills `connector` of a terminal report with the receipt's id (managers/dlr.py
        # dlr_connector=pdu_dlr_id), and `id_smsc` with the SMSC's message id: both ours here.
        ("connector", receipted),
        ("id_smsc", record.receipted_message_id or receipted),
        ("sub", values.get("sub", "")),
        ("dlvrd", values.get("dlvrd", "")),
        ("subdate", values.get("subdate", "")),
        ("donedate", values.get("donedate", "")),
        ("err", values.get("err", "")),
        ("text", values.get("text", "").strip()),
    ]


class JasminStyle:
    """Delivery reports and MO as Jasmin's throwers send them (module doc)."""

    def request(
        self, record: StoredMessage, parameters: str, *, timestamp: int, secret: str | None
    ) -> CallbackRequest:
        assert record.callback_url is not None
        mo = record.direction is Direction.MO
        method = _parameters(parameters).get("method", "GET" if mo else "POST").upper()
        form = urlencode(jasmin_fields(record, parameters)).encode("ascii")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "text/plain",
            "User-Agent": _MO_AGENT if mo else _DLR_AGENT,
        }
        if method == "GET":
            url = record.callback_url
            separator = "&" if "?" in url else "?"
            return CallbackRequest("GET", f"{url}{separator}{form.decode()}", headers)
        return CallbackRequest("POST", record.callback_url, headers, form)

    def accepted(self, status: int, body: bytes) -> bool:
        return status < 400 and body.decode("utf-8", errors="replace").strip() == _ACK
