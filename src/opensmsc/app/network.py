"""The simulated mobile network (issue 6), as the route named "network": built from `[network]`
only when something uses it (`uses_network`). Alerts release waiting messages through the
Scheduler; handsets' MO goes to the accounts by MoIngress or, person to person, through the
Acceptor as an MT of the pseudo-account "network".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from opensmsc.app.simulated_hlr import HlrServices, build_hlr
from opensmsc.config import Config, ConfigError, NetworkConfig
from opensmsc.engine import Origin, StoreAndForward
from opensmsc.network import (
    NETWORK_ROUTE,
    P2P_SYSTEM_ID,
    EngineLink,
    NetworkState,
    SimulatedNetwork,
    StateNotSaved,
    Submitted,
)
from opensmsc.smpp import SubmitSm
from opensmsc.upstream import MoIngress

__all__ = ["NetworkService", "uses_network"]


def uses_network(config: Config) -> bool:
    """A `[network]` section, or a route to the network (the default route by default)."""
    routing = config.routing
    return (
        config.network is not None
        or routing.default_route == NETWORK_ROUTE
        or any(route.route == NETWORK_ROUTE for route in routing.routes)
    )


class NetworkService:
    """The simulator, added to the engine's routes when built; its stop lets the alerts under
    way reach the store."""

    name = "simulated network"

    def __init__(
        self,
        config: NetworkConfig | None,
        *,
        data_dir: Path,
        engine: StoreAndForward,
        mo: MoIngress,
        hlr: HlrServices | None = None,
    ) -> None:
        config = config or NetworkConfig()
        self._engine = engine
        self._mo = mo
        # Built before the engine when its policy needs the portability data (app/node.py).
        hlr = hlr or build_hlr(config)
        try:
            # Runtime changes (subscribers, message-waiting data) laid over the configuration.
            state = NetworkState.open(data_dir)
        except StateNotSaved as exc:
            raise ConfigError(str(exc), path=str(data_dir), key="node.data_dir") from exc
        # By default handsets drop their oldest message when full, as phones do: bulk traffic
        # to one number must not stall on a full inbox. Memory-full behaviour is also set per
        # handset (PATCH /v1/network/handsets/{msisdn}) or with the memory_full state.
        self.network = SimulatedNetwork(
            hlr.hlr,
            lookup=hlr.lookup,
            sc_address=config.sc_address,
            handset_capacity=config.handset_capacity,
            delete_old=config.handset_delete_old,
            engine=EngineLink(
                waiting_for=engine.store.waiting_for,
                release=engine.scheduler.alert_now,
                account_for=self._account_for,
                deliver_to_account=mo.on_mo,
                submit_mt=self._submit_mt,
                claimed=mo.claimed,
            ),
            state=state,
        )
        engine.router.add(self.network.route)

    def _account_for(self, destination: str) -> str | None:
        # An MO to a mobile number that no account claims goes to that handset (person to
        # person), not to the default MO account, which takes what is left: short codes.
        system_id = self._mo.account_for(destination, default=False)
        if system_id is None and self.network.mobile_number(destination) is None:
            return self._mo.default_account
        return system_id

    async def _submit_mt(self, pdu: SubmitSm) -> Submitted:
        answer: asyncio.Future[Submitted] = asyncio.get_running_loop().create_future()
        self._engine.acceptor.submit(
            P2P_SYSTEM_ID,
            pdu,
            lambda mid, status: answer.set_result((mid, status)),
            Origin("mo", session="network"),  # a handset's message to another handset
        )
        return await answer

    async def start(self) -> None:
        """Nothing to start: the network answers when the engine routes to it."""

    async def stop(self) -> None:
        await self.network.route.drain()  # alerts under way reach the store first
        await self.network.close()
