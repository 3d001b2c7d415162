"""Kannel's delivery reports: a GET of the message's `dlr-url` with its % escapes filled in.

What this is for: clients of Kannel's sendsms (kannel.py) give a `dlr-mask` and a `dlr-url` such
as `http://app/dlr?id=123&type=%d&answer=%A`; Kannel's smsbox fetches that URL for each report
the mask asks for, with the escapes replaced (gw/urltrans.c `urltrans_fill_escape_codes`), and
is done when it is answered (gw/smsbox.c `url_result_thread`: 200 or 202). Receivers written
for it must work unchanged, so `KannelStyle` makes the same request of our stored receipt:

- `%d` the report's type: 1 delivered, 2 failed, 4 buffered (an intermediate notification, or
  an ACCEPTED outcome), 8 "delivered to SMSC" (made when the message is stored: we are the
  SMSC it was delivered to), 16 when only "non-delivered to SMSC" was asked for a failure;
- `%A`, `%b` the receipt text (`id:... sub:... dlvrd:... stat:DELIVRD err:000 text:...`), as
  Kannel passes an SMPP receipt's short_message, or `ACK/` for type 8; `%a`, `%k`, `%s`,
  `%S`, `%r` its words;
- `%p` the message's destination and `%P` its sender, as the client wrote them in `to` and
  `from`; `%q`/`%Q` the same with a leading `00` made `%2B`;
- `%t` the report's time in GMT as `YYYY-MM-DD+HH:MM:SS` (what the code writes, not the user
  guide's `YYYY-MM-DD HH:MM`), `%T` the same as Unix seconds;
- `%I` a UUID of the report (Kannel makes a new message for each report: not the MT's id),
  `%F` the id the SMSC gave the message (ours: sendsms does not return it), `%i` the `smsc`
  the client named (empty otherwise), `%n` the sendsms user (the account's system_id), `%R`
  the dlr-url itself;
- `%o` the SMPP account the receipt came from (the account itself; empty for type 8), `%D`
  the report's meta-data as Kannel 1.4.5 writes it for an SMPP SMSC
  (`?orig_msg?dlr_mask=31&?smpp?dlr_err=%03%00%00&`, the network error's type and code; for
  type 8 `?smpp_resp??orig_msg?dlr_mask=31&`), `%#group#param#` one value of it;
- what a Kannel report message leaves unset comes out as Kannel writes unset fields: `%c`,
  `%m`, `%M` are `-1`, `%C` is `UTF-8`, `%O` is `00`; `%u`, `%B`, `%f`, `%v`, `%V` are empty;
  `%%` is `%`; any other `%x` is kept as it is.

Every value is URL-encoded as Kannel's `octstr_url_encode` does (RFC 2396 unreserved characters
kept, a space as `+`, the rest `%XX` in upper case) except `%I`, `%t`, `%T`, `%c`, `%O`.

The record carries what the report needs in its callback_style, `kannel;` and a query string
(`mask`, `to`, `from`, `smsc`): written at submission by kannel.py, copied to the receipt by
the engine (engine/lifecycle.py).

What it is not: the sending and retrying (http/webhooks/sender.py: any 2xx ends it, anything
else is tried again with back-off, where Kannel tries once unless `http-request-retry` is set).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

from opensmsc import __version__
from opensmsc.http.webhooks import CallbackRequest
from opensmsc.smpp import EsmClass, MessageState, NetworkErrorCode, Tag
from opensmsc.store import Address, Direction, StoredMessage

__all__ = [
    "DLR_BUFFERED",
    "DLR_FAIL",
    "DLR_SMSC_FAIL",
    "DLR_SMSC_SUCCESS",
    "DLR_SUCCESS",
    "KANNEL_STYLE",
    "KannelStyle",
    "dlr_parameters",
    "fill_escapes",
    "registered_delivery_of",
    "smsc_ack",
    "url_encode",
]

KANNEL_STYLE: Final = "kannel"  # the name in callback_style and in CallbackStyles
# Kannel's dlr-mask bits (gw/dlr.h)
DLR_SUCCESS: Final = 0x01
DLR_FAIL: Final = 0x02
DLR_BUFFERED: Final = 0x04
DLR_SMSC_SUCCESS: Final = 0x08
DLR_SMSC_FAIL: Final = 0x10
DLR_SMSC_INTERMEDIATE: Final = 0x20

_INTERMEDIATE_NOTIFICATION: Final = 0x10  # registered_delivery bit 4 (SMPP 3.4 §5.2.17)
_USER_AGENT: Final = f"Kannel/1.4.5 (opensmsc {__version__})"
_NAMESPACE: Final = uuid.UUID("5f0a3b52-3d8e-4c47-9a53-6b6e6e656c21")
_ACK: Final = b"ACK/"
_ERR: Final = re.compile(rb" err:([0-9]{1,3})")
_BUFFERED_STATES: Final = frozenset({MessageState.ENROUTE, MessageState.ACCEPTED})


def url_encode(data: bytes | str) -> str:
    """gwlib/octstr.c `octstr_url_encode`: letters, digits and `-_.!~*'()` kept, a space as
    `+`, every other octet `%XX` (upper case)."""
    return quote_plus(data, safe="!*'()~")


def registered_delivery_of(mask: int) -> int:
    """The SMPP registered_delivery closest to a Kannel dlr-mask: final receipts on success
    (1), failure (2, or 16: refused by the SMSC) or both; intermediate notifications for 4
    (buffered) and 32 (SMSC intermediate). 8 (accepted by the SMSC) is made by the endpoint
    itself (`smsc_ack`)."""
    success = bool(mask & DLR_SUCCESS)
    failure = bool(mask & (DLR_FAIL | DLR_SMSC_FAIL))
    final = 0x01 if success and failure else 0x02 if failure else 0x03 if success else 0x00
    intermediate = (
        _INTERMEDIATE_NOTIFICATION if mask & (DLR_BUFFERED | DLR_SMSC_INTERMEDIATE) else 0
    )
    return final | intermediate


def dlr_parameters(
    *, mask: int, to: str, sender: str, smsc: str | None, report_type: int | None = None
) -> str:
    """The callback_style of a message sent through sendsms with `dlr-mask` `mask` (and of
    a report whose type is fixed when it is made: `report_type`)."""
    values = [("mask", str(mask)), ("to", to), ("from", sender)]
    if smsc:
        values.append(("smsc", smsc))
    if report_type is not None:
        values.append(("type", str(report_type)))
    return f"{KANNEL_STYLE};{urlencode(values)}"


def smsc_ack(
    message: StoredMessage, *, report_id: str, at: datetime, parameters: str
) -> StoredMessage:
    """The type 8 report ("delivered to SMSC") of `message`, made when it is stored: a
    receipt record with the message's callback_url, sent like any report. Its text is
    Kannel's for an SMPP submit_sm_resp, `ACK/` (gw/bb_smscconn.c bb_smscconn_sent)."""
    assert message.callback_url is not None
    return StoredMessage(
        message_id=report_id,
        system_id=message.system_id,
        direction=Direction.RECEIPT,
        source=message.destination,  # from the message's destination, to its sender
        destination=message.source,
        esm_class=EsmClass.INTERMEDIATE_NOTIFICATION,
        short_message=_ACK,
        submitted_at=at,
        due_at=at,
        expires_at=max(message.expires_at, at),
        state=MessageState.ENROUTE,
        receipted_message_id=message.message_id,
        callback_url=message.callback_url,
        callback_style=parameters,
    )


