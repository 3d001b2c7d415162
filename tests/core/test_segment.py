"""choose_alphabet, split and Reassembler (digest §4.4, §4.5; TS 23.040 §9.2.3.24.1)."""

from __future__ import annotations

import pytest

from opensmsc.sms import gsm7
from opensmsc.sms.dcs import Alphabet, MessageClass, decode_text
from opensmsc.sms.errors import EncodingError
from opensmsc.sms.segment import (
    ConcatMethod,
    Encoding,
    ExpiryReason,
    MessageTooLong,
    Part,
    Reassembler,
    Segmented,
    choose_alphabet,
    split,
)
from opensmsc.sms.udh import Concat, PortAddress, UserDataHeader, parse_udh

TURKISH, SPANISH, PORTUGUESE = 1, 2, 3


def joined_text(segmented: Segmented) -> str:
    enc = segmented.encoding
    return "".join(
        decode_text(enc.data_coding, p.payload, enc.single_shift, enc.locking_shift)
        for p in segmented.parts
    )


# --- choose_alphabet ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@", Encoding(Alphabet.GSM7)),  # python-smpplib test_make_parts_single
        ("Ая", Encoding(Alphabet.UCS2)),  # python-smpplib test_make_parts_single: UCS2 fallback
        ("^{}€", Encoding(Alphabet.GSM7)),  # extension table, digest §4.1
        ("é", Encoding(Alphabet.GSM7)),  # basic table 0x05
        ("Işık", Encoding(Alphabet.UCS2)),  # no national tables allowed by default
        ("😀", Encoding(Alphabet.UCS2)),
        ("", Encoding(Alphabet.GSM7)),
    ],
)
def test_choose_alphabet_default(text: str, expected: Encoding) -> None:
    assert choose_alphabet(text) == expected


def test_national_single_shift_when_allowed() -> None:
    # ş and ı are in the Turkish single shift table (TS 23.038 §A.2.1).
    assert choose_alphabet("Işık", allow_national=(TURKISH,)) == Encoding(
        Alphabet.GSM7, single_shift=TURKISH
    )


def test_national_picks_the_language_that_fits() -> None:
    # ó and á are in the Spanish single shift table (§A.2.2), not in the Turkish one (§A.2.1).
    chosen = choose_alphabet("canción está", allow_national=(TURKISH, SPANISH))
    assert chosen == Encoding(Alphabet.GSM7, single_shift=SPANISH)


def test_locking_shift_only_when_single_shift_cannot() -> None:
    # 'ª' is only in the Portuguese locking shift table (§A.3.3).
    assert choose_alphabet("1ª", allow_national=(PORTUGUESE,)) == Encoding(
        Alphabet.GSM7, single_shift=PORTUGUESE, locking_shift=PORTUGUESE
    )


def test_locking_shift_when_it_saves_parts() -> None:
    # 80 × 'ş': single shift needs 160 septets (2 parts, 155 fit one SMS with one shift IE);
    # the Turkish locking table has ş at 0x1D, so 80 septets and one part.
    text = "ş" * 80
    assert choose_alphabet(text, allow_national=(TURKISH,)) == Encoding(
        Alphabet.GSM7, single_shift=TURKISH, locking_shift=TURKISH
    )
    assert choose_alphabet("ş" * 10, allow_national=(TURKISH,)) == Encoding(
        Alphabet.GSM7, single_shift=TURKISH
    )


def test_spanish_has_no_locking_table_and_is_skipped() -> None:
    assert choose_alphabet("Ая", allow_national=(SPANISH, 99)) == Encoding(Alphabet.UCS2)


@pytest.mark.parametrize(
    ("text", "force", "data_coding"),
    [
        ("é", Alphabet.LATIN1, 0x03),  # python-smpplib test_make_parts_single
        ("abc", Alphabet.IA5, 0x01),
        ("abc", Alphabet.UCS2, 0x08),
        ("Привет", Alphabet.CYRILLIC, 0x06),
        ("\x00\xff", Alphabet.BINARY, 0x04),
    ],
)
def test_force(text: str, force: Alphabet, data_coding: int) -> None:
    encoding = choose_alphabet(text, force=force)
    assert encoding.alphabet is force
    assert encoding.data_coding == data_coding


@pytest.mark.parametrize(
    ("text", "force"),
    [
        ("Ая", Alphabet.LATIN1),
        ("é", Alphabet.IA5),
        ("Ая", Alphabet.GSM7),
        ("\ud800", Alphabet.UCS2),
    ],
)
def test_force_refuses_text_that_does_not_fit(text: str, force: Alphabet) -> None:
    with pytest.raises(EncodingError):
        choose_alphabet(text, force=force)


