"""The ESME-facing side of the SMSC: a bound ESME's session, the registry of bound sessions,
outbind to ESMEs. Import from here; the modules may be split or merged.
"""

from opensmsc.smsc.outbind import (
    OutbindDialer,
    OutbindTarget,
)
from opensmsc.smsc.registry import (
    DeliveryTarget,
    SessionRegistry,
)
from opensmsc.smsc.session import (
    ClusterBinds,
    EsmeSession,
    SmscServices,
    SmscSettings,
)
from opensmsc.smsc.tap import TailReader, TappedFrame

__all__ = [
    "ClusterBinds",
    "DeliveryTarget",
    "EsmeSession",
    "OutbindDialer",
    "OutbindTarget",
    "SessionRegistry",
    "SmscServices",
    "SmscSettings",
    "TailReader",
    "TappedFrame",
]
