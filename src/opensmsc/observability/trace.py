"""The trace id of the message being worked on, for log lines that do not name it themselves.

What this is for (issue 16): every log line of a message's hops carries its trace id
(store/trail.py). The engine's own lines say `trace=...` in their text; a line written deeper
down while an attempt runs (a connector, the simulated network, an upstream's answer) does not
know the message. `traced(trace_id)` sets the id for the task or the block it runs in
(a ContextVar: each asyncio task has its own), and the CLI's formatters (cli/logsetup.py) put
`current_trace()` on every line that has none of its own: `trace=...` in key=value text, a
`"trace_id"` member in JSON.

What it is not: a tracing system (no spans, no export). The id has the W3C trace-id form, so
one can be fed to one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

__all__ = ["TRACE_IN_TEXT", "current_trace", "set_current_trace", "traced"]

_CURRENT: ContextVar[str | None] = ContextVar("opensmsc_trace_id", default=None)

# `trace=<id>` as the engine writes it in a line's text (ids are hex; a message id stands in
# for a record from before trace ids).
TRACE_IN_TEXT: Final = re.compile(r"\btrace=([0-9A-Za-z]+)")


def current_trace() -> str | None:
    """The trace id set for this task or block, or None."""
    return _CURRENT.get()


def set_current_trace(trace_id: str | None) -> None:
    """Set the trace id for the rest of this task (a task's context is its own)."""
    _CURRENT.set(trace_id)


@contextmanager
def traced(trace_id: str | None) -> Iterator[None]:
    """The trace id for the lines logged inside the block."""
    token = _CURRENT.set(trace_id)
    try:
        yield
    finally:
        _CURRENT.reset(token)