def test_data_coding_with_message_class() -> None:
    assert Encoding(Alphabet.GSM7, message_class=MessageClass.CLASS_0).data_coding == 0xF0
    assert Encoding(Alphabet.UCS2, message_class=MessageClass.CLASS_0).data_coding == 0x18


# --- split: cited vectors -------------------------------------------------------------------


def test_smpplib_two_parts_of_153_at_signs() -> None:
    # python-smpplib smpplib/tests/test_gsm.py test_make_parts_multiple: '@' * 306, ref 0x42.
    segmented = split("@" * 306, reference=0x42)
    assert [p.short_message for p in segmented.parts] == [
        bytes.fromhex("05 00 03 42 02 01") + b"\x00" * 153,
        bytes.fromhex("05 00 03 42 02 02") + b"\x00" * 153,
    ]
    assert segmented.data_coding == 0x00
    assert all(p.has_udh for p in segmented.parts)


def test_smpplib_single_parts() -> None:
    # python-smpplib test_make_parts_single.
    assert [p.short_message for p in split("@", reference=0).parts] == [b"\x00"]
    ucs2 = split("Ая", reference=0)
    assert [p.short_message for p in ucs2.parts] == [b"\x04\x10\x04O"]
    assert ucs2.data_coding == 0x08
    latin1 = split("é", encoding=Encoding(Alphabet.LATIN1), reference=0)
    assert [p.short_message for p in latin1.parts] == [b"\xe9"]
    assert latin1.data_coding == 0x03


def test_smpplib_cyrillic_needs_two_ucs2_parts() -> None:
    # python-smpplib test_part_number: 'Привет мир!\n' * 10 (120 UCS2 units) → 2 parts.
    segmented = split("Привет мир!\n" * 10, reference=1)
    assert segmented.encoding.alphabet is Alphabet.UCS2
    assert len(segmented.parts) == 2


def test_smpplib_make_parts_encoded_udh() -> None:
    # python-smpplib test_make_parts_encoded: b'12345' in 3 parts has UDHs 05 00 03 42 03 0n.
    # (smpplib cuts 2 octets a part on request; we cut by the SMS size, so 3 parts need more.)
    segmented = split(bytes(300), reference=0x42)
    assert [p.udh.encode() for p in segmented.parts if p.udh] == [
        bytes.fromhex("05 00 03 42 03 01"),
        bytes.fromhex("05 00 03 42 03 02"),
        bytes.fromhex("05 00 03 42 03 03"),
    ]
    assert [len(p.payload) for p in segmented.parts] == [134, 134, 32]


OSMO_TEXT = (
    "this is a testmessage. this is a testmessage. this is a testmessage. this is a testmessage. "
    "this is a testmessage. this is a testmessage. cut here .....: this is a second testmessage."
    " end here."
)
OSMO_PART1 = bytes.fromhex(
    "e8 e8 f4 1c 94 9e 83 c2  20 7a 79 4e 6f 97 e7 f3  f0 b9 ec 02 d1 d1 e9 39"
    "28 3d 07 85 41 f4 f2 9c  de 2e cf e7 e1 73 d9 05  a2 a3 d3 73 50 7a 0e 0a"
    "83 e8 e5 39 bd 5d 9e cf  c3 e7 b2 0b 44 47 a7 e7  a0 f4 1c 14 06 d1 cb 73"
    "7a bb 3c 9f 87 cf 65 17  88 8e 4e cf 41 e9 39 28  0c a2 97 e7 f4 76 79 3e"
    "0f 9f cb 2e 10 1d 9d 9e  83 d2 73 50 18 44 2f cf  e9 ed f2 7c 1e 3e 97 5d"
    "a0 71 9d 0e 42 97 e5 65  90 cb e5 72 b9 74"
)
OSMO_PART2 = bytes.fromhex(
    "40 74 74 7a 0e 4a cf 41  61 d0 bc 3c 7e bb c9 20  7a 79 4e 6f 97 e7 f3 f0"
    "b9 ec 02 95 dd 64 10 ba  2c 2f bb 00"
)


