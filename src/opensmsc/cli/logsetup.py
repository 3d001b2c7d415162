"""Logging for `opensmsc run`: key=value text (or JSON lines) on stderr, from `[logging]`.

Log calls across opensmsc already write key=value pairs after a short phrase
(`"bind accepted session=%s system_id=%s"`, STYLE §6); this formatter puts the time, level and
logger in front in the same style. Message content is logged as `observability.MessageText`,
redacted unless `show_short_message` is set, which shows it here. Only the CLI calls
`setup_logging` (at start, and again on SIGHUP): a library never configures logging.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from opensmsc.config import LogFormat, LoggingConfig
from opensmsc.observability import TRACE_IN_TEXT, MessageText, current_trace


class KeyValueFormatter(logging.Formatter):
    """`ts=2025-01-02T03:04:05.678Z level=info logger=opensmsc.x bind accepted session=3`;
    a line written while a message is worked on (observability/trace.py) ends with its
    `trace=...` unless it says one itself."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        text = (
            f"ts={_timestamp(record)} level={record.levelname.lower()} "
            f"logger={record.name} {message}"
        )
        trace_id = current_trace()
        if trace_id is not None and "trace=" not in message:
            text += f" trace={trace_id}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, trace_id when the line is about
    a message (its `trace=...`, or the one being worked on), and exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, str] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        found = TRACE_IN_TEXT.search(message) if "trace=" in message else None
        trace_id = found.group(1) if found is not None else current_trace()
        if trace_id is not None:
            line["trace_id"] = trace_id
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class ShowShortMessages(logging.Filter):
    """`show_short_message = true`: the message texts in a record are shown, not redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, MessageText) for a in record.args):
            record.args = tuple(a.shown() if isinstance(a, MessageText) else a for a in record.args)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def setup_logging(config: LoggingConfig, *, stream: TextIO | None = None) -> None:
    """Send every log record at `config.level` or above to `stream` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = JsonFormatter() if config.format is LogFormat.JSON else KeyValueFormatter()
    handler.setFormatter(formatter)
    if config.show_short_message:
        handler.addFilter(ShowShortMessages())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level.name)
    logging.captureWarnings(True)
