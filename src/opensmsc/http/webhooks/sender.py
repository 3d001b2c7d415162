"""The webhook sender: stored webhooks POSTed to their URLs, until each is answered 2xx.

A webhook is a receipt record with a callback_url (engine/lifecycle.py stores it in the
transaction of the final state that owes it), so it is as durable as the message: a kill -9
loses none; one whose POST was under way is sent again after the restart with the same
`webhook-id` (at least once; receivers dedupe on the id).

`WebhookSender` takes the due webhooks from the store (`Store.due_webhooks`: soonest first, a
message's webhooks one at a time, in order), POSTs up to `concurrency` at once over one
keep-alive client, and records each outcome with `Store.apply`:

- a 2xx ends it DELIVERED;
- anything else (a 3xx, 4xx or 5xx, a timeout of `timeout` seconds, a refused or lost
  connection) is tried again after `backoff` seconds, doubling with each attempt up to
  `max_backoff` (a longer `Retry-After` is honoured up to `max_backoff`); 410 Gone ends it
  UNDELIVERABLE at once (Standard Webhooks: the receiver asks for no more);
- `retry_for` seconds after the webhook was made (or at the end of its validity) the next
  failure ends it UNDELIVERABLE (EXPIRED past its validity); the error kept is the HTTP status
  (0: no answer).

The sender wakes when the engine stores a webhook (`wake`), and looks for due retries every
`poll` seconds.

What it is not: the document (payload.py) or the signature (signing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import aiohttp

from opensmsc.engine import trail
from opensmsc.errors import StoreUnavailable
from opensmsc.observability import set_current_trace
from opensmsc.smpp import MessageState
from opensmsc.store import Change, Clock, Store, StoredMessage

from .call import CallOutcome, call, new_session
from .styles import CallbackStyles

__all__ = ["WebhookSender", "WebhookSettings"]

log = logging.getLogger(__name__)

_GONE: Final = 410
_STOP_GRACE: Final = 2.0  # seconds a stop waits for POSTs under way


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    """`[api] webhook_*` (seconds)."""

    retry_for: float = 86_400.0
    backoff: float = 5.0
    max_backoff: float = 900.0
    timeout: float = 15.0
    concurrency: int = 64
    batch: int = 256

    @property
    def poll(self) -> float:
        return min(1.0, self.backoff)


class WebhookSender:
    """Sends the webhooks of `store`; `secrets` gives each account's `whsec_` secret (an
    account without one gets unsigned webhooks). `start()`, then `await stop()`."""

    def __init__(
        self,
        store: Store,
        *,
        wake: asyncio.Event,
        secrets: Mapping[str, str],
        clock: Clock,
        settings: WebhookSettings | None = None,
        styles: CallbackStyles | None = None,
    ) -> None:
        self._store = store
        self._styles = styles or CallbackStyles()
        self._wake = wake
        self._secrets = dict(secrets)
        self._clock = clock
        self._settings = settings or WebhookSettings()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._finished_while_reading: set[str] | None = None
        self._slots = asyncio.Semaphore(self._settings.concurrency)
        self._client: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0  # webhooks answered 2xx (metrics, tests)
        self.failed_attempts = 0

    def start(self) -> None:
        if self._task is None:
            self._client = new_session(self._settings.concurrency)
            self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        """Stop sending: no new POSTs; those under way get `_STOP_GRACE` seconds to be answered
        and recorded, then are abandoned (they stay owed in the store and are sent again by the
        next start). Never waits longer than that on a receiver."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            _, running = await asyncio.wait({task}, timeout=_STOP_GRACE)
            if running:
                log.error("webhook reader did not stop within %.0f s", _STOP_GRACE)
        under_way = list(self._in_flight.values())
        if under_way:
            _, pending = await asyncio.wait(under_way, timeout=_STOP_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=_STOP_GRACE)
                log.warning(
                    "webhooks abandoned at stop count=%d (sent again at start)", len(pending)
                )
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_STOP_GRACE):
                    await client.close()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def _run(self) -> None:
        settings = self._settings
        while True:
            self._wake.clear()
            # Webhooks whose outcome is recorded while the read runs may come back from it
            # as they were before: they are not sent again.
            finished: set[str] = set()
            self._finished_while_reading = finished
            try:
                due = await self._store.due_webhooks(self._clock(), settings.batch)
            except StoreUnavailable as exc:
                log.warning("webhooks not read: %s", exc)
                due = []
            finally:
                self._finished_while_reading = None
            for record in due:
                if record.message_id in self._in_flight or record.message_id in finished:
                    continue
                await self._slots.acquire()
                task = asyncio.create_task(self._send(record))
                self._in_flight[record.message_id] = task
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel that
            # lands as the wake-up completes, and stop() would then wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.poll):
                    await self._wake.wait()

    async def _send(self, record: StoredMessage) -> None:
        set_current_trace(trail.trace_of(record))  # this task's lines are about this webhook
        try:
            outcome = await self._post(record)
            await self._record(record, outcome)
        except StoreUnavailable as exc:
            # Not recorded: it stays open in the store and is sent again.
            log.warning("webhook outcome not stored id=%s: %s", record.message_id, exc)
        except Exception:
            log.exception("webhook id=%s: unexpected error", record.message_id)
        finally:
            if self._finished_while_reading is not None:
                self._finished_while_reading.add(record.message_id)
            del self._in_flight[record.message_id]
            self._slots.release()
            self._wake.set()  # the next webhook of this message may go now

    async def _post(self, record: StoredMessage) -> CallOutcome:
        assert self._client is not None and record.callback_url is not None
        return await call(
            self._client,
            record,
            self._styles,
            timestamp=int(self._clock().timestamp()),
            secret=self._secrets.get(record.system_id),
            timeout=self._settings.timeout,
        )

    async def _record(self, record: StoredMessage, outcome: CallOutcome) -> None:
        settings = self._settings
        now = self._clock()
        # On the trail of the message the webhook reports on: this call, and how it ended.
        called = trail.webhook(record, now, outcome.status, attempt=record.attempts + 1)
        if outcome.ok:
            change = Change(
                record.message_id,
                MessageState.DELIVERED,
                now,
                attempt=True,
                trail=(called,),  # its taking: the receipt's DELIVERED (Store.trail)
            )
        else:
            self.failed_attempts += 1
            attempts = record.attempts + 1
            delay = min(settings.backoff * 2 ** (attempts - 1), settings.max_backoff)
            if outcome.retry_after is not None:
                delay = min(max(delay, outcome.retry_after), settings.max_backoff)
            next_at = now + timedelta(seconds=delay)
            give_up_at = min(
                record.submitted_at + timedelta(seconds=settings.retry_for), record.expires_at
            )
            if outcome.status == _GONE or next_at > give_up_at:
                state = (
                    MessageState.EXPIRED
                    if next_at > record.expires_at and outcome.status != _GONE
                    else MessageState.UNDELIVERABLE
                )
                log.warning(
                    "webhook given up id=%s url=%s status=%d attempts=%d trace=%s",
                    record.message_id,
                    record.callback_url,
                    outcome.status,
                    attempts,
                    trail.trace_of(record),
                )
                change = Change(
                    record.message_id,
                    state,
                    now,
                    error=outcome.status,
                    attempt=True,
                    trail=(called, trail.receipt_ended(record, state, now, outcome.status)),
                )
            else:
                change = Change(
                    record.message_id,
                    MessageState.ENROUTE,
                    now,
                    error=outcome.status,
                    next_attempt_at=next_at,
                    attempt=True,
                    trail=(called,),
                )
        (refused,) = await self._store.apply((change,))
        if refused is not None:
            log.info("webhook outcome not recorded id=%s: %s", record.message_id, refused)
        elif outcome.ok:
            self.delivered += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "webhook id=%s status=%d ok=%s trace=%s",
                record.message_id,
                outcome.status,
                outcome.ok,
                trail.trace_of(record),
            )
