"""The configuration: one TOML file, read only by `load()` into frozen dataclasses (STYLE §5).

`load(path)` returns a `Config` or raises `ConfigError`; `check(path)` lists every error. Each
layer takes its own slice (`config.smpp.server`, `config.accounts`) and builds its own objects
from it; the core never sees this model. `docs/configuration.md` documents every key.
"""

from opensmsc.config.load import check, load, loads, read_policy
from opensmsc.config.model import (
    AccountConfig,
    ClientBind,
    Config,
    DistributionListConfig,
    HttpConfig,
    LogFormat,
    LoggingConfig,
    LogLevel,
    LongMessageReceipts,
    MessageIdFormat,
    NetworkConfig,
    NetworkMode,
    NodeConfig,
    OverloadAction,
    PolicydConfig,
    PortedNumberConfig,
    PrefixDefaultConfig,
    RouteConfig,
    RoutingConfig,
    SmppClientConfig,
    SmppConfig,
    SmppServerConfig,
    SmppVersion,
    StoreConfig,
    SubscriberConfig,
    SubscriberStateName,
)
from opensmsc.config.model.policy import (
    LcrConfig,
    PolicyFile,
    RuleConfig,
    SenderIdConfig,
    VelocityConfig,
    WindowConfig,
)
from opensmsc.errors import ConfigError
from opensmsc.smpp.states import BindMode  # accounts' bind_modes use the session's enum

__all__ = [
    "AccountConfig",
    "BindMode",
    "ClientBind",
    "Config",
    "ConfigError",
    "DistributionListConfig",
    "HttpConfig",
    "LcrConfig",
    "LogFormat",
    "LogLevel",
    "LoggingConfig",
    "LongMessageReceipts",
    "MessageIdFormat",
    "NetworkConfig",
    "NetworkMode",
    "NodeConfig",
    "OverloadAction",
    "PolicyFile",
    "PolicydConfig",
    "PortedNumberConfig",
    "PrefixDefaultConfig",
    "RouteConfig",
    "RoutingConfig",
    "RuleConfig",
    "SenderIdConfig",
    "SmppClientConfig",
    "SmppConfig",
    "SmppServerConfig",
    "SmppVersion",
    "StoreConfig",
    "SubscriberConfig",
    "SubscriberStateName",
    "VelocityConfig",
    "WindowConfig",
    "check",
    "load",
    "loads",
    "read_policy",
]
