"""How many connections a listener takes before they bind, and the process's file limit.

A TCP connection costs a file descriptor from its accept until its close, and one that never
binds costs nothing else to open: 2,000 idle sockets took every descriptor of a node with the
common limit of 1,024, and every new SMPP and admin connection failed with nothing logged
(issue 10 item 23). So the listener caps connections that have not bound, in all and per
source address, and keeps descriptors in reserve for the store, the admin API and the
connectors; past a cap a new connection is closed at once and the refusal logged (at most
once every `LOG_PERIOD` seconds per reason, with the count). `raise_file_limit` lifts the
soft RLIMIT_NOFILE to the hard limit at start.

A TLS connection is counted once its handshake is done; until then it is bounded by the
handshake timeout.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import resource
from dataclasses import dataclass

__all__ = [
    "ConnectionLimits",
    "UnboundGate",
    "address_key",
    "file_budget",
    "file_limit",
    "raise_file_limit",
]

log = logging.getLogger(__name__)

LOG_PERIOD = 10.0  # seconds between two log lines about the same cap


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLimits:
    """Caps on connections that have not bound yet (`[smpp.server]` max_unbound_*)."""

    max_unbound: int = 1000
    max_unbound_per_address: int = 50

    def __post_init__(self) -> None:
        if self.max_unbound < 1 or self.max_unbound_per_address < 1:
            raise ValueError("connection caps must be at least 1")


def raise_file_limit() -> tuple[int, int]:
    """Raise the soft limit on open files to the hard limit, where allowed; log what it is.
    Returns (soft, hard) as they are afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard or hard == resource.RLIM_INFINITY:
        # An infinite hard limit is not a valid soft one on Linux: take the kernel's nr_open.
        target = hard if hard != resource.RLIM_INFINITY else _nr_open(soft)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("file limit not raised soft=%d hard=%d: %s", soft, hard, exc)
            return soft, hard
        if target != soft:
            log.info("file limit raised soft=%d -> %d hard=%d", soft, target, hard)
        return target, hard
    log.info("file limit soft=%d hard=%d", soft, hard)
    return soft, hard


@functools.cache
def file_limit() -> tuple[int, int]:
    """`raise_file_limit()`, done once per process: (soft, hard) as they are then."""
    return raise_file_limit()


def _nr_open(fallback: int) -> int:
    try:
        with open("/proc/sys/fs/nr_open") as nr_open:
            return int(nr_open.read())
    except (OSError, ValueError):
        return fallback


def file_budget(soft_limit: int) -> int:
    """Connections a listener may hold with `soft_limit` descriptors: a tenth of them (at
    least 64) stays for the store, logs, the admin API and the connectors."""
    return max(1, soft_limit - max(64, soft_limit // 10))


def address_key(host: str) -> str:
    """What per-address caps count: the address, an IPv4-mapped one as IPv4, an IPv6 one as
    its /64 (a subscriber usually holds a whole /64)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


class UnboundGate:
    """Admits connections within the caps and counts them until they bind or close.

    `admit` is asked once per connection; a connection admitted is released exactly once,
    by `bound` or by `closed`. Used from the event loop only.
    """

    def __init__(self, limits: ConnectionLimits, *, file_budget: int) -> None:
        self._limits = limits
        self._file_budget = file_budget
        self._per_address: dict[str, int] = {}
        self._total = 0
        self._refused: dict[str, int] = {}  # reason → refusals not logged yet
        self._logged_at: dict[str, float] = {}

    @property
    def unbound(self) -> int:
        return self._total

    def admit(self, key: str, *, open_connections: int, now: float) -> bool:
        """True: counted as unbound. False: refused, to be closed at once (logged here)."""
        limits = self._limits
        if open_connections >= self._file_budget:
            reason = f"file limit: {open_connections} connections open of {self._file_budget}"
            self._refuse("file", reason, key, now)
            return False
        if self._total >= limits.max_unbound:
            reason = f"max_unbound_connections ({limits.max_unbound}) reached"
            self._refuse("total", reason, key, now)
            return False
        count = self._per_address.get(key, 0)
        if count >= limits.max_unbound_per_address:
            reason = f"max_unbound_per_address ({limits.max_unbound_per_address}) reached"
            self._refuse("address", reason, key, now)
            return False
        self._per_address[key] = count + 1
        self._total += 1
        return True

    def release(self, key: str) -> None:
        """The connection bound, or closed before it did."""
        count = self._per_address.get(key, 0)
        if count <= 1:
            self._per_address.pop(key, None)
        else:
            self._per_address[key] = count - 1
        self._total = max(0, self._total - 1)

    def _refuse(self, kind: str, reason: str, key: str, now: float) -> None:
        refused = self._refused.get(kind, 0) + 1
        last = self._logged_at.get(kind)
        if last is not None and now - last < LOG_PERIOD:
            self._refused[kind] = refused
            return
        self._refused[kind] = 0
        self._logged_at[kind] = now
        log.warning(
            "connection refused peer=%s: %s (%d refused so since the last such line)",
            key,
            reason,
            refused,
        )
