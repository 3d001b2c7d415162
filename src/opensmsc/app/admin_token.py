"""The admin token: what the admin API, the CLI's verbs and the web console's login check.

`$OPENSMSC_ADMIN_TOKEN` when set (a fleet's secret store hands it to every node), else the
`admin-token` file in the data folder, made at the first start with 256 random bits and mode
0600: whoever can read the data folder owns the node anyway, and `opensmsc ... --config FILE`
finds it there without anyone copying it around.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Final

__all__ = ["TOKEN_ENV", "TOKEN_FILE", "admin_token", "is_loopback"]

TOKEN_ENV: Final = "OPENSMSC_ADMIN_TOKEN"
TOKEN_FILE: Final = "admin-token"


def admin_token(data_dir: Path) -> str:
    """The node's admin token (see the module's docstring); made on first use."""
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env
    path = data_dir / TOKEN_FILE
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    token = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two nodes racing on one folder cannot end with different tokens in memory.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
        out.flush()
        os.fsync(out.fileno())
    return token


def is_loopback(address: str) -> bool:
    """Whether a listener on `address` is reachable from this host only."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
