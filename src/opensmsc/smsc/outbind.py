"""Outbind from the SMSC side: when deliveries wait for an account that has no receiver bound
and the account names an address for it, we connect to the ESME and send outbind (SMPP 3.4
§2.2.1, digest §1.10). The ESME then binds as receiver on that connection and the waiting
receipts flow through the ordinary session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from opensmsc.smpp import Outbind
from opensmsc.transport import SmppServer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutbindTarget:
    system_id: str  # the account whose ESME listens there
    host: str
    port: int
    password: str = field(default="", repr=False)  # what we present in the outbind PDU


class OutbindDialer:
    """Dials at most one outbind per account at a time, and waits `retry_delay` after a
    failed attempt before trying that account again."""

    def __init__(
        self,
        server: SmppServer,
        targets: list[OutbindTarget],
        *,
        smsc_system_id: str,
        retry_delay: float = 30.0,
        bind_wait: float = 15.0,
    ) -> None:
        self._server = server
        self._targets = {t.system_id: t for t in targets}
        self._smsc_system_id = smsc_system_id
        self._retry_delay = retry_delay
        self._bind_wait = bind_wait
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._not_before: dict[str, float] = {}

    def has_target(self, system_id: str) -> bool:
        return system_id in self._targets

    def request(self, system_id: str) -> None:
        """Deliveries wait for `system_id` and nothing receives them: outbind if configured."""
        target = self._targets.get(system_id)
        if target is None or system_id in self._busy:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._not_before.get(system_id, 0.0):
            return
        task = loop.create_task(self._dial(target))
        self._busy[system_id] = task
        task.add_done_callback(lambda _: self._busy.pop(system_id, None))

    async def close(self) -> None:
        for task in list(self._busy.values()):
            task.cancel()
        for task in list(self._busy.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _dial(self, target: OutbindTarget) -> None:
        loop = asyncio.get_running_loop()
        pdu = Outbind(system_id=self._smsc_system_id, password=target.password)
        try:
            protocol = await self._server.outbind(target.host, target.port, pdu)
        except (OSError, TimeoutError) as exc:
            log.warning(
                "outbind failed system_id=%s address=%s:%d: %s",
                target.system_id,
                target.host,
                target.port,
                exc,
            )
            self._not_before[target.system_id] = loop.time() + self._retry_delay
            return
        log.info(
            "outbind sent system_id=%s address=%s:%d session=%s",
            target.system_id,
            target.host,
            target.port,
            protocol.session_id,
        )
        # Hold the slot until the ESME has bound (or gave up), so one wait makes one dial.
        deadline = loop.time() + self._bind_wait
        while loop.time() < deadline and not protocol.is_closed:
            if protocol.connection.state.is_bound:
                return
            await asyncio.sleep(0.05)
        if not protocol.connection.state.is_bound:
            self._not_before[target.system_id] = loop.time() + self._retry_delay
            protocol.close()
