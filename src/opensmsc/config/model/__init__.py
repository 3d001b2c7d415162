"""The configuration model: one frozen dataclass per TOML section, defaults only here.

The TOML file maps onto these classes key for key (`[[smpp.client]]` → `Config.smpp.client`,
a tuple of `SmppClientConfig`). Field types carry the validation (see `rules.py`); rules that span
several fields live in each section's `problems()`. To add a section, add a dataclass to the
module of its part of the file (or a new module) and a field to its parent: the loader needs no
change. `docs/configuration.md` documents every key.

One module per part of the file: node.py (`[node]`, `[store]`, `[logging]`), smpp_server.py,
smpp_client.py, accounts.py, routing.py, network.py, http.py, api.py, policyd.py, cdr.py, and
root.py
(`Config`, `[smpp]` and the rules across sections). They read no file and know nothing of TOML;
`load.py` does that.
Import from `opensmsc.config`; this package's names are for the config package's own modules.
"""

from opensmsc.config.model.accounts import (
    AccountConfig,
    DistributionListConfig,
    LongMessageReceipts,
)
from opensmsc.config.model.api import ApiConfig
from opensmsc.config.model.cdr import CdrConfig
from opensmsc.config.model.cluster import ClusterConfig
from opensmsc.config.model.http import HttpConfig
from opensmsc.config.model.imps import ImpsConfig, ImpsUserConfig
from opensmsc.config.model.network import (
    NetworkConfig,
    NetworkMode,
    PortedNumberConfig,
    PrefixDefaultConfig,
    SubscriberConfig,
    SubscriberStateName,
)
from opensmsc.config.model.node import (
    LogFormat,
    LoggingConfig,
    LogLevel,
    NodeConfig,
    StoreConfig,
)
from opensmsc.config.model.policy_client import PolicyClientConfig, PolicyServerConfig
from opensmsc.config.model.policyd import PolicydConfig
from opensmsc.config.model.root import Config, SmppConfig
from opensmsc.config.model.routing import RouteConfig, RoutingConfig
from opensmsc.config.model.smpp_client import ClientBind, MessageIdFormat, SmppClientConfig
from opensmsc.config.model.smpp_server import OverloadAction, SmppServerConfig, SmppVersion

__all__ = [
    "AccountConfig",
    "ApiConfig",
    "CdrConfig",
    "ClientBind",
    "ClusterConfig",
    "Config",
    "DistributionListConfig",
    "HttpConfig",
    "ImpsConfig",
    "ImpsUserConfig",
    "LogFormat",
    "LogLevel",
    "LoggingConfig",
    "LongMessageReceipts",
    "MessageIdFormat",
    "NetworkConfig",
    "NetworkMode",
    "NodeConfig",
    "OverloadAction",
    "PolicyClientConfig",
    "PolicyServerConfig",
    "PolicydConfig",
    "PortedNumberConfig",
    "PrefixDefaultConfig",
    "RouteConfig",
    "RoutingConfig",
    "SmppClientConfig",
    "SmppConfig",
    "SmppServerConfig",
    "SmppVersion",
    "StoreConfig",
    "SubscriberConfig",
    "SubscriberStateName",
]
