"""Durable message storage (issue #5): the stored record, its lifecycle and what a change does
to it (model), the Store protocol the engine talks to (api), the embedded SQLite
implementation (sqlite/), and the PostgreSQL one the nodes of a cluster share (postgres/).
Import from here; the modules may be split or merged.
"""

from opensmsc.store.answers import KeyTaken, SavedAnswer
from opensmsc.store.api import (
    Clock,
    MessageQuery,
    QueueDepths,
    Store,
    StoreStats,
    system_clock,
)
from opensmsc.store.model import (
    FINAL_STATES,
    INITIAL_STATES,
    OPEN_STATES,
    REPLACEABLE_STATES,
    SUCCESS_STATES,
    TRANSITIONS,
    Address,
    Change,
    ConcatInfo,
    Direction,
    DuplicateMessage,
    IllegalTransition,
    MessageNotFound,
    Replacement,
    SchemaTooNew,
    StoredMessage,
    StoreError,
    apply_change,
    check_transition,
    is_final,
    outcome_error,
)
from opensmsc.store.outage import OutageLog, StoreFull
from opensmsc.store.postgres import PostgresStore
from opensmsc.store.sqlite import DB_FILENAME, SqliteStore
from opensmsc.store.trail import KINDS as TRAIL_KINDS
from opensmsc.store.trail import TrailEvent, new_trace_id

__all__ = [
    "DB_FILENAME",
    "FINAL_STATES",
    "INITIAL_STATES",
    "OPEN_STATES",
    "REPLACEABLE_STATES",
    "SUCCESS_STATES",
    "TRAIL_KINDS",
    "TRANSITIONS",
    "Address",
    "Change",
    "Clock",
    "ConcatInfo",
    "Direction",
    "DuplicateMessage",
    "IllegalTransition",
    "KeyTaken",
    "MessageNotFound",
    "MessageQuery",
    "OutageLog",
    "PostgresStore",
    "QueueDepths",
    "Replacement",
    "SavedAnswer",
    "SchemaTooNew",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreFull",
    "StoreStats",
    "StoredMessage",
    "TrailEvent",
    "apply_change",
    "check_transition",
    "is_final",
    "new_trace_id",
    "outcome_error",
    "system_clock",
]