def test_osmocom_concatenated_example() -> None:
    # osmocom libosmocore tests/sms/sms_test.c: concatenated_text splits into 153 + 40 septets
    # with UDH 05 00 03 6f 02 0n; packed with 1 fill bit (TS 23.040 §9.2.3.24) the septets give
    # concatenated_part1_enc / concatenated_part2_enc.
    segmented = split(OSMO_TEXT, reference=0x6F)
    part1, part2 = segmented.parts
    assert part1.udh is not None and part1.udh.encode() == bytes.fromhex("05 00 03 6f 02 01")
    assert part2.udh is not None and part2.udh.encode() == bytes.fromhex("05 00 03 6f 02 02")
    assert len(part1.payload) == 153 and len(part2.payload) == 40
    assert gsm7.decode(part1.payload).endswith("cut here .....:")
    assert gsm7.decode(part2.payload) == " this is a second testmessage. end here."
    assert gsm7.pack(part1.payload, fill_bits=1) == OSMO_PART1
    assert gsm7.pack(part2.payload, fill_bits=1) == OSMO_PART2


# --- split: sizes (digest §4.4) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("alphabet", "method", "single", "per_part", "unit_octets"),
    [
        (Alphabet.GSM7, "udh8", 160, 153, 1),
        (Alphabet.GSM7, "udh16", 160, 152, 1),
        (Alphabet.GSM7, "sar", 160, 152, 1),  # sized for the SMSC's 16-bit concat IE
        (Alphabet.BINARY, "udh8", 140, 134, 1),
        (Alphabet.BINARY, "udh16", 140, 133, 1),
        (Alphabet.LATIN1, "udh8", 140, 134, 1),
        (Alphabet.UCS2, "udh8", 70, 67, 2),
        (Alphabet.UCS2, "udh16", 70, 66, 2),
    ],
)
def test_segment_sizes(
    alphabet: Alphabet, method: str, single: int, per_part: int, unit_octets: int
) -> None:
    encoding = Encoding(alphabet)
    fits = split("a" * single, encoding=encoding, concat=method, reference=1)  # type: ignore[arg-type]
    assert len(fits.parts) == 1
    assert fits.parts[0].udh is None and fits.parts[0].sar is None
    over = split("a" * (single + 1), encoding=encoding, concat=method, reference=1)  # type: ignore[arg-type]
    assert len(over.parts) == 2
    assert len(over.parts[0].payload) == per_part * unit_octets


@pytest.mark.parametrize(
    ("single_shift", "locking_shift", "single", "per_part"),
    [(TURKISH, 0, 155, 149), (TURKISH, TURKISH, 152, 146)],
)
def test_segment_sizes_with_shift_tables(
    single_shift: int, locking_shift: int, single: int, per_part: int
) -> None:
    # digest §4.4: one shift IE → 155 alone, 149 with concat; both → 146 with concat.
    encoding = Encoding(Alphabet.GSM7, single_shift, locking_shift)
    fits = split("a" * single, encoding=encoding, reference=1)
    assert len(fits.parts) == 1
    assert fits.parts[0].udh is not None and fits.parts[0].udh.concat is None
    assert fits.parts[0].udh.single_shift == single_shift
    over = split("a" * (single + 1), encoding=encoding, reference=1)
    assert [len(p.payload) for p in over.parts] == [per_part, single + 1 - per_part]
    for part in over.parts:
        assert part.udh is not None
        assert (part.udh.single_shift, part.udh.locking_shift) == (single_shift, locking_shift)


def test_escape_is_never_split() -> None:
    # 152 septets then '€' (ESC 0x65): the escape pair moves whole to part 2 (digest §4.4).
    text = "a" * 152 + "€" + "b" * 10
    segmented = split(text, reference=1)
    part1, part2 = segmented.parts
    assert len(part1.payload) == 152
    assert part2.payload == bytes((gsm7.ESC, 0x65)) + gsm7.encode("b" * 10)
    assert joined_text(segmented) == text


def test_surrogate_pair_is_never_split() -> None:
    segmented = split("a" * 66 + "😀" + "b" * 5, reference=1)
    assert segmented.encoding.alphabet is Alphabet.UCS2
    part1, part2 = segmented.parts
    assert len(part1.payload) == 132
    assert part2.payload == "😀bbbbb".encode("utf-16-be")
    assert part2.payload[:2] == b"\xd8\x3d"


def test_imps_ports_in_a_single_part() -> None:
    # WV CSP SMS binding: dest port 3590, UDH 06 05 04 0E 06 00 00 (digest §4.5).
    segmented = split("WV 1.1", ports=PortAddress(3590, 0), reference=0)
    (part,) = segmented.parts
    assert part.short_message[:7] == bytes.fromhex("06 05 04 0E 06 00 00")
    assert part.payload == gsm7.encode("WV 1.1")


