"""User Data Header parse/build (TS 23.040 §9.2.3.24), with cited vectors tested both ways."""

from __future__ import annotations

import pytest

from opensmsc.errors import OpensmscError
from opensmsc.sms.udh import (
    Concat,
    Iei,
    InformationElement,
    PortAddress,
    UdhError,
    UserDataHeader,
    build_udh,
    parse_udh,
)

# (source, hex of the UDH, build_udh keyword arguments that give it)
VECTORS = [
    (
        "python-smpplib smpplib/tests/test_gsm.py test_make_parts_multiple, part 1",
        "05 00 03 42 02 01",
        {"concat": Concat(0x42, 2, 1)},
    ),
    (
        "python-smpplib smpplib/tests/test_gsm.py test_make_parts_multiple, part 2",
        "05 00 03 42 02 02",
        {"concat": Concat(0x42, 2, 2)},
    ),
    (
        "python-smpplib smpplib/tests/test_gsm.py test_make_parts_encoded, 3 parts",
        "05 00 03 42 03 03",
        {"concat": Concat(0x42, 3, 3)},
    ),
    (
        "osmocom libosmocore tests/sms/sms_test.c concatenated_part1_enc",
        "05 00 03 6f 02 01",
        {"concat": Concat(0x6F, 2, 1)},
    ),
    (
        "osmocom libosmocore tests/sms/sms_test.c concatenated_part2_enc",
        "05 00 03 6f 02 02",
        {"concat": Concat(0x6F, 2, 2)},
    ),
    (
        "TS 23.040 §9.2.3.24.8 16-bit reference concat (digest §4.5: 06 08 04 RH RL TT SS)",
        "06 08 04 12 34 03 02",
        {"concat": Concat(0x1234, 3, 2, reference_bits=16)},
    ),
    (
        "WAP push port header, digest §4.5 (dest 2948, source 9200)",
        "06 05 04 0B 84 23 F0",
        {"ports": PortAddress(2948, 9200)},
    ),
    (
        "WV CSP SMS binding, digest §4.5 / §5 (dest 3590)",
        "06 05 04 0E 06 00 00",
        {"ports": PortAddress(3590, 0)},
    ),
    (
        "TS 23.040 §9.2.3.24.3 8-bit application port addressing",
        "04 04 02 10 20",
        {"ports": PortAddress(0x10, 0x20, bits=8)},
    ),
    (
        "WAP push, concatenated: ports then 8-bit concat (the usual WAP push UDH)",
        "0B 05 04 0B 84 23 F0 00 03 A5 02 01",
        {"ports": PortAddress(2948, 9200), "concat": Concat(0xA5, 2, 1)},
    ),
    (
        "TS 23.040 §9.2.3.24.15 national single shift, Turkish (language 1)",
        "03 24 01 01",
        {"single_shift": 1},
    ),
    (
        "TS 23.040 §9.2.3.24.15/.16 concat + single and locking shift, Portuguese (3)",
        "0B 00 03 07 03 01 24 01 03 25 01 03",
        {"concat": Concat(7, 3, 1), "single_shift": 3, "locking_shift": 3},
    ),
]


