"""Password hashing for ESME accounts: argon2id, memory-hard, PHC strings.

SMPP 3.4 §5.2.2 limits a bind password to 8 octets (a 9-octet C-Octet String), so the password
itself is weak by construction and travels in clear on plain port 2775. The hash cannot change
that; what it protects is the stored form: a leaked configuration file or database does not
give the passwords away, and each guess against it costs tens of milliseconds and 64 MiB.
Online guessing is slowed elsewhere (`Authenticator.failure_delay`).

`verify` is deliberately slow (~50–100 ms): run it in a thread (`loop.run_in_executor`), never
on the event loop. Nothing here keeps state, so every function is safe to call from any thread.
"""

from __future__ import annotations

import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PASSWORD_MAX_LENGTH", "hash_password", "needs_rehash", "verify"]

log = logging.getLogger(__name__)

# SMPP 3.4 §5.2.2: password is a C-Octet String of at most 9 octets, NUL included.
PASSWORD_MAX_LENGTH = 8

# argon2-cffi's defaults are RFC 9106's second recommended profile (argon2id, t=3, m=64 MiB,
# p=4). Parameters live in each PHC string, so changing them here never locks anyone out:
# `needs_rehash` says which stored hashes are behind.
_hasher = PasswordHasher()


def hash_password(plain: str) -> str:
    """The argon2id PHC string ("$argon2id$v=19$m=65536,t=3,p=4$...") to store for `plain`.

    Raises ValueError when `plain` cannot be an SMPP password: longer than 8 characters or not
    ASCII (no peer could ever send it, so storing it would be a silent misconfiguration).
    """
    if len(plain) > PASSWORD_MAX_LENGTH:
        raise ValueError(
            f"an SMPP password has at most {PASSWORD_MAX_LENGTH} characters, got {len(plain)}"
        )
    if not plain.isascii():
        raise ValueError("an SMPP password is ASCII")
    return _hasher.hash(plain)


def verify(password_hash: str, plain: str) -> bool:
    """True when `plain` matches `password_hash`. Slow by design; pure and thread-safe.

    A malformed or unsupported hash is logged and never matches: a damaged account is locked,
    not opened.
    """
    try:
        return _hasher.verify(password_hash, plain)
    except VerifyMismatchError:
        return False
    except InvalidHashError:
        log.error("password hash is malformed; the account cannot bind until it is reset")
        return False
    except VerificationError as exc:
        log.error("password hash cannot be verified (%s); the account cannot bind", exc)
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when `password_hash` was made with weaker parameters than `hash_password` uses now.

    The plain password is known only right after a successful bind: that is when to rehash.
    A malformed hash also needs one.
    """
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True
