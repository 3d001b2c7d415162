"""The simulated MSC (with its VLR): MT-ForwardSM to a handset, MO-ForwardSM from one.

What this is for (issue 6, "The simulated MSC and handsets"; DIGEST §6.1): the network route
(network/route.py) sends every SMS-DELIVER here once the HLR gave it the serving MSC. The MSC
asks the radio side about the subscriber (`condition`: busy, not answering the page, a random
failure in realistic mode), hands the message to the handset (network/handset.py) and answers
as TS 29.002 §12.9 says an MSC answers MT-ForwardSM: nothing for success, else a MAP error —
sm-DeliveryFailure memoryCapacityExceeded when the handset's memory is full, equipmentProtocolError
when it cannot read the user data header. The answer's `latency` is how long the real exchange
would take (paging, radio): the caller awaits it in realistic mode; it is 0 in deterministic mode,
so tests never sleep.

In the other direction, a handset's SMS-SUBMIT goes through `mo_forward_sm` to the SMSC's MO
handler (network/mo.MoGateway.mo_forward_sm), as an MSC relays MO-ForwardSM (46) to the
SMS-IWMSC.

What it is not: the HLR (SRI-SM, MWD, alerts: network/hlr.py) or the handset's behaviour.
The MSC keeps no state of its own beyond a trace of recent operations (`trace`) for tests and
the admin API.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Final

from opensmsc.network.handset import Handsets, Reception
from opensmsc.network.map_errors import DeliveryFailureCause, MapError, MapErrorCode
from opensmsc.sms import SmsDeliver, SmsSubmit

__all__ = [
    "MoHandler",
    "Mscs",
    "MtForwardResult",
    "SimulatedMsc",
    "TraceEntry",
]

log = logging.getLogger(__name__)

_TRACE: Final = 1000  # operations kept per MSC for inspection

_MEMORY_FULL: Final = MapError(
    MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.MEMORY_CAPACITY_EXCEEDED
)
_PROTOCOL_ERROR: Final = MapError(
    MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.EQUIPMENT_PROTOCOL_ERROR
)
_NO_SMSC: Final = MapError(
    MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.UNKNOWN_SERVICE_CENTRE
)

MoHandler = Callable[[int, SmsSubmit], Awaitable[MapError | None]]
"""The SMSC side of MO-ForwardSM: `(originator msisdn, sms_submit)` → None when the SMSC took
the message (stored), else the MAP error it answered."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MtForwardResult:
    """The answer to one MT-ForwardSM: `error` None for success; `latency` seconds the exchange
    takes (await it in realistic mode); `reception` what the handset did, when it got that far."""

    error: MapError | None
    latency: float = 0.0
    reception: Reception | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEntry:
    """One operation the MSC handled: "mt" (MT-ForwardSM) or "mo" (MO-ForwardSM)."""

    operation: str
    msisdn: int
    imsi: str
    peer: str  # mt: TP-OA (the originator); mo: TP-DA (the destination)
    more_messages_to_send: bool
    error: MapError | None


class SimulatedMsc:
    """One MSC/VLR of a network.

    `address` is its E.164 global title (what SRI-SM returns as the network node number),
    `network` the MCC-MNC it belongs to (recorded on what it delivers). `condition(msisdn)`
    says what the radio side answers for a subscriber right now (None: reachable; else the MAP
    error, e.g. subscriberBusyForMT-SMS or absentSubscriberSM with "no paging response");
    `latency(msisdn)` how long an exchange takes (0 in deterministic mode)."""

    def __init__(
        self,
        *,
        address: str,
        network: str,
        handsets: Handsets,
        condition: Callable[[int], MapError | None] = lambda _msisdn: None,
        latency: Callable[[int], float] = lambda _msisdn: 0.0,
        mo_handler: MoHandler | None = None,
    ) -> None:
        self.address = address
        self.network = network
        self._handsets = handsets
        self._condition = condition
        self._latency = latency
        self._mo_handler = mo_handler
        self.trace: deque[TraceEntry] = deque(maxlen=_TRACE)

    def set_mo_handler(self, handler: MoHandler) -> None:
        self._mo_handler = handler

    def mt_forward_sm(
        self,
        msisdn: int,
        sm: SmsDeliver,
        *,
        imsi: str = "",
        more_messages_to_send: bool = False,
    ) -> MtForwardResult:
        """MT-ForwardSM (44) to the subscriber `msisdn` (whose IMSI, SM-RP-DA, is `imsi`).

        `more_messages_to_send` says more messages for this subscriber follow in the same
        dialogue (TS 29.002 §12.9); the simulation records it (`trace`) and it changes nothing
        else, as on a real MSC, which only keeps the radio connection up for the next one."""
        latency = max(0.0, self._latency(msisdn))
        error = self._condition(msisdn)
        reception = None
        if error is None:
            reception = self._handsets.get(msisdn).receive(sm, network=self.network)
            if reception is Reception.MEMORY_FULL:
                error = _MEMORY_FULL
            elif reception is Reception.PROTOCOL_ERROR:
                error = _PROTOCOL_ERROR
        self.trace.append(
            TraceEntry(
                operation="mt",
                msisdn=msisdn,
                imsi=imsi,
                peer=sm.originator,
                more_messages_to_send=more_messages_to_send,
                error=error,
            )
        )
        log.debug(
            "mt-ForwardSM msc=%s msisdn=%s more=%s result=%s",
            self.address,
            msisdn,
            more_messages_to_send,
            error or "ok",
        )
        return MtForwardResult(error=error, latency=latency, reception=reception)

    async def mo_forward_sm(self, msisdn: int, submit: SmsSubmit) -> MapError | None:
        """MO-ForwardSM (46) from the handset `msisdn` to the SMSC. Without an SMSC attached
        the answer is sm-DeliveryFailure unknownServiceCentre."""
        if self._mo_handler is None:
            error: MapError | None = _NO_SMSC
        else:
            error = await self._mo_handler(msisdn, submit)
        self.trace.append(
            TraceEntry(
                operation="mo",
                msisdn=msisdn,
                imsi="",
                peer=submit.destination,
                more_messages_to_send=False,
                error=error,
            )
        )
        return error


class Mscs:
    """The MSCs of the simulated networks, by address, made on first use with the shared
    handsets and per-subscriber behaviour (`condition`, `latency`) the network gives them."""

    def __init__(
        self,
        handsets: Handsets,
        *,
        condition: Callable[[int], MapError | None] = lambda _msisdn: None,
        latency: Callable[[int], float] = lambda _msisdn: 0.0,
        mo_handler: MoHandler | None = None,
    ) -> None:
        self.handsets = handsets
        self._condition = condition
        self._latency = latency
        self._mo_handler = mo_handler
        self._mscs: dict[str, SimulatedMsc] = {}

    def set_mo_handler(self, handler: MoHandler) -> None:
        self._mo_handler = handler
        for msc in self._mscs.values():
            msc.set_mo_handler(handler)

    def get(self, address: str, network: str = "") -> SimulatedMsc:
        """The MSC at `address` (of `network`, MCC-MNC, when it is made)."""
        msc = self._mscs.get(address)
        if msc is None:
            msc = self._mscs[address] = SimulatedMsc(
                address=address,
                network=network,
                handsets=self.handsets,
                condition=self._condition,
                latency=self._latency,
                mo_handler=self._mo_handler,
            )
        return msc

    def __iter__(self) -> Iterator[SimulatedMsc]:
        return iter(list(self._mscs.values()))