@pytest.mark.parametrize(("source", "hex_udh", "fields"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_parses(source: str, hex_udh: str, fields: dict[str, object]) -> None:
    udh, rest = parse_udh(bytes.fromhex(hex_udh) + b"text")
    assert rest == b"text"
    assert udh.concat == fields.get("concat")
    assert udh.ports == fields.get("ports")
    assert udh.single_shift == fields.get("single_shift", 0)
    assert udh.locking_shift == fields.get("locking_shift", 0)


@pytest.mark.parametrize(("source", "hex_udh", "fields"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_builds(source: str, hex_udh: str, fields: dict[str, object]) -> None:
    udh = build_udh(**fields)  # type: ignore[arg-type]
    assert udh.encode() == bytes.fromhex(hex_udh)
    assert udh.size == len(bytes.fromhex(hex_udh))


def test_imps_port_is_3590() -> None:
    udh, _ = parse_udh(bytes.fromhex("06 05 04 0E 06 00 00"))
    assert udh.ports == PortAddress(destination=3590, originator=0, bits=16)


def test_unknown_ie_kept_raw_and_reencoded_unchanged() -> None:
    # 0x0A is EMS text formatting (digest §4.5); 0x70 a SIM toolkit security header.
    raw = bytes.fromhex("0E 00 03 01 02 01 0A 03 00 05 01 70 02 AB CD")
    udh, rest = parse_udh(raw)
    assert rest == b""
    assert udh.elements[1] == InformationElement(0x0A, bytes.fromhex("00 05 01"))
    assert udh.elements[2] == InformationElement(0x70, bytes.fromhex("AB CD"))
    assert udh.concat == Concat(1, 2, 1)
    assert udh.encode() == raw


def test_empty_udh_is_valid() -> None:
    udh, rest = parse_udh(b"\x00abc")
    assert udh == UserDataHeader(())
    assert rest == b"abc"
    assert udh.encode() == b"\x00"


def test_extra_elements_follow_the_known_ones() -> None:
    udh = build_udh(concat=Concat(1, 2, 2), extra=[InformationElement(0x0A, b"\x00\x01\x02")])
    assert udh.encode() == bytes.fromhex("0A 00 03 01 02 02 0A 03 00 01 02")


@pytest.mark.parametrize(
    ("hex_udh", "why"),
    [
        ("05 00 03 01 00 01", "total 0"),
        ("05 00 03 01 02 00", "sequence 0"),
        ("05 00 03 01 02 03", "sequence beyond total"),
        ("04 00 02 01 02", "IEDL 2 for an 8-bit concat"),
        ("05 08 03 01 02 01", "IEDL 3 for a 16-bit concat"),
    ],
)
def test_unusable_concat_ie_is_ignored_but_kept(hex_udh: str, why: str) -> None:
    # TS 23.040 §9.2.3.24.1: the receiving entity ignores such an IE.
    raw = bytes.fromhex(hex_udh)
    udh, _ = parse_udh(raw)
    assert udh.concat is None, why
    assert udh.encode() == raw


def test_last_occurrence_of_a_repeated_ie_wins() -> None:
    # TS 23.040 §9.2.3.24: with a repeated IE the last occurrence is used.
    udh, _ = parse_udh(bytes.fromhex("0A 00 03 01 02 01 00 03 09 03 02"))
    assert udh.concat == Concat(9, 3, 2)
    udh, _ = parse_udh(bytes.fromhex("06 24 01 01 24 01 03"))
    assert udh.single_shift == 3


@pytest.mark.parametrize(
    ("hex_data", "offset"),
    [
        ("", 0),  # no UDHL octet
        ("05 00 03 01", 0),  # UDHL longer than the data
        ("06 00 03 01 02 01 00", 6),  # one octet left: IEI without IEDL
        ("05 00 04 01 02 01", 1),  # IE overrunning the UDHL
        ("03 00 05 01 02 01", 1),  # IE overrunning the UDHL (data would hold it)
    ],
)
def test_broken_structure_raises_udh_error(hex_data: str, offset: int) -> None:
    with pytest.raises(UdhError) as info:
        parse_udh(bytes.fromhex(hex_data))
    assert isinstance(info.value, OpensmscError)
    assert info.value.offset == offset


def test_iei_enum_values() -> None:
    assert (Iei.CONCAT_8BIT, Iei.PORT_8BIT, Iei.PORT_16BIT, Iei.CONCAT_16BIT) == (0, 4, 5, 8)
    assert (Iei.NATIONAL_SINGLE_SHIFT, Iei.NATIONAL_LOCKING_SHIFT) == (0x24, 0x25)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Concat(256, 2, 1),
        lambda: Concat(0x10000, 2, 1, reference_bits=16),
        lambda: Concat(1, 0, 0),
        lambda: Concat(1, 2, 3),
        lambda: Concat(1, 256, 1),
        lambda: Concat(1, 2, 1, reference_bits=12),
        lambda: PortAddress(256, 0, bits=8),
        lambda: PortAddress(0x10000, 0),
        lambda: InformationElement(0x100, b""),
        lambda: InformationElement(0x0A, bytes(256)),
    ],
)
def test_invalid_values_are_refused_at_construction(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_udh_over_255_octets_cannot_encode() -> None:
    udh = UserDataHeader(
        (InformationElement(0x70, bytes(200)), InformationElement(0x71, bytes(60)))
    )
    with pytest.raises(ValueError):
        udh.encode()
