"""The HLR lookup service as a library call: for an MSISDN, is it valid, reachable, ported, and
which network serves it (DIGEST §6.3 "HLR lookup / HNR"), without sending any MT-ForwardSM.

What this is for: what commercial "HLR lookup" APIs sell, answered from the simulated HLR and
the portability table. The HTTP admin interface exposes `HlrLookup.lookup` as JSON
(`LookupResult.as_dict`); the CLI prints it.

What it is not: a delivery. A lookup sets no message-waiting data, sends no alert and consumes
no injected error (it reads the subscriber's state, not the injection queue). In realistic mode
it may still see a random systemFailure, as a real SRI-SM would.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from opensmsc.network.hlr import RoutingInfo, SimulatedHlr
from opensmsc.network.map_errors import MapError
from opensmsc.network.subscriber import SubscriberState
from opensmsc.routing import InvalidNumber, format_e164

__all__ = ["HlrLookup", "LookupResult", "mask_imsi"]


def mask_imsi(imsi: str) -> str:
    """The IMSI with its MSIN hidden: MCC and MNC (5 digits; what the lookup services show) then
    '*'. An IMSI identifies the SIM; the lookup's customer needs only its network."""
    return imsi[:5] + "*" * (len(imsi) - 5)


@dataclass(frozen=True, slots=True)
class LookupResult:
    """An HLR lookup answer. `msisdn` is E.164 with '+' (the text as given when invalid).
    `valid` is False for a number that is not E.164 or that no HLR holds (unknownSubscriber).
    `reachable` is True when SRI-SM gave routing info (a message could be sent now).
    `error` is the MAP error's spec name ("absentSubscriberSM"), `error_code` its code, or the
    reason an invalid number was refused. Networks are MCC-MNC strings."""

    msisdn: str
    valid: bool
    reachable: bool
    state: str | None = None  # SubscriberState value
    mcc_mnc: str | None = None  # current operator (IMSI network; the recipient when ported)
    serving_mcc_mnc: str | None = None  # network of the serving MSC (visited, when roaming)
    home_mcc_mnc: str | None = None  # network holding the number range
    roaming: bool = False
    ported: bool = False
    ported_to: str | None = None
    routing_number: str | None = None
    imsi: str | None = None  # masked unless the service was built with mask_imsi=False
    msc_address: str | None = None
    error: str | None = None
    error_code: int | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict, keys as the field names."""
        return asdict(self)


class HlrLookup:
    """HLR lookups against a SimulatedHlr (and its portability data)."""

    def __init__(self, hlr: SimulatedHlr, *, mask_imsi: bool = True) -> None:
        self.hlr = hlr
        self.mask_imsi = mask_imsi

    def lookup(self, msisdn: str | int) -> LookupResult:
        """Look `msisdn` up. Never raises for bad input: an invalid number is a result."""
        try:
            subscriber = self.hlr.subscriber(msisdn)
        except InvalidNumber as exc:
            return LookupResult(msisdn=str(msisdn), valid=False, reachable=False, error=exc.reason)
        portability = self.hlr.portability
        routing_number: str | None = None
        if subscriber.ported_to is not None and portability is not None:
            record = portability.lookup(subscriber.msisdn)
            routing_number = record.routing_number or None
        answer = self.hlr.answer_sri(subscriber, peek=True)
        imsi = subscriber.imsi if not self.mask_imsi else mask_imsi(subscriber.imsi)
        known = subscriber.state is not SubscriberState.UNKNOWN
        base = LookupResult(
            msisdn=format_e164(subscriber.msisdn),
            valid=known,
            reachable=isinstance(answer, RoutingInfo),
            state=subscriber.state.value,
            mcc_mnc=subscriber.subscription_network if known else None,
            serving_mcc_mnc=subscriber.visited_network if known else None,
            home_mcc_mnc=subscriber.home_network,
            roaming=known and subscriber.visited_network != subscriber.subscription_network,
            ported=subscriber.ported_to is not None,
            ported_to=subscriber.ported_to,
            routing_number=routing_number,
            imsi=imsi if known else None,
            msc_address=subscriber.msc_address if isinstance(answer, RoutingInfo) else None,
        )
        if isinstance(answer, MapError):
            return _with_error(base, answer)
        return base


def _with_error(base: LookupResult, error: MapError) -> LookupResult:
    return replace(base, error=error.name, error_code=int(error.code))
