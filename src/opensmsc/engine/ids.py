"""Our message_ids: unique across restarts of a node, 16 hex digits (SMPP 3.4 §5.2.23 allows
65 octets).

An id is an 8-digit run prefix and an 8-digit counter. The prefix is the start time in seconds,
raised above the last prefix this data folder used (kept in a small file), so ids stay unique
when the clock steps back or a node restarts within the second. A long message reserves a block
of 256 counter values: its group id is the block's first id and part `seq` is group + seq, so
the parts of a message can be found from any one of them (engine/receipts.py, "whole" mode).

Nodes sharing one store (a cluster) must not share a prefix: each takes a block of prefixes
from the store at start (PostgresStore.reserve_id_prefixes) and rolls within it only. What this
is not: that allocator.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from opensmsc.store import Clock

__all__ = ["PREFIX_FILENAME", "MessageIds", "part_id"]

PREFIX_FILENAME: Final = "id-prefix"  # in the data folder
_COUNTER_SPAN: Final = 1 << 32
_GROUP_SPAN: Final = 256  # concat parts count 1..255 (TS 23.040 §9.2.3.24.1)


def part_id(group_id: str, seq: int) -> str:
    """The message_id of part `seq` (1..255) of the long message `group_id`."""
    return f"{int(group_id, 16) + seq:016x}"


class MessageIds:
    """Hands out message_ids. Not thread-safe: the event loop's."""

    def __init__(
        self,
        prefix: int,
        *,
        on_new_prefix: Callable[[int], None] | None = None,
        last_prefix: int | None = None,
    ) -> None:
        """Ids from `prefix` on; with `last_prefix` (a block reserved in a shared store), never
        a prefix beyond it."""
        self._prefix = prefix & 0xFFFFFFFF
        self._next = 1
        self._persist = on_new_prefix
        self._last_prefix = last_prefix

    @classmethod
    def open(cls, data_dir: Path, *, clock: Clock) -> MessageIds:
        """Ids for a node whose data is in `data_dir`: a prefix never used there before (the
        `clock`'s second, or above the last one used), written (and synced) to
        `data_dir/id-prefix` before the first id is handed out."""
        path = data_dir / PREFIX_FILENAME
        last = -1
        with contextlib.suppress(FileNotFoundError, ValueError):
            last = int(path.read_text().strip(), 16)
        prefix = max(int(clock().timestamp()), last + 1) & 0xFFFFFFFF

        def persist(value: int) -> None:
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w") as file:
                file.write(f"{value:08x}\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)

        persist(prefix)
        return cls(prefix, on_new_prefix=persist)

    def next(self) -> str:
        """A new message_id."""
        if self._next >= _COUNTER_SPAN:
            self._roll()
        value = self._next
        self._next += 1
        return f"{self._prefix:08x}{value:08x}"

    def next_group(self) -> str:
        """A new long-message group id; `part_id(group, seq)` gives its parts' ids."""
        start = -(-self._next // _GROUP_SPAN) * _GROUP_SPAN  # the next multiple of 256
        if start + _GROUP_SPAN > _COUNTER_SPAN:
            self._roll()
            start = _GROUP_SPAN
        self._next = start + _GROUP_SPAN
        return f"{self._prefix:08x}{start:08x}"

    def _roll(self) -> None:
        # 4 billion ids in one run: take the next prefix (and remember it, as at start).
        if self._last_prefix is not None and self._prefix >= self._last_prefix:
            # The next prefix may be another node's: no id at all rather than a shared one.
            raise RuntimeError(
                f"message_id prefixes {self._prefix:08x} and below used up: restart the node"
            )
        self._prefix = (self._prefix + 1) & 0xFFFFFFFF
        self._next = 1
        if self._persist is not None:
            self._persist(self._prefix)
