"""Per-PDU-class field layouts, and the straight-line encoders and decoders generated from them.

What this is for: speed. At import, each PDU class's dataclass fields (with the wire type in
their metadata, see pdu.py) become a layout table, and from that table a decoder and an encoder
are generated as plain Python source (as `dataclasses` itself does for `__init__`): one pass
over the frame (one match of a pattern generated from the layout for the fields before the
short_message or TLVs when two or more are C-strings; else `str.find` for a C-string and
indexing for integers), one `%` format for the encoding, and plain slot stores into a builder
twin of the frozen dataclass (_frozen.py). `generated_source(cls)` shows the code.

What it is not: the rules. A generated decoder accepts only a perfectly formed frame and raises
`Slow` (or lets IndexError escape) at the first surprise; a generated encoder hands anything
unusual to the careful encoder. codec.py then applies strict or lenient rules and picks the
exact command_status. PDUs with lists (submit_multi, submit_multi_resp) use only the careful
path.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from opensmsc.smpp._frozen import builder_class
from opensmsc.smpp.fields import (
    HEADER,
    HEADER_SIZE,
    METADATA_KEY,
    CString,
    FieldType,
    Integer,
    ShortMessage,
    TlvList,
)
from opensmsc.smpp.pdu import PDU_CLASSES, Pdu, Response
from opensmsc.smpp.tlv import EMPTY_TLVS, decode_tlvs, encode_tlvs

Layout = tuple[tuple[str, FieldType], ...]


class Slow(Exception):
    """Internal: the generated decoder met something it does not handle."""


def layout_of(cls: type[Pdu]) -> Layout:
    """The wire fields of `cls`, in order (command_status, a header field, excluded)."""
    return tuple(
        (f.name, f.metadata[METADATA_KEY])
        for f in dataclasses.fields(cls)
        if METADATA_KEY in f.metadata
    )


LAYOUTS: dict[type[Pdu], Layout] = {cls: layout_of(cls) for cls in PDU_CLASSES.values()}
_DEFAULTS: dict[type[Pdu], tuple[tuple[str, object], ...]] = {
    cls: tuple((f.name, f.default) for f in dataclasses.fields(cls) if f.name != "command_status")
    for cls in PDU_CLASSES.values()
}


def is_default(pdu: Pdu) -> bool:
    """True when every body field of `pdu` has its default value (a header-only PDU)."""
    return all(getattr(pdu, name) == default for name, default in _DEFAULTS[type(pdu)])


def _supported(layout: Layout) -> bool:
    return all(
        isinstance(t, CString | ShortMessage | TlvList) or (isinstance(t, Integer) and t.size == 1)
        for _, t in layout
    )


def _regex_prefix(layout: Layout) -> int:
    """How many leading fields the generated pattern reads: those before the short_message or
    the TLVs, when at least two of them are C-strings (for one, a find is cheaper)."""
    count = 0
    for _, ftype in layout:
        if isinstance(ftype, ShortMessage | TlvList):
            break
        count += 1
    cstrings = sum(isinstance(t, CString) for _, t in layout[:count])
    return count if cstrings >= 2 else 0


def _pattern(layout: Layout) -> re.Pattern[str] | None:
    """The pattern for the first `_regex_prefix(layout)` fields, on the latin-1 text of a
    frame from the end of the header: a C-string is up to max_length - 1 non-NUL characters
    and its NUL (exactly the find-based rule), a one-octet integer any one character."""
    prefix = _regex_prefix(layout)
    if not prefix:
        return None
    parts = [
        f"([^\\0]{{0,{t.max_length - 1}}})\\0" if isinstance(t, CString) else "(.)"
        for _, t in layout[:prefix]
    ]
    return re.compile("".join(parts), re.DOTALL)


def _decoder_source(cls: type[Pdu], layout: Layout) -> str:
    prefix = _regex_prefix(layout)
    lines = ["def decode(buf, status):", "    end = len(buf)"]
    if not prefix:
        lines.append(f"    pos = {HEADER_SIZE}")
    if issubclass(cls, Response) and layout:
        lines.append("    if status: raise Slow  # error responses: body may be absent")
    if prefix:
        # Latin-1 maps octets 1:1 to code points: one decode of the frame, then one match of
        # a pattern generated from the layout reads every field up to the short_message (or
        # the TLVs) in C, where a find and a slice per C-string cost a dozen bytecodes each.
        lines += [
            "    text = buf.decode('latin-1')",
            f"    m = match(text, {HEADER_SIZE})",
            "    if m is None: raise Slow  # a C-string too long or unterminated, or too short",
            f"    {', '.join(f'v{i}' for i in range(prefix))}, = m.groups()",
            "    pos = m.end()",
        ]
        for i, (_, ftype) in enumerate(layout[:prefix]):
            if isinstance(ftype, Integer):
                lines.append(f"    v{i} = ord(v{i})")
    elif any(isinstance(t, CString) for _, t in layout):
        # A lone C-string (message_id): a find and a slice of the latin-1 text.
        lines.append("    text = buf.decode('latin-1')")
        lines.append("    find = text.find")
    pending_ints: list[str] = []

    def flush_ints() -> None:
        # A run of one-octet integers: plain indexing, one position update.
        for k, var in enumerate(pending_ints):
            lines.append(f"    {var} = buf[pos + {k}]" if k else f"    {var} = buf[pos]")
        if pending_ints:
            lines.append(f"    pos += {len(pending_ints)}")
        pending_ints.clear()

    has_tlvs = False
    for i, (name, ftype) in enumerate(layout):
        var = f"v{i}"
        if i < prefix:
            continue  # read by the pattern
        if isinstance(ftype, Integer):
            pending_ints.append(var)
            continue
        flush_ints()
        if isinstance(ftype, CString):
            lines += [
                "    j = find('\\0', pos)",
                f"    if not 0 <= j - pos < {ftype.max_length}: raise Slow  # {name}",
                f"    {var} = text[pos:j]",
                "    pos = j + 1",
            ]
        elif isinstance(ftype, ShortMessage):
            lines += [
                "    n = buf[pos]",
                f"    {var} = buf[pos + 1:pos + 1 + n]",
                "    pos += 1 + n",
                "    if pos > end: raise Slow  # sm_length past the end",
            ]
        else:
            has_tlvs = True
            lines.append(f"    {var} = decode_tlvs(buf, pos, end, True) if pos < end else EMPTY")
    flush_ints()
    if not has_tlvs:
        lines.append("    if pos != end: raise Slow  # trailing octets")
    # Built as a mutable twin of `cls` with plain slot stores, then given its real class
    # (_frozen.py): a third of the cost of the frozen __init__ or of slot descriptor calls.
    lines.append("    o = new(Builder)")
    if issubclass(cls, Response):
        lines.append("    o.command_status = status")
    lines += [f"    o.{name} = v{i}" for i, (name, _) in enumerate(layout)]
    lines += ["    o.__class__ = cls", "    return o"]
    return "\n".join(lines) + "\n"


def _encoder_source(cls: type[Pdu], layout: Layout) -> str:
    is_response = issubclass(cls, Response)
    lines = ["def encode(p, seq):"]
    status = "0"
    if is_response:
        lines.append("    status = p.command_status")
        if layout:
            lines.append("    if status: return careful(p, seq)  # maybe header-only")
        status = "status"
    if not layout:
        lines.append(f"    return pack({HEADER_SIZE}, {cls.command_id:#x}, {status}, seq)")
        return "\n".join(lines) + "\n"
    fmt: list[str] = []
    args: list[str] = []
    checks: list[str] = []
    tail: list[str] = []
    has_tlvs = False
    for name, ftype in layout:
        if isinstance(ftype, CString):
            fmt.append("%s\\0")
            args.append(f"p.{name}")
        elif isinstance(ftype, Integer):
            fmt.append("%c")
            args.append(f"p.{name}")
        elif isinstance(ftype, ShortMessage):
            lines.append(f"    sm = p.{name}")
            checks.append("len(sm) > 255")
            fmt.append("%c")
            args.append("len(sm)")
            tail.append("sm")
        else:
            lines.append(f"    t = p.{name}")
            has_tlvs = True
    if checks:
        lines.append(f"    if {' or '.join(checks)}: return careful(p, seq)  # raises")
    if fmt == ["%s\\0"]:  # a lone C-string (message_id): no format needed
        lines.append(f"    body = {args[0]}.encode('latin-1') + b'\\0'")
    else:
        lines.append(f"    body = ('{''.join(fmt)}' % ({', '.join(args)},)).encode('latin-1')")
    if tail:
        lines.append(f"    body += {' + '.join(tail)}")
    if has_tlvs:
        lines.append("    if t: body += encode_tlvs(t)")
    lines.append(
        f"    return pack({HEADER_SIZE} + len(body), {cls.command_id:#x}, {status}, seq) + body"
    )
    return "\n".join(lines) + "\n"


def generated_source(cls: type[Pdu]) -> str:
    """The generated decoder and encoder of `cls`, for reading and debugging."""
    layout = LAYOUTS[cls]
    if not _supported(layout):
        return f"# {cls.__name__}: careful path only\n"
    return _decoder_source(cls, layout) + "\n" + _encoder_source(cls, layout)


def _build(
    careful_encoder: Callable[[Pdu, int], bytes],
) -> tuple[
    dict[type[Pdu], Callable[[bytes, int], Pdu]], dict[type[Pdu], Callable[[Pdu, int], bytes]]
]:
    decoders: dict[type[Pdu], Callable[[bytes, int], Pdu]] = {}
    encoders: dict[type[Pdu], Callable[[Pdu, int], bytes]] = {}
    for cls, layout in LAYOUTS.items():
        if not _supported(layout):
            continue
        namespace: dict[str, object] = {
            "Slow": Slow,
            "EMPTY": EMPTY_TLVS,
            "decode_tlvs": decode_tlvs,
            "encode_tlvs": encode_tlvs,
            "new": object.__new__,
            "cls": cls,
            "pack": HEADER.pack,
            "careful": careful_encoder,
            "Builder": builder_class(cls),
            "match": pattern.match if (pattern := _pattern(layout)) else None,
        }
        exec(compile(_decoder_source(cls, layout), f"<decode {cls.__name__}>", "exec"), namespace)
        exec(compile(_encoder_source(cls, layout), f"<encode {cls.__name__}>", "exec"), namespace)
        decoders[cls] = namespace["decode"]  # type: ignore[assignment]
        encoders[cls] = namespace["encode"]  # type: ignore[assignment]
    return decoders, encoders


FAST_DECODERS: dict[type[Pdu], Callable[[bytes, int], Pdu]] = {}
FAST_ENCODERS: dict[type[Pdu], Callable[[Pdu, int], bytes]] = {}


def install(careful_encoder: Callable[[Pdu, int], bytes]) -> None:
    """Generate the fast paths; codec.py calls this once, handing over its careful encoder."""
    decoders, encoders = _build(careful_encoder)
    FAST_DECODERS.update(decoders)
    FAST_ENCODERS.update(encoders)


__all__ = ["LAYOUTS", "Layout", "Slow", "generated_source", "install", "is_default", "layout_of"]
