"""Bind authentication and authorisation: the answer to a bind_transmitter/receiver/transceiver,
and to the credentials of an HTTP API request (`begin_login`/`finish_login`, `api_key_account`).

The listener asks the `Authenticator` what to answer; it opens no sockets and sends nothing.
It also counts concurrent binds per account, slows repeated failures per (source address,
system_id) (the scores live in failures.py), and holds each account's shared throughput
bucket. The argon2 runs themselves go to a `PasswordVerifier` (verifier.py).

Checking an argon2 hash takes tens of milliseconds of CPU on purpose, which must not stall the
event loop. So a bind is decided in two steps, and only a cache miss needs the second:

    step = auth.begin_bind(system_id, password, mode, peer_ip, cert, now=loop.time())
    if isinstance(step, PasswordCheck):
        await asyncio.sleep(step.delay)          # a failing source waits BEFORE argon2 runs
        ok = await verifier.verify(step.verify, suspect=step.suspect)  # None: verifier busy
        decision = auth.finish_bind(step, password_ok=ok, now=loop.time())
        # (a caller that gives up instead, e.g. because the peer left, calls auth.abandon)
    else:
        decision = step
        await asyncio.sleep(decision.delay)      # a refusal to a failing source waits too
    ...answer bind_resp with decision.status; on acceptance call auth.bind_closed(system_id)
    when the session ends.

Every refusal is logged here, once; the caller logs none.

`check_bind` does both steps inline, for tests and tools where blocking is fine. Everything but
`PasswordCheck.verify` must be called from one thread (the event loop's).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from opensmsc.accounts import passwords
from opensmsc.accounts.api_keys import api_key_hash
from opensmsc.accounts.failures import BindFailures, IPAddress, Pair, RateLimitedLog, pair_of
from opensmsc.accounts.model import Account, BindMode
from opensmsc.accounts.throttle import TokenBucket
from opensmsc.logtext import peer_text
from opensmsc.smpp import CommandStatus
from opensmsc.transport import PeerCertificate

__all__ = [
    "Authenticator",
    "BindDecision",
    "PasswordCheck",
]

log = logging.getLogger(__name__)

_S = CommandStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class BindDecision:
    """What to answer a bind. `status` goes into bind_resp's command_status.

    An accepted decision (`status == ESME_ROK`) has already counted one bind against the
    account's max_binds: release it with `Authenticator.bind_closed` when the session ends,
    including when the bind_resp could not be sent.
    """

    status: CommandStatus  # bind_resp command_status (SMPP 3.4 §5.1.3)
    reason: str  # why it was refused, for the log line; "" when accepted
    account: Account | None  # the account bound; None when refused
    delay: float = 0.0  # seconds to wait before sending this answer (a failing source)

    @property
    def is_accepted(self) -> bool:
        return self.status == CommandStatus.ESME_ROK


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordCheck:
    """A bind that passed every cheap check and now waits for its password to be verified.

    Wait `delay` seconds (its source failed recently: the wait comes before the CPU is spent),
    run `verify()` in a worker thread (behind the others when `suspect`), then pass its result
    to `Authenticator.finish_bind`, or give up with `Authenticator.abandon`: one of the two,
    once, whatever happens.
    """

    account: Account
    mode: BindMode | None  # None: an HTTP login (`begin_login`), not a bind
    peer_ip: IPAddress
    password: str = field(repr=False)
    cache_key: bytes = field(repr=False)
    delay: float = 0.0
    # Its pair failed recently or has another bind being checked: verified after the others.
    suspect: bool = False
    session: str = ""  # for the log line
    pair: Pair = field(default=(ipaddress.IPv4Address(0), ""), repr=False)

    def verify(self) -> bool:
        """argon2 verification: slow, pure, thread-safe. Touches no authenticator state."""
        return passwords.verify(self.account.password_hash, self.password)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Attempt:
    """One bind being decided: what the log line and the failure count need."""

    system_id: str
    mode: BindMode | None  # None: an HTTP login
    address: IPAddress
    moment: float
    session: str
    pair: Pair

    @property
    def door(self) -> str:
        return "http" if self.mode is None else self.mode.value

    @property
    def action(self) -> str:
        return "HTTP login" if self.mode is None else "bind"


class Authenticator:
    """Decides binds against a set of accounts.

    - Unknown system_id → ESME_RINVSYSID; wrong password → ESME_RINVPASWD; a bind from a
      network the account does not allow, without the required client certificate, in a mode
      it may not use, or beyond max_binds → ESME_RBINDFAIL.
    - Failures that look like guessing (unknown system_id, wrong password, address or
      certificate refused) raise the score of their (source, system_id) pair, which decays
      with `failure_half_life`. The first `failure_free` failures of a pair are answered at
      once (a client with a typo sees ESME_RINVPASWD, not its own timeout); beyond them
      `failure_delay` is `failure_base_delay * (2**(score - failure_free + 1) - 1)` seconds,
      at most `failure_max_delay`, waited before the password is checked. A pair is one
      account from one source: one bad ESME behind a shared NAT address does not slow the
      others' binds. A base or maximum of 0 turns the delay off. At most
      `max_tracked_sources` pairs are remembered (LRU); an IPv6 source is its /64, the block
      one subscriber usually holds.
    - A pair has at most `max_binds` binds being checked at once, and one once past its free
      failures: another bind of that pair meanwhile is refused (ESME_RBINDFAIL, after the
      pair's delay, at least `failure_base_delay`) with no argon2 run, so however many
      connections a guesser opens, it costs one verification per delay.
    - Successful verifications are remembered in an LRU of `verified_cache_size` entries keyed
      by a keyed hash of (password hash, password), so re-binds skip argon2. Failures are never
      remembered as success, and a changed password hash misses the cache.

    `clock` gives monotonic seconds; it is read only when a method gets no `now`.
    """

    def __init__(
        self,
        accounts: Iterable[Account],
        *,
        clock: Callable[[], float],
        failure_base_delay: float = 0.1,
        failure_max_delay: float = 5.0,
        failure_half_life: float = 60.0,
        failure_free: int = 3,
        max_tracked_sources: int = 10_000,
        verified_cache_size: int = 1024,
        buckets: Callable[[str, float, float], TokenBucket] | None = None,
    ) -> None:
        if verified_cache_size < 0:
            raise ValueError("verified_cache_size must be at least 0")
        self._clock = clock
        self._accounts: dict[str, Account] = {}
        self._binds: dict[str, int] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._caps: dict[str, float] = {}  # the throughput each bucket was made for
        # Makes an account's bucket from (system_id, rate, burst): in a cluster, this node's
        # share of the cap (cluster/limits.py); by default the whole cap here.
        self._new_bucket = buckets
        self._api_keys: dict[str, str] = {}  # API key hash → system_id
        self.replace_accounts(accounts)
        self._failures = BindFailures(
            base_delay=failure_base_delay,
            max_delay=failure_max_delay,
            half_life=failure_half_life,
            free=failure_free,
            max_pairs=max_tracked_sources,
        )
        self._busy_log = RateLimitedLog(period=1.0)
        self._cache_size = verified_cache_size
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        # A per-process key: the cache never holds a password, or anything that could be
        # tested offline against one, even in a core dump.
        self._cache_secret = secrets.token_bytes(32)

    # ------------------------------------------------------------------ accounts

    def replace_accounts(self, accounts: Iterable[Account]) -> None:
        """Swap in a new set of accounts (configuration reload). Open binds stay counted;
        throughput buckets of accounts whose throughput changed start afresh.
        Raises ValueError on a duplicate system_id or an API key of two accounts."""
        new: dict[str, Account] = {}
        for account in accounts:
            if account.system_id in new:
                raise ValueError(f"duplicate account system_id {account.system_id!r}")
            new[account.system_id] = account
        self._accounts = new
        api_keys: dict[str, str] = {}
        for account in new.values():
            for digest in account.api_key_hashes:
                if api_keys.setdefault(digest, account.system_id) != account.system_id:
                    raise ValueError(f"an API key of {account.system_id!r} is another account's")
        self._api_keys = api_keys
        for system_id in list(self._buckets):
            current = new.get(system_id)
            if current is None or current.throughput != self._caps.get(system_id):
                del self._buckets[system_id]
                self._caps.pop(system_id, None)

    def account(self, system_id: str) -> Account | None:
        return self._accounts.get(system_id)

    # ------------------------------------------------------------------ binds

    def check_bind(
        self,
        system_id: str,
        password: str,
        mode: BindMode,
        peer_ip: IPAddress | str,
        cert: PeerCertificate | None,
        *,
        now: float | None = None,
    ) -> BindDecision:
        """`begin_bind` and, on a cache miss, argon2 inline (blocking) and `finish_bind`.
        Delays are not waited: they are the caller's to apply."""
        step = self.begin_bind(system_id, password, mode, peer_ip, cert, now=now)
        if isinstance(step, PasswordCheck):
            return self.finish_bind(step, password_ok=step.verify(), now=now)
        return step

    def begin_bind(
        self,
        system_id: str,
        password: str,
        mode: BindMode,
        peer_ip: IPAddress | str,
        cert: PeerCertificate | None,
        *,
        now: float | None = None,
        session: str = "",
    ) -> BindDecision | PasswordCheck:
        """Every check that costs nothing, then the verified-password cache.

        Returns a decision, or a `PasswordCheck` when argon2 must run (see the module doc).
        A correct password found in the cache binds at once, even from a failing source.
        `session` names the session in the log line. Raises ValueError when `peer_ip` is not
        an IP address.
        """
        return self._begin(system_id, password, mode, peer_ip, cert, now=now, session=session)

    def _begin(
        self,
        system_id: str,
        password: str,
        mode: BindMode | None,
        peer_ip: IPAddress | str,
        cert: PeerCertificate | None,
        *,
        now: float | None,
        session: str,
    ) -> BindDecision | PasswordCheck:
        """`begin_bind`; with `mode` None, `begin_login`."""
        moment = self._now(now)
        address = _parse_address(peer_ip)
        account = self._accounts.get(system_id)
        pair = pair_of(address, system_id if account is not None else "")
        attempt = _Attempt(
            system_id=system_id,
            mode=mode,
            address=address,
            moment=moment,
            session=session,
            pair=pair,
        )
        # What this pair earned before this attempt: waited before a refusal is answered.
        failures = self._failures
        delay = failures.delay(pair, moment)
        if account is None:
            return self._refuse(
                _S.ESME_RINVSYSID, "unknown system_id", attempt, counts=True, delay=delay
            )
        # Before the password: a refused address or certificate costs no argon2 run.
        if not account.allows_address(address):
            reason = "source address not allowed"
            return self._refuse(_S.ESME_RBINDFAIL, reason, attempt, counts=True, delay=delay)
        if mode is None and not account.api_enabled:
            return self._refuse(_S.ESME_RBINDFAIL, "HTTP API not enabled", attempt, counts=False)
        if mode is not None and account.requires_certificate:
            refusal = _certificate_refusal(account, cert)
            if refusal:
                return self._refuse(_S.ESME_RBINDFAIL, refusal, attempt, counts=True, delay=delay)
        key = self._cache_key(account.password_hash, password)
        if key in self._verified:
            self._verified.move_to_end(key)
            return self._authorize(account, attempt)
        # One ESME checks at most max_binds binds at once, and a failing one gets one turn at
        # a time. Beyond that it is a crowd: refused without argon2, and not at once, so that
        # a crowd of connections cannot spin on cheap refusals either.
        checking = failures.checking(pair)
        if mode is None:
            # Concurrent requests with the same credentials are normal over HTTP (and verified
            # once, by the API's checker); only a failing pair is held to one check at a time.
            crowd = checking >= 1 and failures.is_failing(pair, moment)
        else:
            crowd = checking >= (1 if failures.is_failing(pair, moment) else account.max_binds)
        if crowd:
            reason = f"too many {attempt.action}s of this source and system_id being checked"
            return self._refuse_busy(reason, attempt, delay=max(delay, failures.base_delay))
        failures.begin_check(pair)
        return PasswordCheck(
            account=account,
            mode=mode,
            peer_ip=address,
            password=password,
            cache_key=key,
            delay=delay,
            # The first lane is for what an honest first bind looks like: a pair that has not
            # failed, one bind at a time, so that a pair's crowd waits behind other pairs.
            suspect=checking > 0 or failures.failed_recently(pair, moment),
            session=session,
            pair=pair,
        )

    def finish_bind(
        self, check: PasswordCheck, *, password_ok: bool | None, now: float | None = None
    ) -> BindDecision:
        """The decision once `check.verify()` has run; mode and max_binds are checked here,
        after the wait, so that binds verified concurrently cannot exceed max_binds.
        `password_ok` None: the password could not be checked (the verifier was saturated),
        answered ESME_RBINDFAIL and not counted as a failure; at once, unless the pair has other
        binds being checked, failed recently, or was refused so less than a delay ago."""
        self._release(check)
        system_id = check.account.system_id
        attempt = _Attempt(
            system_id=system_id,
            mode=check.mode,
            address=check.peer_ip,
            moment=self._now(now),
            session=check.session,
            pair=check.pair,
        )
        if password_ok is None:
            delay = self._failures.unverified_delay(check.pair, attempt.moment)
            return self._refuse_busy("password verifier busy", attempt, delay=delay)
        if not password_ok:
            return self._refuse(
                CommandStatus.ESME_RINVPASWD, "wrong password", attempt, counts=True
            )
        current = self._accounts.get(system_id)
        if current != check.account:
            # Reloaded while argon2 ran: what was checked (hash, networks, certificates) may no
            # longer be the account's rules. The client simply binds again.
            reason = f"account changed during {attempt.action}"
            return self._refuse(CommandStatus.ESME_RBINDFAIL, reason, attempt, counts=False)
        self._remember(check.cache_key)
        return self._authorize(current, attempt)

    def _remember(self, cache_key: bytes) -> None:
        if self._cache_size:
            self._verified[cache_key] = None
            self._verified.move_to_end(cache_key)
            while len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)

    def abandon(self, check: PasswordCheck) -> None:
        """Give `check` up without a decision (the peer left before it was verified). Call
        either this or `finish_bind`, once per check."""
        self._release(check)

    def _release(self, check: PasswordCheck) -> None:
        self._failures.end_check(check.pair)

    def _authorize(self, account: Account, attempt: _Attempt) -> BindDecision:
        """Checks on a client that proved its credentials: not counted as guessing. An HTTP
        login (no mode) holds no session: no bind mode, no max_binds."""
        if attempt.mode is None:
            return BindDecision(status=_S.ESME_ROK, reason="", account=account)
        if attempt.mode not in account.bind_modes:
            reason = f"bind mode {attempt.door} not allowed"
            return self._refuse(CommandStatus.ESME_RBINDFAIL, reason, attempt, counts=False)
        bound = self._binds.get(account.system_id, 0)
        if bound >= account.max_binds:
            reason = f"max_binds {account.max_binds} reached"
            return self._refuse(CommandStatus.ESME_RBINDFAIL, reason, attempt, counts=False)
        self._binds[account.system_id] = bound + 1
        log.debug(
            "bind accepted session=%s system_id=%s mode=%s peer=%s binds=%d/%d",
            attempt.session,
            account.system_id,
            attempt.door,
            attempt.address,
            bound + 1,
            account.max_binds,
        )
        return BindDecision(status=CommandStatus.ESME_ROK, reason="", account=account)

    # ------------------------------------------------------------------ HTTP logins

    def api_key_account(self, key: str) -> Account | None:
        """The account that holds the API key `key` (and may use the HTTP API), or None."""
        system_id = self._api_keys.get(api_key_hash(key))
        account = None if system_id is None else self._accounts.get(system_id)
        return account if account is not None and account.api_enabled else None

    def begin_login(
        self,
        system_id: str,
        password: str,
        peer_ip: IPAddress | str,
        *,
        now: float | None = None,
        session: str = "http",
    ) -> BindDecision | PasswordCheck:
        """An HTTP request's Basic credentials (the account's SMPP system_id and password):
        the checks of `begin_bind` without certificates, bind mode or max_binds (a request
        holds no session), plus the account's `api_enabled`. Continue a `PasswordCheck` with
        `finish_login` (or `abandon`). Failures count per (address, system_id) pair as bind
        failures do, and share their delays."""
        return self._begin(system_id, password, None, peer_ip, None, now=now, session=session)

    def finish_login(
        self, check: PasswordCheck, *, password_ok: bool | None, now: float | None = None
    ) -> BindDecision:
        """The decision once `check.verify()` has run (see `begin_login`)."""
        return self.finish_bind(check, password_ok=password_ok, now=now)

    def bind_opened(self, system_id: str) -> None:
        """Count a bound session that did not come through `check_bind`/`finish_bind` (an
        outbind, say). An accepted decision is already counted: do not call this for it."""
        self._binds[system_id] = self._binds.get(system_id, 0) + 1

    def bind_closed(self, system_id: str) -> None:
        """Release the slot of a bound session that ended."""
        bound = self._binds.get(system_id, 0)
        if bound <= 0:
            # A caller bug, but one that must not break session clean-up: log, stay at zero.
            log.error("bind_closed without an open bind system_id=%s", system_id)
            return
        if bound == 1:
            del self._binds[system_id]
        else:
            self._binds[system_id] = bound - 1

    def binds(self, system_id: str) -> int:
        """Bound sessions currently counted for `system_id`."""
        return self._binds.get(system_id, 0)

    def throughput_bucket(self, system_id: str) -> TokenBucket | None:
        """The token bucket all sessions of `system_id` share; None when it has no cap.

        Burst is one second's worth (at least one message), so a client that keeps to its rate
        is never throttled by timer jitter.
        """
        account = self._accounts.get(system_id)
        if account is None or account.throughput <= 0:
            return None
        bucket = self._buckets.get(system_id)
        if bucket is None:
            rate, burst = account.throughput, max(1.0, account.throughput)
            if self._new_bucket is None:
                bucket = TokenBucket(rate, burst)
            else:
                bucket = self._new_bucket(system_id, rate, burst)
            self._buckets[system_id] = bucket
            self._caps[system_id] = rate
        return bucket

    # ------------------------------------------------------------------ failures

    def failure_delay(
        self, peer_ip: IPAddress | str, system_id: str, now: float | None = None
    ) -> float:
        """Seconds the next bind of `system_id` from `peer_ip` waits before its password is
        checked, or before its refusal is answered (0.0 while that pair has failed no more
        than `failure_free` times recently).

        Grows exponentially with the pair's recent failures, up to `failure_max_delay`, and
        decays when they stop. It slows only that pair: the caller waits in that session's
        task, nobody else's. An unknown system_id counts with every other unknown one.
        """
        address = _parse_address(peer_ip)
        account_id = system_id if system_id in self._accounts else ""
        return self._failures.delay(pair_of(address, account_id), self._now(now))

    def _refuse(
        self,
        status: CommandStatus,
        reason: str,
        attempt: _Attempt,
        *,
        counts: bool,
        delay: float = 0.0,
    ) -> BindDecision:
        """A refusal, logged (the one line for it); `counts` when it looks like guessing and
        should slow the pair; `delay` before the answer goes out."""
        if counts:
            score = self._failures.record(attempt.pair, attempt.moment)
            log.warning(
                "%s refused session=%s system_id=%s mode=%s peer=%s status=0x%08X reason=%s "
                "recent_failures=%.1f next_delay=%.2fs",
                attempt.action,
                attempt.session,
                peer_text(attempt.system_id),
                attempt.door,
                attempt.address,
                status,
                reason,
                score,
                self._failures.delay_for(score),
            )
        else:
            log.info(
                "%s refused session=%s system_id=%s mode=%s peer=%s status=0x%08X reason=%s",
                attempt.action,
                attempt.session,
                peer_text(attempt.system_id),
                attempt.door,
                attempt.address,
                status,
                reason,
            )
        return BindDecision(status=status, reason=reason, account=None, delay=delay)

    def _refuse_busy(self, reason: str, attempt: _Attempt, *, delay: float = 0.0) -> BindDecision:
        """A refusal for want of capacity, not a failure: not counted, and logged at most
        once a second (a flood makes thousands), with how many went unlogged."""
        suppressed = self._busy_log.take(attempt.moment)
        if suppressed is not None:
            log.warning(
                "%s refused session=%s system_id=%s mode=%s peer=%s status=0x%08X reason=%s "
                "(%d more refused for capacity in the last second)",
                attempt.action,
                attempt.session,
                peer_text(attempt.system_id),
                attempt.door,
                attempt.address,
                _S.ESME_RBINDFAIL,
                reason,
                suppressed,
            )
        return BindDecision(status=_S.ESME_RBINDFAIL, reason=reason, account=None, delay=delay)

    # ------------------------------------------------------------------ helpers

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    def _cache_key(self, password_hash: str, password: str) -> bytes:
        message = password_hash.encode() + b"\x00" + password.encode("utf-8", "surrogatepass")
        return hmac.new(self._cache_secret, message, hashlib.sha256).digest()


def _parse_address(peer_ip: IPAddress | str) -> IPAddress:
    if isinstance(peer_ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return peer_ip
    return ipaddress.ip_address(peer_ip)


def _certificate_refusal(account: Account, cert: PeerCertificate | None) -> str:
    """Why `cert` cannot bind as `account` ("" when it can)."""
    if cert is None:
        return "client certificate required"
    if cert.fingerprint in account.cert_fingerprints or cert.subject in account.cert_subjects:
        return ""
    return (
        f"client certificate not allowed subject={peer_text(cert.subject)} "
        f"sha256={cert.fingerprint}"
    )