def dlr_type(receipt: StoredMessage, mask: int) -> int:
    """The Kannel report type of a stored receipt, as smsc_smpp.c reads an SMPP receipt's
    message_state (DELIVERED 1; ENROUTE, ACCEPTED 4; any other 2)."""
    if receipt.esm_class & EsmClass.INTERMEDIATE_NOTIFICATION:
        if mask & DLR_SMSC_INTERMEDIATE and not mask & DLR_BUFFERED:
            return DLR_SMSC_INTERMEDIATE
        return DLR_BUFFERED
    value = receipt.tlv_values.get(Tag.MESSAGE_STATE)
    try:
        state = MessageState(value) if isinstance(value, int) else MessageState.UNKNOWN
    except ValueError:
        state = MessageState.UNKNOWN
    if state is MessageState.DELIVERED:
        return DLR_SUCCESS
    if state in _BUFFERED_STATES:
        return DLR_BUFFERED if mask & DLR_BUFFERED else DLR_SUCCESS
    if not mask & DLR_FAIL and mask & DLR_SMSC_FAIL:
        return DLR_SMSC_FAIL
    return DLR_FAIL


def meta_data(groups: Sequence[tuple[str, Sequence[tuple[str, bytes]]]]) -> str:
    """gw/meta_data.c's text of meta-data: `?group?key=value&...` (values URL-encoded)."""
    return "".join(
        f"?{group}?" + "".join(f"{key}={url_encode(value)}&" for key, value in values)
        for group, values in groups
    )


