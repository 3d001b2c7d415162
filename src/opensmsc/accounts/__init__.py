"""ESME accounts: credentials (argon2id hashes, API keys), bind and HTTP login decisions,
the bounded password verifier, throughput caps."""

from opensmsc.accounts.api_keys import API_KEY_PREFIX, api_key_hash, new_api_key
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
    "API_KEY_PREFIX",
    "Account",
    "Authenticator",
    "BindDecision",
    "BindMode",
    "PasswordCheck",
    "PasswordVerifier",
    "TokenBucket",
    "VerifierStats",
    "api_key_hash",
    "hash_password",
    "needs_rehash",
    "new_api_key",
    "verify",
]