def test_ports_count_in_the_header_size() -> None:
    # ports + concat: 0B 05 04 0E 06 00 00 00 03 RR TT SS, 12 octets → floor(128*8/7) = 146.
    segmented = split("x" * 200, ports=PortAddress(3590, 0), reference=9)
    part1, part2 = segmented.parts
    assert part1.udh is not None
    assert part1.udh.encode() == bytes.fromhex("0B 05 04 0E 06 00 00 00 03 09 02 01")
    assert len(part1.payload) == 146
    assert len(part2.payload) == 54
    # a single part with 16-bit ports: 7 octets → floor(133*8/7) = 152 septets.
    assert len(split("x" * 152, ports=PortAddress(3590, 0), reference=0).parts) == 1
    assert len(split("x" * 153, ports=PortAddress(3590, 0), reference=0).parts) == 2


def test_wap_push_8bit_binary_with_ports() -> None:
    segmented = split(bytes(range(200)), ports=PortAddress(2948, 9200), reference=0xA5)
    part1, part2 = segmented.parts
    assert part1.short_message[:12] == bytes.fromhex("0B 05 04 0B 84 23 F0 00 03 A5 02 01")
    assert len(part1.payload) == 128
    assert part1.payload + part2.payload == bytes(range(200))


def test_udh16_parts() -> None:
    segmented = split("y" * 400, concat=ConcatMethod.UDH16, reference=0xBEEF)
    assert [p.udh.encode() for p in segmented.parts if p.udh] == [
        bytes.fromhex("06 08 04 BE EF 03 01"),
        bytes.fromhex("06 08 04 BE EF 03 02"),
        bytes.fromhex("06 08 04 BE EF 03 03"),
    ]


def test_sar_parts_carry_concat_and_no_udh() -> None:
    segmented = split("z" * 200, concat="sar", reference=0x1234)
    assert [p.sar for p in segmented.parts] == [
        Concat(0x1234, 2, 1, reference_bits=16),
        Concat(0x1234, 2, 2, reference_bits=16),
    ]
    assert all(p.udh is None and not p.has_udh for p in segmented.parts)
    assert [len(p.short_message) for p in segmented.parts] == [152, 48]


def test_payload_is_one_part_with_everything() -> None:
    text = "w" * 1000
    segmented = split(text, concat="payload", reference=0)
    (part,) = segmented.parts
    assert part.udh is None and part.sar is None
    assert part.payload == text.encode("ascii")


def test_payload_keeps_port_header() -> None:
    (part,) = split(b"\x01" * 500, concat="payload", ports=PortAddress(3590, 0), reference=0).parts
    assert part.short_message == bytes.fromhex("06 05 04 0E 06 00 00") + b"\x01" * 500


def test_payload_limit() -> None:
    with pytest.raises(MessageTooLong):
        split(bytes(0x10000), concat="payload", reference=0)


def test_single_part_has_no_concat_ie() -> None:
    for method in ConcatMethod:
        (part,) = split("hello", concat=method, reference=3).parts
        assert part == Part(None, gsm7.encode("hello"))


def test_empty_text_is_one_empty_part() -> None:
    assert split("", reference=0).parts == (Part(None, b""),)


def test_max_parts() -> None:
    assert len(split("q" * 153 * 3, reference=0, max_parts=3).parts) == 3
    with pytest.raises(MessageTooLong) as info:
        split("q" * (153 * 3 + 1), reference=0, max_parts=3)
    assert (info.value.size, info.value.limit) == (4, 3)
    with pytest.raises(MessageTooLong):
        split("q" * (153 * 255 + 1), reference=0)


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"concat": "udh8", "reference": 256},
        {"concat": "udh16", "reference": 0x10000},
        {"concat": "sar", "reference": -1},
        {"concat": "sar", "reference": 1, "ports": PortAddress(3590, 0)},
        {"concat": "sar", "reference": 1, "encoding": Encoding(Alphabet.GSM7, TURKISH)},
        {"concat": "udh8", "reference": 1, "max_parts": 0},
        {"concat": "udh8", "reference": 1, "max_parts": 256},
        {"concat": "bogus", "reference": 1},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        split("text", **kwargs)  # type: ignore[arg-type]


def test_pre_encoded_gsm_septets_keep_escapes_whole() -> None:
    septets = b"a" * 152 + bytes((gsm7.ESC, 0x65)) + b"b" * 10
    segmented = split(septets, encoding=Encoding(Alphabet.GSM7), reference=1)
    assert [len(p.payload) for p in segmented.parts] == [152, 12]


def test_parts_reparse_to_their_udh() -> None:
    segmented = split("p" * 500, ports=PortAddress(2948, 9200), reference=77)
    for part in segmented.parts:
        header, rest = parse_udh(part.short_message)
        assert header == part.udh
        assert rest == part.payload