def _report_meta(
    record: StoredMessage, mask: int, fixed: int | None
) -> list[tuple[str, list[tuple[str, bytes]]]]:
    # What Kannel 1.4.5's report messages carry from an SMPP SMSC: the original mask, and
    # for a receipt the network error (type, code; GSM 0 when there is none).
    original = ("orig_msg", [("dlr_mask", str(mask).encode())])
    if fixed == DLR_SMSC_SUCCESS:
        return [("smpp_resp", []), original]
    error = record.tlv_values.get(Tag.NETWORK_ERROR_CODE)
    if isinstance(error, NetworkErrorCode):
        network_type, value = error.network_type, error.error_code
    else:  # smsc_smpp.c: the receipt text's err:, as GSM
        found = _ERR.search(record.short_message)
        network_type, value = 3, int(found.group(1)) if found else 0
    code = bytes((network_type & 0xFF, value >> 8 & 0xFF, value & 0xFF))
    return [original, ("smpp", [("dlr_err", code)])]


def _printable(url: str) -> str:
    # The URL goes as filled in (Kannel sends its octets as they are); what may not stand in
    # a request line (blanks, controls, non-ASCII the client left in its dlr-url) is escaped.
    return "".join(c if "!" <= c <= "~" else quote(c, safe="") for c in url)


def _address(address: Address) -> str:
    return f"+{address.addr}" if address.ton == 1 else address.addr


def _plus_for_00(number: str) -> str:
    if number.startswith("00"):
        return "%2B" + url_encode(number[2:])
    return url_encode(number)


