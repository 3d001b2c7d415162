"""What the node is made of: services, started in order and stopped in the reverse order.

A service is built from its collaborators (constructor arguments, never setters), then started.
Each later service may be built from what the earlier ones made (the engine needs its store open
before the SMSC sessions can be given it), so the node builds and starts them one after the
other (`Services.start`). Whatever happens, `stop()` stops exactly the services that started,
last started first: a node that fails to start half way stops what it had started.
"""

from __future__ import annotations

import logging
from typing import Protocol, TypeVar

__all__ = ["Service", "Services"]

log = logging.getLogger(__name__)


class Service(Protocol):
    """One part of the node. `start()` returns once it is ready (listening, bound, open); when it
    raises, it has undone its own partial start. `stop()` is called only after a successful
    `start()`, once."""

    @property
    def name(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=Service)


class Services:
    """The services of one node, in the order they started."""

    def __init__(self) -> None:
        self._started: list[Service] = []

    @property
    def started(self) -> tuple[Service, ...]:
        return tuple(self._started)

    async def start(self, service: S) -> S:
        """Start `service` and remember it for `stop()`; returns it."""
        await service.start()
        self._started.append(service)
        return service

    async def stop(self) -> None:
        """Stop every started service, last started first. A service that fails to stop is
        logged and the others are still stopped: the store must be closed whatever happens."""
        while self._started:
            service = self._started.pop()
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)
