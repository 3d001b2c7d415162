"""Call detail records (`[cdr]`, issue 16): one JSON line per message that reaches a final
state, in a file that rotates by size, as Kannel's access log and Jasmin's messages log give
their operators (for billing, reconciliation, a grep for one number).

A line: {"id", "trace_id", "direction", "account", "source", "destination", "state", "error",
"parts", "part", "route", "upstream_id", "attempts", "submitted_at", "done_at", "latency_ms",
"by", "text"}; times in ISO 8601 UTC; "text" only with `[logging] show_short_message` (else
null and "text_octets" says how long it was). The values come from the record and the "final"
trail event stored with the final state (engine/trail.py), after its commit.

Writing: the lines of one turn of the event loop go to the file in one write (no fsync: a CDR
is a log, the store holds the truth); when the file reaches `rotate_bytes` it is renamed
`FILE.1` (`.1` → `.2` ..., the one past `keep` dropped), as logging.handlers'
RotatingFileHandler does, and a new one is started.

What it is not: the trail (app/trail.py, the admin API) or metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import IO, Any, Final

from opensmsc.config import CdrConfig
from opensmsc.engine import trace_of
from opensmsc.errors import StartupError
from opensmsc.observability import MessageText
from opensmsc.store import StoredMessage, TrailEvent

__all__ = ["CdrWriter", "cdr_path"]

log = logging.getLogger(__name__)

_MAX_PENDING: Final = 100_000  # lines held while the file cannot be written, then dropped


def cdr_path(config: CdrConfig, data_dir: Path) -> Path:
    """`[cdr] file`, relative to the data folder unless absolute."""
    path = Path(config.file)
    return path if path.is_absolute() else data_dir / path


class CdrWriter:
    """Writes a CDR line per final message (engine/trail.py FinalListener). `open()` before
    the first, `close()` after the last (it writes what is pending)."""

    def __init__(
        self, path: Path, *, rotate_bytes: int, keep: int, show_text: bool = False
    ) -> None:
        self.path = path
        self._rotate_bytes = rotate_bytes
        self._keep = keep
        self._show_text = show_text
        self._file: IO[str] | None = None
        self._size = 0
        self._pending: list[str] = []
        self._scheduled = False
        self.written = 0  # lines written (tests, metrics)
        self.dropped = 0

    def open(self) -> None:
        """Open (or create) the file for appending. Raises StartupError."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
            self._size = self._file.tell()
        except OSError as exc:
            raise StartupError(f"[cdr] file {self.path} cannot be opened: {exc}") from exc

    def close(self) -> None:
        self._flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    # ---- engine/trail.py FinalListener ---------------------------------------------------------

    def final(self, record: StoredMessage, event: TrailEvent) -> None:
        if len(self._pending) >= _MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(self.line(record, event))
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self._flush)
            except RuntimeError:  # no loop (a tool): write at once
                self._flush()

    def line(self, record: StoredMessage, event: TrailEvent) -> str:
        """The CDR line of `record` ended as `event` says."""
        detail = event.detail
        concat = record.concat
        cdr: dict[str, Any] = {
            "id": record.message_id,
            "trace_id": trace_of(record),
            "direction": record.direction.name,
            "account": record.system_id,
            "source": record.source.addr,
            "destination": record.destination.addr,
            "state": detail.get("state"),
            "error": detail.get("error"),
            "parts": 1 if concat is None else concat.total,
            "part": 1 if concat is None else concat.seq,
            "route": detail.get("route"),
            "upstream_id": detail.get("upstream_id"),
            "attempts": detail.get("attempts", record.attempts),
            "submitted_at": _iso(record.submitted_at.isoformat()),
            "done_at": _iso(event.at.isoformat()),
            "latency_ms": detail.get("latency_ms"),
            "by": detail.get("by"),
        }
        payload = record.payload
        if self._show_text:
            shown = MessageText(payload, record.data_coding, record.esm_class).shown()
            cdr["text"] = json.loads(shown) if shown.startswith('"') else shown
        else:
            cdr["text"] = None
            cdr["text_octets"] = len(payload)
        return json.dumps(cdr, ensure_ascii=False, separators=(",", ":"))

    # ---- the file ------------------------------------------------------------------------------

    def _flush(self) -> None:
        self._scheduled = False
        lines, self._pending = self._pending, []
        if not lines or self._file is None:
            if lines:
                self._pending = lines  # not open yet: kept for the first flush after open
            return
        data = "\n".join(lines) + "\n"
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as exc:
            self.dropped += len(lines)
            log.error("CDR lines not written count=%d file=%s: %s", len(lines), self.path, exc)
            return
        self.written += len(lines)
        self._size += len(data.encode("utf-8")) if not data.isascii() else len(data)
        if self._rotate_bytes and self._size >= self._rotate_bytes:
            self._rotate()

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        try:
            for index in range(self._keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        except OSError as exc:
            log.error("CDR file not rotated file=%s: %s", self.path, exc)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        self._size = self._file.tell()


def _iso(text: str) -> str:
    return text.replace("+00:00", "Z")
