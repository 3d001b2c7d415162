"""Who is calling, and whether the account may send now.

Each request carries its account's credentials, in one of two forms:

- `Authorization: Bearer <key>`: one of the account's API keys. Checked with one SHA-256 and a
  lookup (accounts/api_keys.py): cheap on every request.
- `Authorization: Basic ...`: the account's SMPP system_id and password. The same
  `Authenticator` as a bind checks them, with the same cache of verified passwords, so only the
  first request (or one after a password change) runs argon2, off the event loop, bounded by
  `PasswordChecks`. Failures slow their source down exactly as failed binds do.

Unknown credentials are 401 with `WWW-Authenticate`; an account that may not use the API, or a
client address its `allowed_networks` refuse, is 403. The account's token bucket is the one its
SMPP sessions take from: `take_tokens` answers 429 with `Retry-After` when it is empty.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import math
from typing import Final

from fastapi import Request

from opensmsc.accounts import Account, BindDecision, PasswordCheck
from opensmsc.http.problems import Problem
from opensmsc.smpp import CommandStatus

from .context import ApiContext, context_of

__all__ = ["authenticate", "login", "take_tokens"]

_CHALLENGE: Final = {"WWW-Authenticate": 'Basic realm="opensmsc", Bearer realm="opensmsc"'}
_MAX_FAILURE_DELAY: Final = 5.0  # seconds a failed request is held at most


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers=_CHALLENGE)


async def authenticate(request: Request) -> Account:
    """The account of the request's credentials (a FastAPI dependency). Raises Problem 401/403."""
    context = context_of(request)
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("credentials required: Authorization: Bearer <key> or Basic")
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        account = context.authenticator.api_key_account(value)
        if account is None:
            raise _unauthorized("unknown API key (or the account may not use the HTTP API)")
        _check_address(account, request)
        return account
    if scheme == "basic" and value:
        system_id, password = _basic(value)
        return await login(context, request, system_id, password)
    raise _unauthorized("the Authorization scheme must be Bearer or Basic")


def _basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _unauthorized("Basic credentials are not base64 of system_id:password") from None
    system_id, colon, password = decoded.partition(":")
    if not colon:
        raise _unauthorized("Basic credentials are not base64 of system_id:password")
    return system_id, password


def _peer(request: Request) -> str:
    return request.client.host if request.client is not None else "0.0.0.0"


def _check_address(account: Account, request: Request) -> None:
    try:
        address = ipaddress.ip_address(_peer(request))
    except ValueError:
        address = ipaddress.ip_address("0.0.0.0")
    if not account.allows_address(address):
        raise Problem(403, "forbidden", "the account may not be used from this address")


async def login(context: ApiContext, request: Request, system_id: str, password: str) -> Account:
    """The account of an SMPP system_id and password (HTTP Basic, or a drop-in endpoint's own
    parameters), checked as a bind is: failure delays, lockout, `api_enabled`, the account's
    networks. Raises Problem 401 (wrong credentials) or 403 (refused)."""
    auth = context.authenticator
    peer = _peer(request)
    try:
        step = auth.begin_login(system_id, password, peer)
    except ValueError:  # not an IP address (a test client's "testclient")
        peer = "0.0.0.0"
        step = auth.begin_login(system_id, password, peer)
    decision: BindDecision
    if isinstance(step, PasswordCheck):
        try:
            # The pair's failure delay is waited before argon2 runs, as for binds.
            if step.delay > 0:
                await asyncio.sleep(min(step.delay, _MAX_FAILURE_DELAY))
            ok = await context.passwords.verify(step)
        except BaseException:
            auth.abandon(step)
            raise
        decision = auth.finish_login(step, password_ok=ok)
    else:
        decision = step
    if decision.account is not None and decision.is_accepted:
        return decision.account
    delay = min(decision.delay, _MAX_FAILURE_DELAY)
    if delay > 0:
        await asyncio.sleep(delay)
    if decision.status == CommandStatus.ESME_RBINDFAIL:
        raise Problem(403, "forbidden", f"account {system_id}: {decision.reason}")
    raise _unauthorized("wrong system_id or password")


def take_tokens(context: ApiContext, account: Account, count: int, *, whole: bool = False) -> None:
    """Take `count` messages from the account's throughput bucket, shared with its SMPP
    sessions; raises Problem 429 with Retry-After when they are not there. A message of more
    parts than the bucket holds waits for a full bucket and takes all of it (a long message
    still goes at the account's rate); with `whole` (a batch) such a count is refused with
    422: it could never be taken, and a batch must not step over the cap."""
    bucket = context.authenticator.throughput_bucket(account.system_id)
    if bucket is None:
        return
    if whole and count > bucket.burst:
        raise Problem(
            422,
            "validation",
            f"messages: {count} messages exceed the account's throughput "
            f"({bucket.rate:g}/s, {bucket.burst:g} at once): send smaller batches",
            field="messages",
        )
    now = context.now()
    wanted = max(1, min(count, int(bucket.burst)))
    if bucket.try_take(now, wanted):
        return
    wait = bucket.delay_until_available(now, wanted)
    raise Problem(
        429,
        "throttled",
        f"account {account.system_id} is over its throughput of {bucket.rate:g} messages/s",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
        retry_after=round(wait, 3),
    )
