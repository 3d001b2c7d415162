"""MO ingress from the mobile network: an SMS-SUBMIT a handset sent, routed and stored by the
SMSC before the network gets its answer (issue 6; docs/network-adapters.md §3).

What this is for: the MSC relays each handset's SMS-SUBMIT as MO-ForwardSM (46) to
`MoGateway.mo_forward_sm(msisdn, sms_submit)`, which picks where it goes:

0. a service behind the SMSC, when `claimed(deliver_sm)` names its pseudo-account (IMPS:
   application port 3590, app/imps.py): stored like the MO of an account, by the same
   `deliver_to_account`, which asks the same question;
1. an ESME account, when `account_for(TP-DA)` names one (an account's `mo_prefixes`, else a
   bound receiver's `address_range`: engine.upstream.MoIngress.account_for). The SMS-SUBMIT
   becomes a deliver_sm stored for that account by `deliver_to_account` (MoIngress.on_mo, the
   same ingress as MO from upstream connectors): delivered now if the account is bound,
   otherwise when it binds;
2. another handset (person to person), when TP-DA is a mobile number (`is_mobile`): stored as
   an MT through `submit_mt` (the engine's Acceptor, as if an ESME of the pseudo-account
   `P2P_SYSTEM_ID` had submitted it) and delivered by the network route like any MT, retries
   and alerts included;
3. nowhere: sm-DeliveryFailure invalidSME-Address.

The answer comes after the store commit: None means "stored". A refusal for lack of storage is
sm-DeliveryFailure sc-Congestion (temporary: the MSC retries), a permanent refusal
invalidSME-Address. Long and port-addressed messages travel part by part with their UDH, as an
SMSC forwards them to an ESME (esm_class UDHI).

What it is not: the engine's MO routing itself (upstream/mo.py) or delivery to ESMEs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from opensmsc.errors import MessageRejected
from opensmsc.logtext import peer_text
from opensmsc.network.map_errors import DeliveryFailureCause, MapError, MapErrorCode
from opensmsc.smpp import CommandStatus, DeliverSm, EsmClass, Npi, SubmitSm, Ton
from opensmsc.sms import SmsSubmit

__all__ = ["MO_CONNECTOR", "P2P_SYSTEM_ID", "MoGateway", "Submitted"]

log = logging.getLogger(__name__)

MO_CONNECTOR: Final = "network"  # the "connector" name MO from handsets is stored under
P2P_SYSTEM_ID: Final = "network"  # the account person-to-person MTs are stored under

_CONGESTION: Final = MapError(
    MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.SC_CONGESTION
)
_INVALID_ADDRESS: Final = MapError(
    MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.INVALID_SME_ADDRESS
)
# The submit_sm_resp statuses that mean "try again later" rather than "never".
_TRANSIENT: Final = frozenset(
    {
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RX_T_APPN,
    }
)

Submitted = tuple[str | None, int]
"""What `submit_mt` returns: (message_id, command_status), as submit_sm_resp would say."""


class MoGateway:
    """The SMSC's MO-ForwardSM handler for the simulated network (module doc).

    `account_for(destination)` → system_id or None; `deliver_to_account(connector, pdu)` stores
    an MO for its account, raising MessageRejected when it cannot (MoIngress.on_mo);
    `submit_mt(pdu)` stores a person-to-person MT; `is_mobile(destination)` → the normalised
    MSISDN digits of a handset number, or None when the destination is no mobile number.
    """

    def __init__(
        self,
        *,
        account_for: Callable[[str], str | None],
        deliver_to_account: Callable[[str, DeliverSm], Awaitable[None]],
        submit_mt: Callable[[SubmitSm], Awaitable[Submitted]],
        is_mobile: Callable[[str], str | None],
        claimed: Callable[[DeliverSm], str | None] | None = None,
    ) -> None:
        self._claimed = claimed
        self._account_for = account_for
        self._deliver_to_account = deliver_to_account
        self._submit_mt = submit_mt
        self._is_mobile = is_mobile
        self.to_accounts = 0  # MO stored for an ESME account (metrics, tests)
        self.person_to_person = 0  # MO stored as an MT to another handset
        self.refused = 0

    async def mo_forward_sm(self, msisdn: int, submit: SmsSubmit) -> MapError | None:
        """Route and store one SMS-SUBMIT from the handset `msisdn`; None once stored."""
        destination = submit.destination
        if self._claimed is not None:
            pdu = self._deliver_sm(msisdn, submit)
            service = self._claimed(pdu)
            if service is not None:
                return await self._store_mo(msisdn, pdu, service)
        system_id = self._account_for(destination)
        if system_id is not None:
            return await self._to_account(msisdn, submit, system_id)
        mobile = self._is_mobile(destination)
        if mobile is not None:
            return await self._to_handset(msisdn, submit, mobile)
        self.refused += 1
        log.info(
            "MO refused originator=%s destination=%s: no route", msisdn, peer_text(destination)
        )
        return _INVALID_ADDRESS

    async def _to_account(self, msisdn: int, submit: SmsSubmit, system_id: str) -> MapError | None:
        return await self._store_mo(msisdn, self._deliver_sm(msisdn, submit), system_id)

    def _deliver_sm(self, msisdn: int, submit: SmsSubmit) -> DeliverSm:
        destination = submit.destination
        is_number = self._is_mobile(destination) is not None
        return DeliverSm(
            source_addr_ton=Ton.INTERNATIONAL,
            source_addr_npi=Npi.ISDN,
            source_addr=str(msisdn),
            # A short code is a national-format "unknown" number; a full number international.
            dest_addr_ton=Ton.INTERNATIONAL if is_number else Ton.UNKNOWN,
            dest_addr_npi=Npi.ISDN,
            destination_addr=destination.lstrip("+"),
            esm_class=EsmClass.UDHI if submit.has_udh else 0,
            protocol_id=submit.protocol_id,
            data_coding=submit.data_coding,
            short_message=submit.user_data,
        )

    async def _store_mo(self, msisdn: int, pdu: DeliverSm, system_id: str) -> MapError | None:
        try:
            await self._deliver_to_account(MO_CONNECTOR, pdu)
        except MessageRejected as exc:
            self.refused += 1
            log.info("MO not stored originator=%s system_id=%s: %s", msisdn, system_id, exc.reason)
            return _CONGESTION if exc.status in _TRANSIENT else _INVALID_ADDRESS
        self.to_accounts += 1
        return None

    async def _to_handset(self, msisdn: int, submit: SmsSubmit, mobile: str) -> MapError | None:
        pdu = SubmitSm(
            source_addr_ton=Ton.INTERNATIONAL,
            source_addr_npi=Npi.ISDN,
            source_addr=str(msisdn),
            dest_addr_ton=Ton.INTERNATIONAL,
            dest_addr_npi=Npi.ISDN,
            destination_addr=mobile,
            esm_class=EsmClass.UDHI if submit.has_udh else 0,
            protocol_id=submit.protocol_id,
            data_coding=submit.data_coding,
            short_message=submit.user_data,
        )
        message_id, status = await self._submit_mt(pdu)
        if status != CommandStatus.ESME_ROK or message_id is None:
            self.refused += 1
            log.info(
                "P2P MO not stored originator=%s destination=%s status=0x%08X",
                msisdn,
                mobile,
                status,
            )
            return _CONGESTION if status in _TRANSIENT else _INVALID_ADDRESS
        self.person_to_person += 1
        log.info(
            "P2P MO stored originator=%s destination=%s message_id=%s", msisdn, mobile, message_id
        )
        return None
