"""One frozen dataclass per SMPP PDU (3.3, 3.4 and 5.0), spec field names in wire order.

What this is for: the values the rest of opensmsc sends and receives. The same classes serve
both directions, `decode(encode(p, 7)).pdu == p`. Each field declares its wire type (see
fields.py); derived fields (command_length, sm_length, number_of_dests, no_unsuccess) are
computed by the codec, never stored. What it is not: validation. Field values are whatever the
peer sent (an unknown TON stays a plain int); checking them is the services' business.

A response carries `command_status` as its first field; a request carries no status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from opensmsc.smpp.constants import CommandId, CommandStatus, InterfaceVersion
from opensmsc.smpp.errors import LocalProtocolError
from opensmsc.smpp.fields import (
    METADATA_KEY,
    CString,
    DestAddresses,
    Integer,
    ShortMessage,
    TlvList,
    UnsuccessSmes,
)
from opensmsc.smpp.tlv import EMPTY_TLVS, Tlvs

_S = CommandStatus


# Field declarations: the default plus the wire type in the field's metadata. Statuses are the
# answer a strict decode gives for a malformed value of that field (SMPP 3.4 §5.1.3).
def _c(max_length: int, status: int = _S.ESME_RINVCMDLEN) -> str:
    return field(default="", metadata={METADATA_KEY: CString(max_length, status)})


def _i(size: int = 1, default: int = 0) -> int:
    return field(default=default, metadata={METADATA_KEY: Integer(size)})


def _service_type() -> str:
    return _c(6, _S.ESME_RINVSERTYP)


def _addr(max_length: int = 21) -> str:
    return _c(max_length, _S.ESME_RINVSRCADR)


def _dest(max_length: int = 21) -> str:
    return _c(max_length, _S.ESME_RINVDSTADR)


def _message_id() -> str:
    return _c(65, _S.ESME_RINVMSGID)


def _short_message() -> bytes:
    return field(default=b"", metadata={METADATA_KEY: ShortMessage()})


_TLVS = {METADATA_KEY: TlvList()}  # metadata of every `tlvs` field, always the last one


# -- bases -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Pdu:
    """Any SMPP PDU; `command_id` is a class constant."""

    command_id: ClassVar[int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Request(Pdu):
    """A PDU that is not a response (command_id bit 31 clear). It carries no command_status."""

    def response(self, **fields: object) -> Response:
        """The matching response PDU: `submit.response(message_id="abc")`.

        Raises LocalProtocolError for outbind and alert_notification, which have none.
        """
        cls: Callable[..., Response] | None = RESPONSE_CLASSES.get(type(self))
        if cls is None:
            raise LocalProtocolError(
                _S.ESME_RINVCMDID, f"{type(self).__name__} has no response PDU (SMPP 3.4 §4)"
            )
        return cls(**fields)


@dataclass(frozen=True, slots=True, kw_only=True)
class Response(Pdu):
    """A response PDU (command_id bit 31 set). A failed one may be header-only on the wire."""

    command_status: int = 0


# -- session management (SMPP 3.4 §4.1, §4.2, §4.3, §4.11) ------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Bind(Request):
    system_id: str = _c(16, _S.ESME_RINVSYSID)
    password: str = _c(9, _S.ESME_RINVPASWD)
    system_type: str = _c(13, _S.ESME_RINVSYSTYP)
    interface_version: int = _i(1, InterfaceVersion.V34.value)
    addr_ton: int = _i()
    addr_npi: int = _i()
    address_range: str = _c(41, _S.ESME_RBINDFAIL)


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitter(_Bind):
    """bind_transmitter (SMPP 3.4 §4.1.1)."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiver(_Bind):
    """bind_receiver (SMPP 3.4 §4.1.3)."""

    command_id: ClassVar[int] = CommandId.BIND_RECEIVER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiver(_Bind):
    """bind_transceiver (SMPP 3.4 §4.1.5); not in SMPP 3.3."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER


@dataclass(frozen=True, slots=True, kw_only=True)
class _BindResp(Response):
    system_id: str = _c(16, _S.ESME_RINVSYSID)
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)  # sc_interface_version (§4.1.2)


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    """bind_transmitter_resp (SMPP 3.4 §4.1.2)."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiverResp(_BindResp):
    """bind_receiver_resp (SMPP 3.4 §4.1.4)."""

    command_id: ClassVar[int] = CommandId.BIND_RECEIVER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    """bind_transceiver_resp (SMPP 3.4 §4.1.6)."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class Outbind(Request):
    """outbind (SMPP 3.4 §4.1.7). No response exists: the ESME answers with a bind."""

    command_id: ClassVar[int] = CommandId.OUTBIND
    system_id: str = _c(16, _S.ESME_RINVSYSID)
    password: str = _c(9, _S.ESME_RINVPASWD)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbind(Request):
    """unbind (SMPP 3.4 §4.2.1): header only."""

    command_id: ClassVar[int] = CommandId.UNBIND


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbindResp(Response):
    """unbind_resp (SMPP 3.4 §4.2.2): header only."""

    command_id: ClassVar[int] = CommandId.UNBIND_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericNack(Response):
    """generic_nack (SMPP 3.4 §4.3.1): header only; command_status says why."""

    command_id: ClassVar[int] = CommandId.GENERIC_NACK


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLink(Request):
    """enquire_link (SMPP 3.4 §4.11.1): header only."""

    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLinkResp(Response):
    """enquire_link_resp (SMPP 3.4 §4.11.2): header only."""

    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP


# -- messages (SMPP 3.4 §4.4-§4.7, §4.12) -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _ShortMessagePdu(Request):
    service_type: str = _service_type()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr()
    dest_addr_ton: int = _i()
    dest_addr_npi: int = _i()
    destination_addr: str = _dest()
    esm_class: int = _i()
    protocol_id: int = _i()
    priority_flag: int = _i()
    schedule_delivery_time: str = _c(17, _S.ESME_RINVSCHED)
    validity_period: str = _c(17, _S.ESME_RINVEXPIRY)
    registered_delivery: int = _i()
    replace_if_present_flag: int = _i()
    data_coding: int = _i()
    sm_default_msg_id: int = _i()
    short_message: bytes = _short_message()  # raw octets; sm_length is derived
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSm(_ShortMessagePdu):
    """submit_sm (SMPP 3.4 §4.4.1)."""

    command_id: ClassVar[int] = CommandId.SUBMIT_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSm(_ShortMessagePdu):
    """deliver_sm (SMPP 3.4 §4.6.1); schedule_delivery_time and validity_period are NULL."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSmResp(Response):
    """submit_sm_resp (SMPP 3.4 §4.4.2). TLVs are SMPP 5.0 (§4.2.5)."""

    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP
    message_id: str = _message_id()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSmResp(Response):
    """deliver_sm_resp (SMPP 3.4 §4.6.2). message_id is unused: C-Octet String of size 1,
    always NULL; a peer's non-empty one is accepted only by a lenient decode. TLVs are 5.0."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP
    message_id: str = _c(1, _S.ESME_RINVMSGID)
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SmeAddress:
    """A submit_multi dest_address with dest_flag 1, an SME address (SMPP 3.4 §4.5.1.1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionList:
    """A submit_multi dest_address with dest_flag 2, a distribution list name (§4.5.1.2)."""

    dl_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsuccessSme:
    """One failed destination in submit_multi_resp (SMPP 3.4 §4.5.2.1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0  # an SMPP command_status, Integer 4


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitMulti(Request):
    """submit_multi (SMPP 3.4 §4.5.1); number_of_dests is derived from dest_address."""

    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI
    service_type: str = _service_type()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr()
    dest_address: tuple[SmeAddress | DistributionList, ...] = field(
        default=(), metadata={METADATA_KEY: DestAddresses()}
    )
    esm_class: int = _i()
    protocol_id: int = _i()
    priority_flag: int = _i()
    schedule_delivery_time: str = _c(17, _S.ESME_RINVSCHED)
    validity_period: str = _c(17, _S.ESME_RINVEXPIRY)
    registered_delivery: int = _i()
    replace_if_present_flag: int = _i()
    data_coding: int = _i()
    sm_default_msg_id: int = _i()
    short_message: bytes = _short_message()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitMultiResp(Response):
    """submit_multi_resp (SMPP 3.4 §4.5.2); no_unsuccess is derived from unsuccess_sme."""

    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI_RESP
    message_id: str = _message_id()
    unsuccess_sme: tuple[UnsuccessSme, ...] = field(
        default=(), metadata={METADATA_KEY: UnsuccessSmes()}
    )
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSm(Request):
    """data_sm (SMPP 3.4 §4.7.1); the user data travels in the message_payload TLV."""

    command_id: ClassVar[int] = CommandId.DATA_SM
    service_type: str = _service_type()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr(65)
    dest_addr_ton: int = _i()
    dest_addr_npi: int = _i()
    destination_addr: str = _dest(65)
    esm_class: int = _i()
    registered_delivery: int = _i()
    data_coding: int = _i()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSmResp(Response):
    """data_sm_resp (SMPP 3.4 §4.7.2)."""

    command_id: ClassVar[int] = CommandId.DATA_SM_RESP
    message_id: str = _message_id()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


# -- message management (SMPP 3.4 §4.8-§4.10, §4.12) --------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySm(Request):
    """query_sm (SMPP 3.4 §4.8.1)."""

    command_id: ClassVar[int] = CommandId.QUERY_SM
    message_id: str = _message_id()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr()


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySmResp(Response):
    """query_sm_resp (SMPP 3.4 §4.8.2)."""

    command_id: ClassVar[int] = CommandId.QUERY_SM_RESP
    message_id: str = _message_id()
    final_date: str = _c(17)
    message_state: int = _i()
    error_code: int = _i()


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelSm(Request):
    """cancel_sm (SMPP 3.4 §4.9.1). An empty message_id cancels all matching messages."""

    command_id: ClassVar[int] = CommandId.CANCEL_SM
    service_type: str = _service_type()
    message_id: str = _message_id()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr()
    dest_addr_ton: int = _i()
    dest_addr_npi: int = _i()
    destination_addr: str = _dest()


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelSmResp(Response):
    """cancel_sm_resp (SMPP 3.4 §4.9.2): header only."""

    command_id: ClassVar[int] = CommandId.CANCEL_SM_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceSm(Request):
    """replace_sm (SMPP 3.4 §4.10.1). No service_type (KAN's definition wrongly has one)."""

    command_id: ClassVar[int] = CommandId.REPLACE_SM
    message_id: str = _message_id()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr()
    schedule_delivery_time: str = _c(17, _S.ESME_RINVSCHED)
    validity_period: str = _c(17, _S.ESME_RINVEXPIRY)
    registered_delivery: int = _i()
    sm_default_msg_id: int = _i()
    short_message: bytes = _short_message()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)  # SMPP 5.0 §4.5.3.1: message_payload


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceSmResp(Response):
    """replace_sm_resp (SMPP 3.4 §4.10.2): header only."""

    command_id: ClassVar[int] = CommandId.REPLACE_SM_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertNotification(Request):
    """alert_notification (SMPP 3.4 §4.12.1). No response exists."""

    command_id: ClassVar[int] = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr(65)
    esme_addr_ton: int = _i()
    esme_addr_npi: int = _i()
    esme_addr: str = _dest(65)
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


# -- cell broadcast (SMPP 5.0 §4.6) -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcastSm(Request):
    """broadcast_sm (SMPP 5.0 §4.6.1). No esm_class or registered_delivery (KAN adds one)."""

    command_id: ClassVar[int] = CommandId.BROADCAST_SM
    service_type: str = _service_type()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr()
    message_id: str = _message_id()
    priority_flag: int = _i()
    schedule_delivery_time: str = _c(17, _S.ESME_RINVSCHED)
    validity_period: str = _c(17, _S.ESME_RINVEXPIRY)
    replace_if_present_flag: int = _i()
    data_coding: int = _i()
    sm_default_msg_id: int = _i()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcastSmResp(Response):
    """broadcast_sm_resp (SMPP 5.0 §4.6.2)."""

    command_id: ClassVar[int] = CommandId.BROADCAST_SM_RESP
    message_id: str = _message_id()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryBroadcastSm(Request):
    """query_broadcast_sm (SMPP 5.0 §4.6.3)."""

    command_id: ClassVar[int] = CommandId.QUERY_BROADCAST_SM
    message_id: str = _message_id()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryBroadcastSmResp(Response):
    """query_broadcast_sm_resp (SMPP 5.0 §4.6.4)."""

    command_id: ClassVar[int] = CommandId.QUERY_BROADCAST_SM_RESP
    message_id: str = _message_id()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelBroadcastSm(Request):
    """cancel_broadcast_sm (SMPP 5.0 §4.6.5)."""

    command_id: ClassVar[int] = CommandId.CANCEL_BROADCAST_SM
    service_type: str = _service_type()
    message_id: str = _message_id()
    source_addr_ton: int = _i()
    source_addr_npi: int = _i()
    source_addr: str = _addr()
    tlvs: Tlvs = field(default=EMPTY_TLVS, metadata=_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelBroadcastSmResp(Response):
    """cancel_broadcast_sm_resp (SMPP 5.0 §4.6.6): header only."""

    command_id: ClassVar[int] = CommandId.CANCEL_BROADCAST_SM_RESP


_ALL: tuple[type[Pdu], ...] = (
    BindTransmitter,
    BindTransmitterResp,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    Outbind,
    Unbind,
    UnbindResp,
    GenericNack,
    EnquireLink,
    EnquireLinkResp,
    SubmitSm,
    SubmitSmResp,
    DeliverSm,
    DeliverSmResp,
    SubmitMulti,
    SubmitMultiResp,
    DataSm,
    DataSmResp,
    QuerySm,
    QuerySmResp,
    CancelSm,
    CancelSmResp,
    ReplaceSm,
    ReplaceSmResp,
    AlertNotification,
    BroadcastSm,
    BroadcastSmResp,
    QueryBroadcastSm,
    QueryBroadcastSmResp,
    CancelBroadcastSm,
    CancelBroadcastSmResp,
)

_ShortMessageT = TypeVar("_ShortMessageT", "SubmitSm", "DeliverSm")


def data_sm_as(cls: type[_ShortMessageT], pdu: DataSm) -> _ShortMessageT:
    """The submit_sm or deliver_sm that carries a data_sm's message: its addresses, esm_class,
    registered_delivery and data_coding, and its TLVs (the content is in message_payload,
    which both carry; SMPP 3.4 §4.7.1)."""
    return cls(
        service_type=pdu.service_type,
        source_addr_ton=pdu.source_addr_ton,
        source_addr_npi=pdu.source_addr_npi,
        source_addr=pdu.source_addr,
        dest_addr_ton=pdu.dest_addr_ton,
        dest_addr_npi=pdu.dest_addr_npi,
        destination_addr=pdu.destination_addr,
        esm_class=pdu.esm_class,
        registered_delivery=pdu.registered_delivery,
        data_coding=pdu.data_coding,
        tlvs=pdu.tlvs,
    )


PDU_CLASSES: dict[int, type[Pdu]] = {cls.command_id: cls for cls in _ALL}
"""command_id → PDU class, for every PDU of SMPP 3.3, 3.4 and 5.0."""

RESPONSE_CLASSES: dict[type[Pdu], type[Response]] = {
    cls: resp
    for cls in _ALL
    if issubclass(cls, Request)
    and (resp := PDU_CLASSES.get(cls.command_id | 0x80000000)) is not None
    and issubclass(resp, Response)
}
"""Request class → the class of its response (outbind and alert_notification have none)."""

__all__ = [
    "PDU_CLASSES",
    "RESPONSE_CLASSES",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "BroadcastSm",
    "BroadcastSmResp",
    "CancelBroadcastSm",
    "CancelBroadcastSmResp",
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "Pdu",
    "QueryBroadcastSm",
    "QueryBroadcastSmResp",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "Request",
    "Response",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
]
