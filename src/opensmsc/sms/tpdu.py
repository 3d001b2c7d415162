"""The short messages that cross the simulated radio and MAP interfaces: SMS-DELIVER (towards a
handset, inside MT-ForwardSM) and SMS-SUBMIT (from a handset, inside MO-ForwardSM).

What this is for: the MSC, the handsets and the route exchange these values instead of raw
TPDU octets (TS 23.040 §9.2.2.1 / §9.2.2.2). Field names follow the TP- parameters; the user
data stays as SMPP carries it (GSM 7-bit unpacked, one septet per octet; the UDH at its head
when `has_udh`), so nothing is packed and unpacked on the way through a simulation.

What it is not: a TPDU codec. A real MAP adapter (docs/network-adapters.md) encodes these to
SM-RP-UI octets; the simulator never needs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from opensmsc.sms.dcs import MessageClass, UnsupportedDataCoding, decode_text, parse_data_coding
from opensmsc.sms.udh import Concat, PortAddress, UserDataHeader, parse_udh

__all__ = [
    "UNSTRUCTURED",
    "SmsDeliver",
    "SmsSubmit",
    "UserData",
    "decode_payload",
    "read_user_data",
]

UNSTRUCTURED: Final = UserDataHeader()  # what a message without a UDH reads as


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsDeliver:
    """SMS-DELIVER (TS 23.040 §9.2.2.1): what MT-ForwardSM carries to a handset.

    `originator` is TP-OA, `data_coding` the SMPP data_coding (mapped to TP-DCS on a real air
    interface, digest §4.3), `user_data` TP-UD with the UDH first when `has_udh` (TP-UDHI).
    `status_report` is TP-SRI (a status report will go back to the originator)."""

    originator: str
    data_coding: int = 0
    user_data: bytes = field(default=b"", repr=False)
    has_udh: bool = False
    protocol_id: int = 0
    status_report: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsSubmit:
    """SMS-SUBMIT (TS 23.040 §9.2.2.2): what a handset sends inside MO-ForwardSM.

    `destination` is TP-DA, `reference` TP-MR (0..255, the handset's counter), the rest as in
    SmsDeliver; `status_report` is TP-SRR."""

    destination: str
    reference: int = 0
    data_coding: int = 0
    user_data: bytes = field(default=b"", repr=False)
    has_udh: bool = False
    protocol_id: int = 0
    status_report: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UserData:
    """TP-UD read: its header (empty without TP-UDHI), the payload after it, and what the
    header and TP-DCS say about it."""

    header: UserDataHeader
    payload: bytes
    message_class: MessageClass | None

    @property
    def concat(self) -> Concat | None:
        return self.header.concat

    @property
    def ports(self) -> PortAddress | None:
        return self.header.ports

    @property
    def is_flash(self) -> bool:
        """Class 0: shown at once, not stored (TS 23.038 §4)."""
        return self.message_class is MessageClass.CLASS_0


def read_user_data(data_coding: int, user_data: bytes, has_udh: bool) -> UserData:
    """Split TP-UD into header and payload. Raises UdhError for a header that does not parse
    (a handset answers that with an equipment protocol error)."""
    header, payload = parse_udh(user_data) if has_udh else (UNSTRUCTURED, bytes(user_data))
    return UserData(
        header=header,
        payload=payload,
        message_class=parse_data_coding(data_coding & 0xFF).message_class,
    )


def decode_payload(data_coding: int, payload: bytes, header: UserDataHeader) -> str | None:
    """The text of a payload, or None when its alphabet has no decoder here (binary data is
    shown as its octets by `decode_text`; compressed text is not)."""
    try:
        return decode_text(data_coding & 0xFF, payload, header.single_shift, header.locking_shift)
    except UnsupportedDataCoding:
        return None
