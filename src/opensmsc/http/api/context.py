"""What the API's routes work with: the engine, the accounts' authenticator, the limits, and
the bounded password checker. Built once by `create_api_app` and kept on `app.state.api`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from opensmsc.accounts import Authenticator, PasswordCheck
from opensmsc.engine import StoreAndForward
from opensmsc.store import Clock

from .idempotency import Idempotency
from .polls import FinalReads

__all__ = ["ApiContext", "ApiSettings", "PasswordChecks", "context_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """The `[api]` values the routes enforce (the listener's are the server's)."""

    max_body_size: int = 16 * 1024 * 1024
    max_batch: int = 10_000
    max_page: int = 1000
    idempotency_ttl: float = 86_400.0
    # argon2 verifications running at once (each takes ~50 ms of one core and 64 MiB): a
    # flood of wrong passwords queues here instead of taking every core and the memory.
    max_password_checks: int = 2
    # The drop-in endpoints of http/compat/, each on unless switched off: Kannel's
    # /cgi-bin/sendsms (`[api] kannel_compat`); Jasmin's /send, /balance, /rate, /ping and
    # /secure/* (`[api] jasmin_compat`).
    kannel_compat: bool = True
    jasmin_compat: bool = True


class PasswordChecks:
    """Runs `PasswordCheck.verify` (argon2) in worker threads, at most `limit` at a time, and
    once for concurrent requests with the same credentials: the first verifies, the others
    wait for its answer (64 connections opened at once with one password cost one argon2)."""

    def __init__(self, limit: int) -> None:
        self._limit = asyncio.Semaphore(limit)
        self._in_flight: dict[bytes, asyncio.Future[bool]] = {}

    async def verify(self, check: PasswordCheck) -> bool:
        pending = self._in_flight.get(check.cache_key)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._in_flight[check.cache_key] = future
        try:
            async with self._limit:
                result = await loop.run_in_executor(None, check.verify)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        else:
            future.set_result(result)
        finally:
            del self._in_flight[check.cache_key]
        return result


@dataclass(slots=True, kw_only=True)
class ApiContext:
    """`now` gives monotonic seconds (the token buckets' time); `clock` the wall clock (the
    age of idempotency answers)."""

    engine: StoreAndForward
    authenticator: Authenticator
    settings: ApiSettings
    now: Callable[[], float]
    clock: Clock
    passwords: PasswordChecks = field(init=False)
    idempotency: Idempotency = field(init=False)
    final_reads: FinalReads = field(init=False)

    def __post_init__(self) -> None:
        self.final_reads = FinalReads(self.engine.store, clock=self.clock)
        self.passwords = PasswordChecks(self.settings.max_password_checks)
        self.idempotency = Idempotency(
            self.engine.store, ttl=self.settings.idempotency_ttl, clock=self.clock
        )


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.api
    return context
