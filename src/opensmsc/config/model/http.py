"""`[http]`: the HTTP admin interface."""

from __future__ import annotations

from dataclasses import dataclass

from opensmsc.config.rules import Host, Port


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    """`[http]`: the HTTP admin interface (HLR lookups, subscribers, handsets). It has no
    authentication yet: keep it on a loopback or management address."""

    enabled: bool = True
    bind_address: Host = "127.0.0.1"
    port: Port = 8775  # 0: an ephemeral port (tests)
