"""One attempt at a callback: the request its style makes of a record, sent with a deadline,
and what came back (the HTTP status, whether the style takes it as the end, Retry-After).

Shared by the delivery-report sender (sender.py) and the MO route (mo.py), which differ in who
keeps the record and retries it, not in how a callback is made.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Final

import aiohttp
from yarl import URL

from opensmsc import __version__
from opensmsc.store import StoredMessage

from .styles import CallbackStyles

__all__ = ["NO_ANSWER", "CallOutcome", "call", "new_session"]

log = logging.getLogger(__name__)

NO_ANSWER: Final = 0  # the status kept when no HTTP status came back
_MAX_RESPONSE: Final = 64 * 1024  # octets of an answer read (the rest is dropped)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    status: int  # HTTP status, NO_ANSWER
    ok: bool = False  # the style says this answer ends the callback
    retry_after: float | None = None


async def call(
    client: aiohttp.ClientSession,
    record: StoredMessage,
    styles: CallbackStyles,
    *,
    timestamp: int,
    secret: str | None,
    timeout: float,
) -> CallOutcome:
    """Sends `record` (with its callback_url) once, as its callback_style says."""
    found = styles.get(record.callback_style)
    if found is None:
        # Kept and tried again: a build that knows the style (or an endpoint switched on
        # again) sends it; otherwise it ends when its retry time does.
        log.error("callback id=%s: unknown style %r", record.message_id, record.callback_style)
        return CallOutcome(NO_ANSWER)
    style, parameters = found
    try:
        request = style.request(record, parameters, timestamp=timestamp, secret=secret)
        async with (
            asyncio.timeout(timeout),
            client.request(
                request.method,
                URL(request.url, encoded=True) if request.encoded else request.url,
                data=request.body,
                headers=request.headers,
                allow_redirects=False,  # Standard Webhooks: a 3xx is a failure
            ) as response,
        ):
            head = await response.content.read(_MAX_RESPONSE)
            status = response.status
            return CallOutcome(status, style.accepted(status, head), _retry_after(response))
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        # ValueError: a URL the client cannot use (checked at submit; an account's URL may since
        # have changed into one), or a template a style cannot fill in.
        log.info(
            "callback id=%s url=%s: no answer: %r", record.message_id, record.callback_url, exc
        )
        return CallOutcome(NO_ANSWER)


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: the back-off decides
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def new_session(connections: int) -> aiohttp.ClientSession:
    """A keep-alive client for callbacks: at most `connections` at once; made inside the
    running loop."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        headers={"user-agent": f"opensmsc/{__version__}"},
        skip_auto_headers=("content-type",),  # a style's request says it, or has none
    )
