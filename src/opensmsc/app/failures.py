"""Start-up failures in words: what an operator reads on the one line a failed start prints."""

from __future__ import annotations

import errno
import os

__all__ = ["address", "os_reason"]

_HINTS = {
    errno.EADDRINUSE: "another process listens there",
    errno.EADDRNOTAVAIL: "not an address of this host",
    errno.EACCES: "permission denied",
}


def os_reason(exc: OSError) -> str:
    """`[Errno 98] error while attempting to bind ...` → "address already in use (another
    process listens there)": the system's words for the errno, and what it usually means."""
    if exc.errno is None:
        return str(exc)
    reason = os.strerror(exc.errno)
    reason = reason[:1].lower() + reason[1:]
    hint = _HINTS.get(exc.errno)
    return f"{reason} ({hint})" if hint and hint != reason else reason


def address(host: str, port: int) -> str:
    """`host:port`, with an IPv6 literal in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
