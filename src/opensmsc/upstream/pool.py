"""Every upstream connector of a node, each with its own settings, added and removed at runtime.

What this is for: one place that owns the `SmppConnector`s (one per `[[smpp.client]]`), starts
and stops them together or one by one, and reports their status. Receipts and MO from all of
them reach two callbacks that also get the connector's name; `on_bound(name)` hears each bind
of a session that carries submits (the Scheduler's `route_up`). What it is not: routing (which
connector a message goes to) or the id bookkeeping (each connector keeps its own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator

from opensmsc.smpp import DataSm, DeliverSm, ReceiptInfo
from opensmsc.upstream.connector import BoundCallback, SmppConnector
from opensmsc.upstream.model import ConnectorOptions, ConnectorStatus
from opensmsc.upstream.settings import ConnectorSettings

__all__ = ["Connectors", "NamedMoCallback", "NamedReceiptCallback"]

log = logging.getLogger(__name__)

NamedReceiptCallback = Callable[[str, str | None, ReceiptInfo], Awaitable[None]]
NamedMoCallback = Callable[[str, DeliverSm | DataSm], Awaitable[None]]


class Connectors:
    """The connectors of one node, by name.

    `add()` registers a connector and, once `start_all()` has run, starts it at once (unless
    its settings say `enabled = False`). `remove()` stops it gracefully first. Names are
    unique: adding a name twice raises ValueError; unknown names raise KeyError.
    """

    def __init__(
        self,
        *,
        options: ConnectorOptions | None = None,
        on_receipt: NamedReceiptCallback | None = None,
        on_mo: NamedMoCallback | None = None,
        on_bound: BoundCallback | None = None,
    ) -> None:
        self._options = options
        self._on_receipt = on_receipt
        self._on_mo = on_mo
        self._on_bound = on_bound
        self._connectors: dict[str, SmppConnector] = {}
        self._started = False

    def __iter__(self) -> Iterator[SmppConnector]:
        return iter(list(self._connectors.values()))

    def __len__(self) -> int:
        return len(self._connectors)

    def __contains__(self, name: object) -> bool:
        return name in self._connectors

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._connectors)

    def get(self, name: str) -> SmppConnector:
        """The connector called `name`; KeyError if there is none."""
        try:
            return self._connectors[name]
        except KeyError:
            raise KeyError(f"no connector named {name!r}") from None

    async def add(
        self, settings: ConnectorSettings, *, options: ConnectorOptions | None = None
    ) -> SmppConnector:
        """Register a connector (started at once if the set is running and it is enabled).

        Raises ValueError when the name is taken, ConfigError when its password or TLS files
        cannot be loaded (it is then not registered).
        """
        name = settings.name
        if name in self._connectors:
            raise ValueError(f"a connector named {name!r} already exists")
        connector = SmppConnector(
            settings,
            options=options if options is not None else self._options,
            on_receipt=self._receipt_callback(name),
            on_mo=self._mo_callback(name),
            on_bound=self._bound,
        )
        if self._started and settings.enabled:
            await connector.start()
        self._connectors[name] = connector
        log.info("connector added connector=%s", name)
        return connector

    async def remove(self, name: str) -> None:
        """Stop the connector gracefully, then forget it. KeyError if unknown."""
        connector = self.get(name)
        await connector.stop()
        # It may have been removed and re-added while we waited.
        if self._connectors.get(name) is connector:
            del self._connectors[name]
        log.info("connector removed connector=%s", name)

    async def start(self, name: str) -> None:
        """Start one connector, enabled in its settings or not."""
        await self.get(name).start()

    async def stop(self, name: str) -> None:
        """Stop one connector; it stays registered and can be started again."""
        await self.get(name).stop()

    async def start_all(self) -> None:
        """Start every enabled connector; connectors added later start as they are added."""
        self._started = True
        for connector in list(self._connectors.values()):
            if connector.settings.enabled:
                await connector.start()

    async def stop_all(self) -> None:
        """Stop every connector gracefully, all at once (each bounds its own drain)."""
        self._started = False
        await asyncio.gather(*(c.stop() for c in list(self._connectors.values())))

    def status(self) -> dict[str, ConnectorStatus]:
        """The status of each connector, by name."""
        return {name: c.status() for name, c in self._connectors.items()}

    def _receipt_callback(self, name: str) -> Callable[[str | None, ReceiptInfo], Awaitable[None]]:
        async def on_receipt(our_id: str | None, info: ReceiptInfo) -> None:
            if self._on_receipt is not None:
                await self._on_receipt(name, our_id, info)

        return on_receipt

    def _bound(self, name: str) -> None:
        if self._on_bound is not None:
            self._on_bound(name)

    def _mo_callback(self, name: str) -> Callable[[DeliverSm | DataSm], Awaitable[None]]:
        async def on_mo(pdu: DeliverSm | DataSm) -> None:
            if self._on_mo is not None:
                await self._on_mo(name, pdu)

        return on_mo