def fill_escapes(
    pattern: str,
    *,
    dlr_type: int,
    text: bytes,
    receiver: str,
    sender: str,
    at: int,
    report_id: str,
    foreign_id: str,
    smsc: str,
    service: str,
    account: str = "",
    meta: Sequence[tuple[str, Sequence[tuple[str, bytes]]]] = (),
) -> str:
    """`pattern` (a dlr-url) with Kannel's % escapes replaced, as urltrans_fill_escape_codes
    does for a report message (`at`: its Unix time; `meta` its meta-data groups)."""
    words = text.split()
    nextarg = 1
    out: list[str] = []
    pos, length = 0, len(pattern)
    while True:
        start = pos
        while pos < length and not (pattern[pos] == "%" and pos + 1 < length):
            pos += 1
        out.append(pattern[start:pos])
        if pos >= length:
            # (past the end only after `%#group#` without its closing `#`, where Kannel
            # reads beyond the pattern: we stop)
            break
        code = pattern[pos + 1]
        match code:
            case "a":
                out.append("+".join(url_encode(w) for w in words))
            case "A" | "b":
                out.append(url_encode(text))
            case "c" | "m" | "M":
                out.append("-1")  # unset in a report message (MSG_PARAM_UNDEFINED)
            case "C":
                out.append("UTF-8")
            case "d":
                out.append(str(dlr_type))
            case "F":
                out.append(url_encode(foreign_id))
            case "i":
                out.append(url_encode(smsc))
            case "I":
                out.append(report_id)
            case "k":
                if words:
                    out.append(url_encode(words[0]))
            case "n":
                out.append(url_encode(service))
            case "O":
                out.append("00")  # fields_to_dcs of an unset coding: 7-bit, no class
            case "P":
                out.append(url_encode(sender))
            case "p":
                out.append(url_encode(receiver))
            case "q":
                out.append(_plus_for_00(receiver))
            case "Q":
                out.append(_plus_for_00(sender))
            case "r":
                out.append("+".join(url_encode(w) for w in words[nextarg:]))
            case "R":
                out.append(url_encode(pattern))
            case "s":
                if nextarg < len(words):
                    out.append(url_encode(words[nextarg]))
                    nextarg += 1
            case "S":
                if nextarg < len(words):
                    out.append(words[nextarg].replace(b"*", b"~").decode("latin-1"))
                    nextarg += 1
            case "t":
                out.append(time.strftime("%Y-%m-%d+%H:%M:%S", time.gmtime(at)))
            case "T":
                out.append(str(at))
            case "#":
                # %#group#param#: one meta-data value. The positions move as Kannel's do,
                # so what follows is copied the same way.
                first = pattern.find("#", pos + 2)
                if first >= 0:
                    group = pattern[pos + 2 : first]
                    pos = first + 1
                    second = pattern.find("#", pos)
                    if second >= 0:
                        wanted = pattern[pos:second]
                        found = [v for g, ps in meta if g == group for k, v in ps if k == wanted]
                        if found:
                            out.append(url_encode(found[0]))
                    pos = second - 1 if second >= 0 else pos + 1
            case "%":
                out.append("%")
            case "o":
                out.append(url_encode(account))
            case "D":
                out.append(url_encode(meta_data(meta)))
            case "u" | "B" | "f" | "v" | "V":
                pass  # unset in a report message
            case _:
                out.append("%" + code)
        pos += 2
    return "".join(out)


class KannelStyle:
    """Delivery reports to a Kannel dlr-url (a `CallbackStyle`, registered as "kannel")."""

    def request(
        self, record: StoredMessage, parameters: str, *, timestamp: int, secret: str | None
    ) -> CallbackRequest:
        assert record.callback_url is not None
        values: Mapping[str, str] = dict(parse_qsl(parameters, keep_blank_values=True))
        try:
            mask = int(values.get("mask", "3"))
            fixed = int(values["type"]) if "type" in values else None
        except ValueError:
            mask, fixed = DLR_SUCCESS | DLR_FAIL, None
        url = fill_escapes(
            record.callback_url,
            dlr_type=dlr_type(record, mask) if fixed is None else fixed,
            text=record.payload,
            # A receipt travels back: from the message's destination to its sender.
            receiver=values.get("to") or _address(record.source),
            sender=values.get("from") or _address(record.destination),
            at=int(record.submitted_at.timestamp()),
            report_id=str(uuid.uuid5(_NAMESPACE, record.message_id)),
            foreign_id=record.receipted_message_id or "",
            smsc=values.get("smsc", ""),
            service=record.system_id,
            # the SMPP account the receipt came from: the submitter's own, here
            account="" if fixed == DLR_SMSC_SUCCESS else record.system_id,
            meta=_report_meta(record, mask, fixed),
        )
        return CallbackRequest("GET", _printable(url), {"User-Agent": _USER_AGENT}, encoded=True)

    def accepted(self, status: int, body: bytes) -> bool:
        # Kannel is done with 200 or 202 (and by default tries no other answer again); a
        # receiver that answers another 2xx has taken the report too.
        return 200 <= status < 300
