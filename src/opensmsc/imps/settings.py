"""The IMPS service's settings: keep-alive, self-registration, digest schemas, queue bounds,
lifetimes. Built by app/imps.py from `[imps]` (tests build their own); the service's modules
read them. What this is not: the configuration's schema (config/model/imps.py)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ImpsSettings"]


@dataclass(frozen=True, slots=True)
class ImpsSettings:
    """What an operator may tune; every duration in seconds."""

    keepalive: float = 600.0  # KA offered at login; the most a client may ask for (TL, KA)
    keepalive_grace: float = 60.0  # a session idle for keepalive + this ends (subscribers told)
    allow_self_registration: bool = False  # LR with PW from an unknown user id creates it
    digest_schemas: tuple[str, ...] = ("MD5", "SHA")  # AIM StandardPasswordDigest's schemas
    max_pending_per_user: int = 1000  # unacknowledged messages kept per user (then 507)
    # A user's lists are bounded, so that the state cannot grow without end and the answers
    # listing them (LG, ML, BL) fit in 26 SMS: 753, 754 past them.
    max_contact_lists: int = 10
    max_contacts_per_list: int = 100
    max_blocked: int = 100
    message_ttl: float = 7 * 86400.0  # unacknowledged messages are dropped after this (DR 542)
    reassembly_timeout: float = 120.0
    version: str = "12"  # used where the client's own version is unknown
    nonce_ttl: float = 300.0  # a 4-way login's second request must come within this
    cir_retry: float = 300.0  # a WVCI not followed by a PO is sent again after this
    mo_id_retention: float = 7 * 86400.0  # MO ids remembered for exactly-once this long
