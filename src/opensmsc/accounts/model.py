"""ESME accounts: who may bind, how, from where, and how fast.

An `Account` is a value: built by the config loader (or a future account store), read by the
`Authenticator` and the session. It holds the password only as an argon2id hash
(`passwords.hash_password`). It knows nothing of sockets or SMPP PDUs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from opensmsc.smpp import BindMode
from opensmsc.transport import normalize_fingerprint

# BindMode is the session machine's own (smpp.states), re-exported: one enum from the bind PDU
# to the account rule.
__all__ = ["SYSTEM_ID_MAX_LENGTH", "Account", "BindMode", "IPNetwork"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# SMPP 3.4 §5.2.1: system_id is a C-Octet String of at most 16 octets, NUL included.
SYSTEM_ID_MAX_LENGTH = 15


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One ESME's credentials and limits.

    - `bind_modes`: the binds it may open.
    - `allowed_networks`: source networks a bind may come from; empty means any address.
    - `max_binds`: concurrent bound sessions, all modes together.
    - `throughput`: submitted messages per second over all its sessions; 0 means no cap.
    - `window`: requests it may have outstanding towards us per session.
    - `api_enabled`, `api_key_hashes`: the HTTP API door (module api_keys).
    - `cert_fingerprints`, `cert_subjects`: with either non-empty, a bind must come over TLS
      with a client certificate whose SHA-256 fingerprint or RFC 4514 subject is listed; the
      password is still checked. Fingerprints are stored in `tls.fingerprint` form.

    Raises ValueError when a field cannot be right (a system_id no bind can carry, a hash that
    is not argon2, a limit below 1).
    """

    system_id: str
    password_hash: str = field(repr=False)  # not secret as such, but it has no place in logs
    bind_modes: frozenset[BindMode] = frozenset(BindMode)
    allowed_networks: tuple[IPNetwork, ...] = ()
    # Room for a transmitter+receiver pair plus reconnects that overlap the old sessions' close.
    max_binds: int = 4
    throughput: float = 0.0
    window: int = 10
    cert_fingerprints: frozenset[str] = frozenset()
    cert_subjects: frozenset[str] = frozenset()
    # The HTTP API: whether the account may use it, and the hashes of its API keys
    # (api_keys.api_key_hash).
    api_enabled: bool = True
    api_key_hashes: frozenset[str] = field(default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        if not 0 < len(self.system_id) <= SYSTEM_ID_MAX_LENGTH or not self.system_id.isascii():
            raise ValueError(
                f"system_id {self.system_id!r}: 1 to {SYSTEM_ID_MAX_LENGTH} ASCII characters"
            )
        if not self.password_hash.startswith("$argon2"):
            raise ValueError(f"account {self.system_id}: password_hash is not an argon2 hash")
        if not self.bind_modes:
            raise ValueError(f"account {self.system_id}: no bind mode allowed")
        if self.max_binds < 1:
            raise ValueError(f"account {self.system_id}: max_binds must be at least 1")
        if not self.throughput >= 0:
            raise ValueError(f"account {self.system_id}: throughput must be 0 or more")
        if self.window < 1:
            raise ValueError(f"account {self.system_id}: window must be at least 1")
        # Normalised once here so that comparisons at bind time are plain set lookups
        # (BindMode("transmitter") is accepted for a mode, any spelling for a fingerprint).
        # object.__setattr__ because the dataclass is frozen; this is still construction.
        object.__setattr__(self, "bind_modes", frozenset(BindMode(m) for m in self.bind_modes))
        object.__setattr__(
            self, "cert_fingerprints", frozenset(map(normalize_fingerprint, self.cert_fingerprints))
        )
        object.__setattr__(self, "allowed_networks", tuple(self.allowed_networks))

    @property
    def requires_certificate(self) -> bool:
        return bool(self.cert_fingerprints or self.cert_subjects)

    def allows_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """True when a bind from `address` is allowed by `allowed_networks`."""
        if not self.allowed_networks:
            return True
        # An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d; match it as IPv4.
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(
            address.version == network.version and address in network
            for network in self.allowed_networks
        )
