"""`opensmsc decode HEX...`: SMPP PDUs in hex to a field-by-field dump, or JSON.

The arguments are joined into one byte stream (so a PDU may be split over several arguments and
several PDUs may share one), then framed with the codec's `FrameBuffer` and decoded one frame at
a time. A bad frame is reported with its command_status name and the next frame is still read;
a framing error ends the stream. The exit status is 1 if anything was wrong, else 0.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from opensmsc.cli.describe import JsonValue, Row, body_rows, command_name, header_rows, status_name
from opensmsc.smpp import DEFAULT_MAX_LENGTH, FrameBuffer, FramingError, PduError, decode

_HEX_NOISE = re.compile(r"0x|[\s:,.\-_]", re.IGNORECASE)


class HexError(ValueError):
    """The input is not hex: `str()` says where."""


def parse_hex(chunks: Sequence[str]) -> bytes:
    """Hex digits from one or more strings; spaces, colons, commas, dashes and 0x are ignored.

    Raises HexError for any other character or an odd number of digits.
    """
    digits = _HEX_NOISE.sub("", "".join(chunks))
    bad = re.search(r"[^0-9a-fA-F]", digits)
    if bad:
        raise HexError(f"not a hex digit: {bad.group()!r}")
    if len(digits) % 2:
        raise HexError(f"odd number of hex digits ({len(digits)})")
    return bytes.fromhex(digits)


@dataclass(frozen=True, slots=True)
class Dump:
    """One frame: its header and body rows, or the error that stopped its decoding."""

    index: int
    offset: int
    frame: bytes
    rows: tuple[Row, ...]
    error: str = ""
    error_status: int | None = None

    def to_json(self) -> dict[str, JsonValue]:
        command_id = int.from_bytes(self.frame[4:8], "big")
        status = int.from_bytes(self.frame[8:12], "big")
        out: dict[str, JsonValue] = {
            "index": self.index,
            "offset": self.offset,
            "hex": self.frame.hex(),
            "command": command_name(command_id),
            "command_id": command_id,
            "command_status": status,
            "status": status_name(status),
            "sequence_number": int.from_bytes(self.frame[12:16], "big"),
            "fields": [row.to_json() for row in self.rows],
        }
        if self.error:
            out["error"] = self.error
            out["error_status"] = self.error_status
            out["error_status_name"] = (
                status_name(self.error_status) if self.error_status is not None else None
            )
        return out


def decode_stream(data: bytes, *, strict: bool) -> tuple[list[Dump], str]:
    """Every frame of `data`, decoded; the second value is a stream error ("" if none)."""
    buffer = FrameBuffer(max_length=max(DEFAULT_MAX_LENGTH, len(data)))
    try:
        frames = buffer.feed(data)
    except FramingError as exc:
        frames, trouble = exc.frames, f"framing error: {exc}"
    else:
        trouble = ""
        if buffer.buffered:
            trouble = _incomplete(data[len(data) - buffer.buffered :])
    dumps: list[Dump] = []
    offset = 0
    for index, frame in enumerate(frames, start=1):
        dumps.append(decode_frame(frame, index=index, offset=offset, strict=strict))
        offset += len(frame)
    return dumps, trouble


def _incomplete(rest: bytes) -> str:
    if len(rest) < 4:
        return f"{len(rest)} trailing octets: not even a command_length"
    length = int.from_bytes(rest[:4], "big")
    return f"incomplete PDU: command_length {length}, only {len(rest)} octets given"


def decode_frame(frame: bytes, *, index: int, offset: int, strict: bool) -> Dump:
    """One frame to rows; a PduError becomes the dump's error, header rows still shown."""
    command_id = int.from_bytes(frame[4:8], "big")
    status = int.from_bytes(frame[8:12], "big")
    sequence_number = int.from_bytes(frame[12:16], "big")
    header = header_rows(len(frame), command_id, status, sequence_number)
    try:
        decoded = decode(frame, strict=strict)
    except PduError as exc:
        return Dump(index, offset, frame, tuple(header), exc.message or str(exc), exc.status)
    return Dump(index, offset, frame, (*header, *body_rows(decoded.pdu)))


def render_text(dump: Dump) -> str:
    """The analyser view: a title line, then `name  value  meaning`, children indented."""
    command_id = int.from_bytes(dump.frame[4:8], "big")
    sequence_number = int.from_bytes(dump.frame[12:16], "big")
    title = (
        f"PDU {dump.index}: {command_name(command_id)} seq={sequence_number}, "
        f"{len(dump.frame)} octets at offset {dump.offset}"
    )
    lines = [title]
    for row in dump.rows:
        lines.extend(_row_lines(row, 1))
    if dump.error:
        status = status_name(dump.error_status) if dump.error_status is not None else "?"
        lines.append(f"  error: {dump.error} ({status})")
    return "\n".join(lines)


_NAME_WIDTH = 28


def _row_lines(row: Row, depth: int) -> list[str]:
    indent = "  " * depth
    name = f"{indent}{row.name}".ljust(_NAME_WIDTH)
    first, *more = row.shown.split("\n")
    if first:
        line = f"{name} {first}" + (f"  ({row.meaning})" if row.meaning else "")
    else:
        line = f"{name} {row.meaning}".rstrip()
    lines = [line, *(" " * (len(name) + 1) + extra for extra in more)]
    for child in row.children:
        lines.extend(_row_lines(child, depth + 1))
    return lines


def decode_command(hex_args: Sequence[str], *, as_json: bool, lenient: bool) -> int:
    """The `decode` verb. Reads stdin when no argument (or "-") is given."""
    chunks = list(hex_args)
    if not chunks or chunks == ["-"]:
        chunks = [sys.stdin.read()]
    try:
        data = parse_hex(chunks)
    except HexError as exc:
        print(f"opensmsc decode: {exc}", file=sys.stderr)
        return 1
    if not data:
        print("opensmsc decode: no PDU given", file=sys.stderr)
        return 1
    dumps, trouble = decode_stream(data, strict=not lenient)
    failed = bool(trouble) or any(dump.error for dump in dumps)
    if as_json:
        document: dict[str, JsonValue] = {
            "pdus": [dump.to_json() for dump in dumps],
            "error": trouble or None,
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        if dumps:
            print("\n\n".join(render_text(dump) for dump in dumps))
        if trouble:
            print(f"error: {trouble}", file=sys.stderr)
    return 1 if failed else 0
