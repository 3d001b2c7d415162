"""`[http]`: the HTTP admin interface."""

from __future__ import annotations

from dataclasses import dataclass

from opensmsc.config.rules import Host, Port


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    """`[http]`: the HTTP admin interface and web console. Beyond loopback every request needs
    the admin token (app/admin_token.py: `data_dir/admin-token` or $OPENSMSC_ADMIN_TOKEN)."""

    enabled: bool = True
    bind_address: Host = "127.0.0.1"
    port: Port = 8775  # 0: an ephemeral port (tests)
