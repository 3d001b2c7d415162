"""API keys of the HTTP API: made here, stored only as a hash.

A key is 32 random octets (`osk_` + URL-safe base64), so a fast hash is enough to keep the
stored form useless to a thief: nobody can guess 256 bits, and SHA-256 cannot be inverted.
(Passwords need argon2 because people choose them; these are never chosen.) Checking a key is
then one SHA-256 and a dictionary lookup, cheap enough for every request.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

__all__ = ["API_KEY_PREFIX", "api_key_hash", "new_api_key"]

API_KEY_PREFIX: Final = "osk_"
_HASH_PREFIX: Final = "sha256:"


def new_api_key() -> tuple[str, str]:
    """(key, its hash): show the key once, store the hash."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, api_key_hash(key)


def api_key_hash(key: str) -> str:
    """The stored form of `key`: "sha256:<64 hex digits>"."""
    return _HASH_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
