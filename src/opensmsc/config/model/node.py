"""`[node]`, `[store]` and `[logging]`: this instance, its message store and its logs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from opensmsc.config.rules import BatchOps, Name, OptionalSeconds, Seconds


class LogLevel(enum.Enum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(enum.Enum):
    TEXT = "text"  # key=value text, one event per line
    JSON = "json"  # one JSON object per line


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """`[node]`: this SMSC instance."""

    name: Name = "opensmsc"
    data_dir: Path = Path("data")  # relative to the config file's folder (or the working folder)
    # SIGTERM: how long the node may take to answer what is in flight and unbind its ESMEs
    # before it closes what is left (app/process.py).
    drain_timeout: Seconds = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingConfig:
    """`[logging]`."""

    level: LogLevel = LogLevel.INFO
    format: LogFormat = LogFormat.TEXT
    show_short_message: bool = False  # STYLE §6: short_message is redacted unless configured


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """`[store]`: the durable message store (SQLite in WAL mode, in `node.data_dir`)."""

    retention: Seconds = 172_800.0  # final messages are kept this long (query_sm), then purged
    purge_interval: Seconds = 300.0  # how often purging (and expiring stale receipts) runs
    lease: Seconds = 30.0  # a claimed message is due again this long after a crash mid-attempt
    max_batch_ops: BatchOps = 2000  # writes one transaction (one fsync) may carry
    max_batch_delay: OptionalSeconds = 0.0  # wait this long for more writes before a commit
