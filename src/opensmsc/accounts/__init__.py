"""ESME accounts: credentials (argon2id hashes), bind decisions, the bounded password
verifier, throughput caps."""

from opensmsc.accounts.authenticator import (
    Authenticator,
    BindDecision,
    PasswordCheck,
)
from opensmsc.accounts.model import Account, BindMode
from opensmsc.accounts.passwords import hash_password, needs_rehash, verify
from opensmsc.accounts.throttle import TokenBucket
from opensmsc.accounts.verifier import PasswordVerifier, VerifierStats

__all__ = [
    "Account",
    "Authenticator",
    "BindDecision",
    "BindMode",
    "PasswordCheck",
    "PasswordVerifier",
    "TokenBucket",
    "VerifierStats",
    "hash_password",
    "needs_rehash",
    "verify",
]
