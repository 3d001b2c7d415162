"""Opaque page cursors: a store position (Store.find's `after`) under a prefix that names the
listing and its order, base64url without padding, so a client cannot mistake one listing's
cursor for another's. Both the HTTP API's and the admin API's message lists use it."""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(prefix: str, after: int) -> str:
    return base64.urlsafe_b64encode(f"{prefix}{after}".encode()).decode().rstrip("=")


def decode_cursor(prefix: str, cursor: str) -> int | None:
    """The position `cursor` holds, or None when it is no cursor of `prefix`."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith(prefix):
            return int(text.removeprefix(prefix))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    return None
