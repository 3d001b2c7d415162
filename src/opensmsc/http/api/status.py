"""A stored record as the API shows it (models.MessageStatus): its state in words, its
addresses as the client wrote them, and its error named in the code space it came from (a MAP
error when the simulated network answered, an SMPP command_status otherwise).
"""

from __future__ import annotations

from opensmsc.network import MapErrorCode
from opensmsc.smpp import CommandStatus
from opensmsc.store import StoredMessage, outcome_error

from .models import MessageError, MessagePart, MessageStatus

__all__ = ["status_of"]

_NETWORK_ROUTE = "network"  # the simulated network's route name: its errors are MAP errors


def _address(ton: int, addr: str) -> str:
    return f"+{addr}" if ton == 1 else addr


def _error(record: StoredMessage) -> MessageError | None:
    code = outcome_error(record.state, record.last_error)
    if code is None:
        return None
    if record.route == _NETWORK_ROUTE:
        try:
            name: str | None = _map_name(MapErrorCode(code))
        except ValueError:
            name = None
        return MessageError(kind="map", code=code, name=name)
    try:
        name = CommandStatus(code).name
    except ValueError:
        name = None
    return MessageError(kind="smpp", code=code, name=name)


def _map_name(code: MapErrorCode) -> str:
    # absentSubscriber, as 3GPP TS 29.002 writes it, from ABSENT_SUBSCRIBER.
    first, *rest = code.name.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


def status_of(record: StoredMessage) -> MessageStatus:
    concat = record.concat
    return MessageStatus(
        id=record.message_id,
        state=record.state.name.lower(),  # type: ignore[arg-type]  # the Literal's words
        to=_address(record.destination.ton, record.destination.addr),
        from_=_address(record.source.ton, record.source.addr),
        submitted_at=record.submitted_at,
        scheduled_at=record.due_at,
        expires_at=record.expires_at,
        done_at=record.done_at,
        attempts=record.attempts,
        route=record.route,
        part=None
        if concat is None
        else MessagePart(group=concat.group_id, seq=concat.seq, total=concat.total),
        data_coding=record.data_coding,
        priority=record.priority_flag,
        registered_delivery=record.registered_delivery,
        client_reference=record.client_reference,
        callback_url=record.callback_url,
        error=_error(record),
    )
