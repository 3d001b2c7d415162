"""`opensmsc encode TEXT`: how a text goes out as SMS parts, in hex, or JSON.

It shows the alphabet `sms.choose_alphabet` picks (or the one forced), the data_coding,
how many parts `sms.segment.split` makes and, for each part, its UDH (decoded), its SAR values
and its short_message octets in hex (GSM 7-bit as the unpacked septets SMPP carries).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from opensmsc.cli.decode import HexError, parse_hex
from opensmsc.cli.describe import JsonValue, data_coding_meaning, hex_lines, udh_summary
from opensmsc.errors import OpensmscError
from opensmsc.sms import Alphabet, Encoding, Language, PortAddress, choose_alphabet, split

ALPHABETS = ("gsm7", "latin1", "ia5", "ucs2", "binary")
_UNITS = {Alphabet.GSM7: "septets", Alphabet.UCS2: "UTF-16 code units"}
CONCAT_METHODS = ("udh8", "udh16", "sar", "payload")


class UsageError(ValueError):
    """A command-line option that cannot be used; `str()` says why."""


@dataclass(frozen=True, slots=True)
class EncodeOptions:
    alphabet: str | None = None  # one of ALPHABETS; None: the cheapest that fits
    concat: str = "udh8"
    ports: tuple[int, int] | None = None  # (destination, originator)
    national: tuple[int, ...] = ()
    reference: int = 1
    max_parts: int = 255


def parse_ports(text: str) -> tuple[int, int]:
    """`DEST` or `DEST:ORIG` (decimal, 0..65535); the originator defaults to the destination."""
    destination, _, originator = text.partition(":")
    try:
        ports = (int(destination), int(originator or destination))
    except ValueError:
        raise UsageError(f"--port {text}: expected DEST or DEST:ORIG, decimal") from None
    if not all(0 <= port <= 0xFFFF for port in ports):
        raise UsageError(f"--port {text}: ports are 0..65535")
    return ports


def parse_languages(text: str) -> tuple[int, ...]:
    """`turkish,spanish` or `1,2`: TS 23.038 §6.2.1.2.4 national language ids."""
    ids: list[int] = []
    for word in filter(None, (item.strip() for item in text.split(","))):
        if word.isdigit():
            ids.append(int(word))
            continue
        try:
            ids.append(int(Language[word.upper()]))
        except KeyError:
            known = ", ".join(lang.name.lower() for lang in Language if lang)
            raise UsageError(f"--national {word}: unknown language; known: {known}") from None
    return tuple(ids)


def encode_report(text: str, options: EncodeOptions) -> dict[str, JsonValue]:
    """Everything `encode` prints, as data. Raises EncodingError, MessageTooLong, ValueError."""
    ports = None
    if options.ports is not None:
        destination, originator = options.ports
        ports = PortAddress(destination, originator, 16)  # IEI 0x05: what WAP and IMPS use
    if options.alphabet == "binary":
        encoding = Encoding(Alphabet.BINARY)
        message: str | bytes = _binary(text)
    else:
        force = Alphabet(options.alphabet) if options.alphabet else None
        encoding = choose_alphabet(text, allow_national=options.national, force=force)
        message = text
    segmented = split(
        message,
        encoding=encoding,
        concat=options.concat,  # type: ignore[arg-type]  # argparse restricts the choices
        reference=options.reference,
        ports=ports,
        max_parts=options.max_parts,
    )
    parts: list[JsonValue] = []
    for number, part in enumerate(segmented.parts, start=1):
        entry: dict[str, JsonValue] = {
            "part": number,
            "udh": part.udh.encode().hex() if part.udh else None,
            "udh_meaning": udh_summary(part.udh) if part.udh else None,
            "sar": None,
            "payload_octets": len(part.payload),
            "short_message": part.short_message.hex(),
            "short_message_octets": len(part.short_message),
        }
        if part.sar is not None:
            entry["sar"] = {
                "sar_msg_ref_num": part.sar.reference,
                "sar_total_segments": part.sar.total,
                "sar_segment_seqnum": part.sar.sequence,
            }
        parts.append(entry)
    chosen = segmented.encoding
    # What the part limits count (160 septets, 70 UTF-16 code units, 140 octets): an emoji is
    # one character but two UTF-16 code units, a GSM extension character two septets.
    units = sum(len(part.payload) for part in segmented.parts)
    if chosen.alphabet is Alphabet.UCS2:
        units //= 2
    return {
        "text": text,
        "characters": len(message),  # octets, for binary
        "units": units,
        "unit": _UNITS.get(chosen.alphabet, "octets"),
        "alphabet": chosen.alphabet.name,
        "single_shift": chosen.single_shift,
        "locking_shift": chosen.locking_shift,
        "data_coding": segmented.data_coding,
        "data_coding_meaning": data_coding_meaning(segmented.data_coding),
        "esm_class_udhi": any(part.udh is not None for part in segmented.parts),
        # A single part is not concatenated (unless message_payload was asked for, which is
        # how it is sent): no concat method to report.
        "concat": options.concat if len(parts) > 1 or options.concat == "payload" else None,
        "parts": parts,
    }


def _binary(text: str) -> bytes:
    try:
        return parse_hex([text])
    except HexError as exc:
        raise UsageError(f"--alphabet binary takes the message in hex: {exc}") from None


def render_text(report: dict[str, JsonValue]) -> str:
    """The people's view of `encode_report`."""
    alphabet = str(report["alphabet"])
    for label in ("single_shift", "locking_shift"):
        value = report[label]
        if isinstance(value, int) and value:
            alphabet += f" + {label.replace('_', ' ')} {Language(value).name.lower()}"
    parts = report["parts"]
    assert isinstance(parts, list)
    unit = "septets" if report["alphabet"] == "GSM7" else "octets"
    if report["alphabet"] == "BINARY":
        size = f"{report['characters']} octets of binary data"
    else:
        count = report["characters"]
        size = f"{count} character{'' if count == 1 else 's'}, {report['units']} {report['unit']}"
    concat = f" (concat {report['concat']})" if report["concat"] else ""
    lines = [
        f"message: {size}",
        f"alphabet: {alphabet}",
        f"data_coding: 0x{report['data_coding']:02X} ({report['data_coding_meaning']})",
        f"parts: {len(parts)}{concat}"
        + (", esm_class UDHI 0x40" if report["esm_class_udhi"] else ""),
    ]
    for part in parts:
        assert isinstance(part, dict)
        lines.append(f"part {part['part']}/{len(parts)}:")
        if part["udh"] is not None:
            lines.append(f"  udh: {_spaced(str(part['udh']))}  ({part['udh_meaning']})")
        sar = part["sar"]
        if isinstance(sar, dict):
            values = ", ".join(f"{key}={value}" for key, value in sar.items())
            lines.append(f"  sar tlvs: {values}")
        lines.append(
            f"  short_message: {part['short_message_octets']} octets, "
            f"payload {part['payload_octets']} {unit}"
        )
        lines.extend(f"    {line}" for line in hex_lines(bytes.fromhex(str(part["short_message"]))))
    return "\n".join(lines)


def _spaced(hex_text: str) -> str:
    return " ".join(hex_text[i : i + 2] for i in range(0, len(hex_text), 2))


def encode_command(words: Sequence[str], options: EncodeOptions, *, as_json: bool) -> int:
    """The `encode` verb: TEXT is the words joined by spaces, or stdin for "-"."""
    text = sys.stdin.read().rstrip("\n") if list(words) == ["-"] else " ".join(words)
    try:
        report = encode_report(text, options)
    except (OpensmscError, ValueError) as exc:
        print(f"opensmsc encode: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(render_text(report))
    return 0


def encode_main(
    words: Sequence[str],
    *,
    alphabet: str | None,
    concat: str,
    port: str | None,
    national: str,
    reference: int,
    max_parts: int,
    as_json: bool,
) -> int:
    """The `encode` verb from its command-line options; a bad option exits with status 2."""
    try:
        options = EncodeOptions(
            alphabet=alphabet,
            concat=concat,
            ports=parse_ports(port) if port else None,
            national=parse_languages(national),
            reference=reference,
            max_parts=max_parts,
        )
    except UsageError as exc:
        print(f"opensmsc encode: {exc}", file=sys.stderr)
        return 2
    return encode_command(words, options, as_json=as_json)
