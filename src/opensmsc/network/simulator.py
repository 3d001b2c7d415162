"""The simulated mobile network, assembled: HLR (with portability), MSCs, handsets, the MT route
and the MO gateway, wired to each other as docs/network-adapters.md draws them.

What this is for: app/network.py builds one `SimulatedNetwork` from the `[network]` configuration,
connected to the engine (`EngineLink`): the route is the default MT route, the HLR's
alertServiceCentre releases waiting messages through the route's burst logic, handsets' MO goes
to the engine's MO ingress. The HTTP admin API and tests use the same object to change
subscribers, read inboxes and send MO.

What it is not: any behaviour of its own. The HLR answers (hlr.py), the MSC delivers (msc.py),
the handset keeps its inbox (handset.py), the route maps results (route.py), the gateway routes
MO (mo.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opensmsc.errors import OpensmscError
from opensmsc.network.handset import DEFAULT_CAPACITY, Handset, Handsets
from opensmsc.network.hlr import SimulatedHlr
from opensmsc.network.lookup import HlrLookup
from opensmsc.network.map_errors import MapError
from opensmsc.network.mo import MoGateway, Submitted
from opensmsc.network.msc import Mscs
from opensmsc.network.route import NETWORK_ROUTE, Release, SimulatedNetworkRoute, Sleep, WaitingFor
from opensmsc.network.state import NetworkState
from opensmsc.routing import InvalidNumber
from opensmsc.smpp import DeliverSm, SubmitSm
from opensmsc.sms import Alphabet, MessageClass, SmsSubmit

__all__ = ["EngineLink", "HandsetUnavailable", "MoSent", "SimulatedNetwork"]

log = logging.getLogger(__name__)


class HandsetUnavailable(OpensmscError):
    """A handset cannot send now: its subscriber is not attached to a network."""

    def __init__(self, msisdn: int, state: str) -> None:
        self.msisdn = msisdn
        self.state = state
        super().__init__(f"+{msisdn} cannot send: subscriber is {state}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MoSent:
    """What became of an MO a handset sent: one answer per SMS-SUBMIT sent (None: the SMSC
    stored it), `parts` the number of SMS-SUBMITs the message needed (a refusal stops the rest)."""

    msisdn: int
    destination: str
    parts: int
    answers: tuple[MapError | None, ...]

    @property
    def is_accepted(self) -> bool:
        return len(self.answers) == self.parts and all(a is None for a in self.answers)

    @property
    def error(self) -> MapError | None:
        return next((a for a in self.answers if a is not None), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineLink:
    """How alerts and MO reach the engine (app/network.py): `waiting_for` = store.waiting_for,
    `release` = Scheduler.alert_now, `account_for` / `deliver_to_account` =
    MoIngress.account_for / MoIngress.on_mo, `submit_mt` = the Acceptor (person to person)."""

    waiting_for: WaitingFor
    release: Release
    account_for: Callable[[str], str | None]
    deliver_to_account: Callable[[str, DeliverSm], Awaitable[None]]
    submit_mt: Callable[[SubmitSm], Awaitable[Submitted]]
    # MoIngress.claimed: a service behind the SMSC that takes this MO (IMPS), before accounts.
    claimed: Callable[[DeliverSm], str | None] | None = None


class SimulatedNetwork:
    """Every part of the simulated network on one HLR (module doc).

    `handset_capacity` and `delete_old` are every new handset's (see handset.Handset);
    `sc_address` is our service centre address (the SMSC's E.164 global title) as the HLR
    keeps it in MWD lists; `clock` monotonic seconds for handsets (reassembly timeouts);
    `lookup` the HLR lookup service (app/simulated_hlr.build_hlr makes it with the configured IMSI
    masking); `engine` where alerts and MO go (None: nowhere, for tests of the network alone);
    `state` the file that keeps runtime changes over restarts (network/state.py: what it holds
    is restored here, over the configuration already in `hlr`)."""

    def __init__(
        self,
        hlr: SimulatedHlr,
        *,
        sc_address: str = "",
        handset_capacity: int = DEFAULT_CAPACITY,
        delete_old: bool = False,
        reassembly_timeout: float = 180.0,
        clock: Callable[[], float] = time.monotonic,
        route_name: str = NETWORK_ROUTE,
        sleep: Sleep | None = None,
        lookup: HlrLookup | None = None,
        engine: EngineLink | None = None,
        state: NetworkState | None = None,
    ) -> None:
        self.hlr = hlr
        self.lookup = lookup or HlrLookup(hlr)
        self.sc_address = sc_address
        self.handsets = Handsets(
            capacity=handset_capacity,
            delete_old=delete_old,
            clock=clock,
            reassembly_timeout=reassembly_timeout,
            on_memory_available=self._memory_available,
            mo_sender=self._mo_forward,
        )
        self.mo_gateway = (
            None
            if engine is None
            else MoGateway(
                account_for=engine.account_for,
                deliver_to_account=engine.deliver_to_account,
                submit_mt=engine.submit_mt,
                is_mobile=self.mobile_number,
                claimed=engine.claimed,
            )
        )
        self.mscs = Mscs(
            self.handsets,
            condition=hlr.mt_forward_condition,
            latency=hlr.mt_forward_latency,
            mo_handler=None if self.mo_gateway is None else self.mo_gateway.mo_forward_sm,
        )
        self.route = SimulatedNetworkRoute(
            hlr,
            self.mscs,
            name=route_name,
            sc_address=sc_address,
            waiting_for=None if engine is None else engine.waiting_for,
            release=None if engine is None else engine.release,
            sleep=sleep or asyncio.sleep,
        )
        hlr.add_alert_listener(self.route.alert)
        self.state = state
        if state is not None:
            self._restore(state)

    def _restore(self, state: NetworkState) -> None:
        """Lay the runtime changes kept in `state` over the configuration, then keep every
        later change there."""
        saved = state.restored
        table = self.hlr.subscribers
        for item in saved.subscribers:
            try:
                table.put(item.record, imsi_given=item.imsi_given, msc_given=item.msc_given)
            except (InvalidNumber, ValueError) as exc:
                log.warning("saved subscriber skipped msisdn=+%s: %s", item.record.msisdn, exc)
        for key in saved.removed:
            with contextlib.suppress(InvalidNumber):
                table.remove(key)
        waiting = self.hlr.restore_waiting(saved.waiting)
        self.route.restore_addresses(saved.addresses)
        self.handsets.restore_settings(saved.handsets)
        table.journal = state
        self.hlr.journal = state
        self.route.journal = state
        log.info(
            "simulated network state restored path=%s subscribers=%d removed=%d "
            "message_waiting=%d handsets=%d",
            state.path,
            len(saved.subscribers),
            len(saved.removed),
            waiting,
            len(saved.handsets),
        )

    async def saved(self) -> None:
        """Wait until every change made so far is durable (no-op without a state file).
        Raises StateNotSaved when it could not be written."""
        if self.state is not None:
            await self.state.flush()

    async def close(self) -> None:
        """Finish writing the state file (app/network.py, at stop; after `route.drain()`)."""
        if self.state is not None:
            await self.state.close()

    def configure_handset(
        self, msisdn: str | int, *, capacity: int | None = None, delete_old: bool | None = None
    ) -> Handset:
        """Change a handset's memory settings (None: unchanged), kept over restarts. Raises
        InvalidNumber, ValueError for a negative capacity."""
        key = self.hlr.subscribers.key(msisdn)
        handset = self.handsets.configure(key, capacity=capacity, delete_old=delete_old)
        if self.state is not None:
            self.state.handset_saved(key, handset.capacity, handset.delete_old)
        return handset

    def mobile_number(self, address: str) -> str | None:
        """`address` as E.164 digits when it is a mobile number, else None (a short code, an
        alphanumeric address)."""
        try:
            return str(self.hlr.subscribers.key(address))
        except InvalidNumber:
            return None

    def handset(self, msisdn: str | int) -> Handset:
        """The handset of a number (any form routing.Numbering reads). Raises InvalidNumber."""
        return self.handsets.get(self.hlr.subscribers.key(msisdn))

    async def send_mo(
        self,
        originator: str | int,
        destination: str,
        content: str | bytes,
        *,
        port: int | None = None,
        originator_port: int = 0,
        alphabet: Alphabet | None = None,
        message_class: MessageClass | None = None,
    ) -> MoSent:
        """A handset sends a message (SMS-SUBMIT, split when long) through its MSC to the SMSC.
        Raises InvalidNumber, HandsetUnavailable when the subscriber is not reachable, and
        EncodingError / MessageTooLong as Handset.compose does."""
        subscriber = self.hlr.subscriber(originator)
        if not subscriber.state.is_reachable:
            raise HandsetUnavailable(subscriber.msisdn, subscriber.state.value)
        handset = self.handsets.get(subscriber.msisdn)
        submits = handset.compose(
            destination,
            content,
            port=port,
            originator_port=originator_port,
            alphabet=alphabet,
            message_class=message_class,
        )
        answers = await handset.send(submits)
        return MoSent(
            msisdn=subscriber.msisdn,
            destination=destination,
            parts=len(submits),
            answers=tuple(answers),
        )

    async def _mo_forward(self, msisdn: int, submit: SmsSubmit) -> MapError | None:
        # The handset's serving MSC relays MO-ForwardSM to the SMSC.
        subscriber = self.hlr.subscriber(msisdn)
        msc = self.mscs.get(subscriber.msc_address, subscriber.visited_network)
        return await msc.mo_forward_sm(msisdn, submit)

    def _memory_available(self, msisdn: int) -> None:
        # readyForSM (66) from the VLR: the HLR alerts the service centres waiting.
        self.hlr.free_memory(msisdn)
