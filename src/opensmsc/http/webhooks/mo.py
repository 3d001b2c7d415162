"""Mobile-originated messages of an account with a webhook_url, POSTed there: a `Route`.

An MO is stored like any message the moment it arrives (upstream/mo.py, the simulated
network); the Scheduler then delivers it by its route. For an account with a webhook_url that
route is a `WebhookMoRoute` (registered with the engine's Router by app/webhooks.py) instead of
the account's SMPP sessions: each attempt is one callback (call.py) in the account's style, and
the Scheduler's store-and-forward does the rest: a receiver that fails, times out or answers
non-2xx is tried again on the retry schedule until the MO's validity ends, and a kill -9 loses
nothing (the MO is in the store until an attempt is answered).

What it is not: delivery reports (sender.py keeps those, as receipt records).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Final

import aiohttp

from opensmsc.routing import Attempt, Delivered, PermanentFailure, TemporaryFailure
from opensmsc.store import Clock, StoredMessage

from .call import call, new_session
from .styles import CallbackStyles

__all__ = ["WebhookMoRoute"]

log = logging.getLogger(__name__)

_GONE: Final = 410  # Standard Webhooks: the receiver asks for no more


class WebhookMoRoute:
    """The MO of `system_id`, to `url` in `style` (a callback_style; None: Standard Webhooks,
    signed with `secret`). `start()` before the first attempt, `await stop()` at the end."""

    def __init__(
        self,
        system_id: str,
        url: str,
        *,
        styles: CallbackStyles,
        clock: Clock,
        timeout: float,
        style: str | None = None,
        secret: str | None = None,
    ) -> None:
        self._system_id = system_id
        self._url = url
        self._style = style
        self._styles = styles
        self._clock = clock
        self._timeout = timeout
        self._secret = secret
        self._client: aiohttp.ClientSession | None = None
        self.delivered = 0  # MO answered (metrics, tests)

    @property
    def system_id(self) -> str:
        return self._system_id

    @property
    def name(self) -> str:
        return f"webhook:{self._system_id}"

    def start(self) -> None:
        if self._client is None:
            self._client = new_session(64)

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def attempt(self, record: StoredMessage) -> Attempt:
        client = self._client
        if client is None:
            return TemporaryFailure(0, detail="webhooks are stopped")
        outcome = await call(
            client,
            replace(record, callback_url=self._url, callback_style=self._style),
            self._styles,
            timestamp=int(self._clock().timestamp()),
            secret=self._secret,
            timeout=self._timeout,
        )
        if outcome.ok:
            self.delivered += 1
            return Delivered()
        if outcome.status == _GONE:
            return PermanentFailure(_GONE, detail="the receiver answered 410 Gone")
        log.info(
            "MO webhook not taken id=%s system_id=%s status=%d",
            record.message_id,
            self._system_id,
            outcome.status,
        )
        return TemporaryFailure(outcome.status, detail=f"HTTP {outcome.status or 'no answer'}")