# --- Reassembler ----------------------------------------------------------------------------

KEY = ("+4915100000001", "+4915100000002")


def concat(total: int, sequence: int, reference: int = 7) -> Concat:
    return Concat(reference, total, sequence)


def test_reassembles_in_order_and_out_of_order() -> None:
    r = Reassembler()
    assert r.add(KEY, concat(3, 2), b"B", now=0.0) is None
    assert r.add(KEY, concat(3, 3), b"C", now=1.0) is None
    assert r.pending == 1
    assert r.add(KEY, concat(3, 1), b"A", now=2.0) == b"ABC"
    assert r.pending == 0
    assert r.expire(now=1000.0) == []


def test_single_part_message_passes_through() -> None:
    assert Reassembler().add(KEY, concat(1, 1), b"only", now=0.0) == b"only"


def test_identical_duplicate_is_ignored() -> None:
    r = Reassembler()
    assert r.add(KEY, concat(2, 1), b"A", now=0.0) is None
    assert r.add(KEY, concat(2, 1), b"A", now=0.5) is None
    assert r.add(KEY, concat(2, 2), b"B", now=1.0) == b"AB"
    # a retransmission after completion (our response got lost) does not start a new message
    assert r.add(KEY, concat(2, 2), b"B", now=2.0) is None
    assert r.pending == 0
    assert r.expire(now=1000.0) == []


def test_conflicting_duplicate_replaces_the_pending_message() -> None:
    r = Reassembler()
    r.add(KEY, concat(3, 1), b"old1", now=0.0)
    r.add(KEY, concat(3, 2), b"old2", now=0.0)
    assert r.add(KEY, concat(3, 1), b"new1", now=5.0) is None
    (gone,) = r.expire(now=6.0)
    assert gone.reason is ExpiryReason.REPLACED
    assert gone.parts == ((1, b"old1"), (2, b"old2"))
    assert gone.missing == (3,)
    assert r.add(KEY, concat(3, 2), b"new2", now=7.0) is None
    assert r.add(KEY, concat(3, 3), b"new3", now=8.0) == b"new1new2new3"


def test_keys_references_and_totals_are_separate_messages() -> None:
    r = Reassembler()
    r.add(KEY, concat(2, 1, reference=1), b"a", now=0.0)
    r.add(("other", "sender"), concat(2, 1, reference=1), b"x", now=0.0)
    r.add(KEY, concat(3, 1, reference=1), b"m", now=0.0)
    assert r.pending == 3
    assert r.add(KEY, concat(2, 2, reference=1), b"b", now=1.0) == b"ab"


def test_missing_part_expires_with_what_it_has() -> None:
    r = Reassembler(timeout=60.0)
    r.add(KEY, concat(3, 1), b"A", now=10.0)
    r.add(KEY, concat(3, 3), b"C", now=20.0)
    assert r.next_deadline() == 70.0
    assert r.expire(now=69.0) == []
    (gone,) = r.expire(now=70.0)
    assert gone.reason is ExpiryReason.TIMEOUT
    assert (gone.key, gone.reference, gone.total) == (KEY, 7, 3)
    assert gone.parts == ((1, b"A"), (3, b"C"))
    assert gone.missing == (2,)
    assert gone.first_seen == 10.0
    assert r.pending == 0
    assert r.next_deadline() is None


def test_max_pending_evicts_the_oldest() -> None:
    r = Reassembler(max_pending=2)
    r.add("k1", concat(2, 1), b"1", now=0.0)
    r.add("k2", concat(2, 1), b"2", now=1.0)
    r.add("k3", concat(2, 1), b"3", now=2.0)
    assert r.pending == 2
    assert r.next_deadline() == 0.0  # something to hand back now
    (gone,) = r.expire(now=3.0)
    assert (gone.key, gone.reason) == ("k1", ExpiryReason.EVICTED)
    assert r.add("k3", concat(2, 2), b"x", now=4.0) == b"3x"


def test_given_up_list_is_bounded_too() -> None:
    r = Reassembler(max_pending=1)
    for n in range(5):
        r.add(n, concat(2, 1), b"p", now=float(n))
    assert len(r.expire(now=5.0)) == 1
    assert r.dropped == 3


def test_bad_reassembler_arguments() -> None:
    with pytest.raises(ValueError):
        Reassembler(timeout=0)
    with pytest.raises(ValueError):
        Reassembler(max_pending=0)


def test_udh_header_type_is_exported() -> None:
    assert UserDataHeader().encode() == b"\x00"
