"""The CDR file (app/cdr.py): one JSON line per final message, the text only when shown, the
lines of one loop turn in one write, rotation by size keeping `keep` files, and a `[cdr]`
section checked by the configuration's rules."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opensmsc.app.cdr import CdrWriter, cdr_path
from opensmsc.config import CdrConfig, ConfigError, loads
from opensmsc.engine import trail
from opensmsc.smpp import MessageState
from opensmsc.store import Address, ConcatInfo, StoredMessage

T0 = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def _record(message_id: str, **fields: object) -> StoredMessage:
    values: dict[str, object] = {
        "message_id": message_id,
        "system_id": "esme1",
        "source": Address(5, 0, "ACME"),
        "destination": Address(1, 1, "447700900123"),
        "short_message": "héllo".encode("latin-1"),
        "data_coding": 3,
        "submitted_at": T0,
        "due_at": T0,
        "expires_at": T0 + timedelta(days=1),
        "trace_id": "ab" * 16,
    }
    values.update(fields)
    return StoredMessage(**values)  # type: ignore[arg-type]


def _ended(record: StoredMessage, state: MessageState = MessageState.DELIVERED) -> trail.TrailEvent:
    return trail.final(
        record, state, T0 + timedelta(seconds=2), error=None, route="network", attempted=True
    )


async def test_a_line_per_final_message_redacted_unless_shown(tmp_path: Path) -> None:
    hidden = CdrWriter(tmp_path / "a.jsonl", rotate_bytes=0, keep=3)
    shown = CdrWriter(tmp_path / "b.jsonl", rotate_bytes=0, keep=3, show_text=True)
    for writer in (hidden, shown):
        writer.open()
        part = _record("m2", concat=ConcatInfo(group_id="g", reference=1, total=3, seq=2))
        writer.final(_record("m1"), _ended(_record("m1")))
        writer.final(part, _ended(part, MessageState.UNDELIVERABLE))
        await asyncio.sleep(0)  # the turn's lines are written together
        assert writer.written == 2
        writer.close()
    lines = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert lines[0] == {
        "id": "m1",
        "trace_id": "ab" * 16,
        "direction": "MT",
        "account": "esme1",
        "source": "ACME",
        "destination": "447700900123",
        "state": "DELIVERED",
        "error": None,
        "parts": 1,
        "part": 1,
        "route": "network",
        "upstream_id": None,
        "attempts": 1,
        "submitted_at": "2026-12-07T18:00:00Z",
        "done_at": "2026-12-07T18:00:02Z",
        "latency_ms": 2000.0,
        "by": None,
        "text": None,
        "text_octets": 5,
    }
    assert (lines[1]["parts"], lines[1]["part"], lines[1]["state"]) == (3, 2, "UNDELIVERABLE")
    texts = [json.loads(x)["text"] for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert texts == ["héllo", "héllo"]


async def test_the_file_rotates_by_size_and_keeps_keep_files(tmp_path: Path) -> None:
    path = tmp_path / "cdr.jsonl"
    writer = CdrWriter(path, rotate_bytes=1000, keep=2)
    writer.open()
    for n in range(40):
        record = _record(f"m{n}")
        writer.final(record, _ended(record))
        await asyncio.sleep(0)  # one line per write: rotation is checked after each
    writer.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["cdr.jsonl", "cdr.jsonl.1", "cdr.jsonl.2"]
    assert all(p.stat().st_size < 1000 + 500 for p in tmp_path.iterdir())
    newest = [json.loads(x)["id"] for x in path.read_text().splitlines()]
    assert newest[-1] == "m39"


def test_cdr_section_and_its_file(tmp_path: Path) -> None:
    config = loads('[cdr]\nenabled = true\nfile = "cdr/out.jsonl"\nkeep = 3\n')
    assert config.cdr == CdrConfig(enabled=True, file="cdr/out.jsonl", keep=3)
    assert cdr_path(config.cdr, tmp_path) == tmp_path / "cdr" / "out.jsonl"
    assert cdr_path(CdrConfig(file="/var/log/x.jsonl"), tmp_path) == Path("/var/log/x.jsonl")
    for text, expected in (
        ("[cdr]\nenabled = true\nkeep = 0\n", ":3: cdr.keep: expected an integer from 1 to 1000"),
        ("[cdr]\nrotate_byte = 5\n", ":2: cdr.rotate_byte: unknown key"),
        ('[cdr]\nfile = ""\n', ":2: cdr.file: expected a string of 1 to 4096 characters"),
    ):
        try:
            loads(text)
        except ConfigError as exc:
            assert expected in str(exc), str(exc)
        else:
            raise AssertionError(f"a bad [cdr] was taken: {text!r}")
