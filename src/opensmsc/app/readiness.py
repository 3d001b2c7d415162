"""Readiness: whether the node can take traffic now, and if not, what is missing. `/ready` on the
admin listener answers from it (200, or 503 naming each part that is not ready).

Ready means: the store can commit a write (`Store.check_writable`: a full disk makes it
unwritable until room is made, seen by a probe write without waiting for traffic), and each
listener the configuration asks for accepts connections (the SMPP listeners, the HTTP API, the
policy server). Upstream connectors are not part of it: a carrier that is down does not stop
the node from accepting and storing messages (their state is in the metrics).

What it is not: liveness (`/health` answers as long as the event loop runs) or a monitor (it
checks when asked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Final

from opensmsc.errors import StoreUnavailable
from opensmsc.store import Store, StoreFull

__all__ = ["Readiness"]

_STORE_TIMEOUT: Final = 2.0  # seconds a write may take before the store counts as not ready


class Readiness:
    """`listeners` maps each listener's name (as the answer names it) to whether it accepts
    connections now."""

    def __init__(
        self,
        store: Store,
        listeners: Mapping[str, Callable[[], bool]],
        *,
        store_timeout: float = _STORE_TIMEOUT,
    ) -> None:
        self._store = store
        self._listeners = dict(listeners)
        self._store_timeout = store_timeout

    async def not_ready(self) -> dict[str, str]:
        """What is not ready, by part ("store", or a listener's name), with why; empty when
        the node is ready."""
        reasons: dict[str, str] = {}
        try:
            async with asyncio.timeout(self._store_timeout):
                await self._store.check_writable()
        except StoreFull as exc:
            reasons["store"] = f"full: {exc}"
        except StoreUnavailable as exc:
            reasons["store"] = f"cannot write: {exc}"
        except TimeoutError:
            reasons["store"] = f"no commit within {self._store_timeout:g} s"
        for name, serving in self._listeners.items():
            if not serving():
                reasons[name] = "not listening"
        return reasons
