"""Properties of the sms package: segmentation, the UDH and reassembly, for any input."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from opensmsc.sms import gsm7
from opensmsc.sms.dcs import Alphabet, decode_text
from opensmsc.sms.national import LOCKING_SHIFT_TABLES, SINGLE_SHIFT_TABLES
from opensmsc.sms.segment import (
    UD_OCTETS,
    ConcatMethod,
    Encoding,
    Reassembler,
    Segmented,
    choose_alphabet,
    split,
)
from opensmsc.sms.ucs2 import decode_ucs2, encode_ucs2
from opensmsc.sms.udh import (
    Concat,
    InformationElement,
    PortAddress,
    UdhError,
    build_udh,
    parse_udh,
)

# Characters each GSM table set can carry, found by asking the codec (BMP is enough: the
# national tables are all in it).
_CANDIDATES = [chr(c) for c in range(0x3000) if not 0xD800 <= c <= 0xDFFF]


def _gsm_chars(single_shift: int = 0, locking_shift: int = 0) -> list[str]:
    return [
        ch
        for ch in _CANDIDATES
        if gsm7.can_encode(ch, single_shift=single_shift, locking_shift=locking_shift)
    ]


GSM_TABLES = [(0, 0), *((lang, 0) for lang in SINGLE_SHIFT_TABLES)]
GSM_TABLES += [(lang, lang) for lang in LOCKING_SHIFT_TABLES if lang in SINGLE_SHIFT_TABLES]
GSM_CHARS = {tables: _gsm_chars(*tables) for tables in GSM_TABLES}

# Bias towards the characters that make splitting hard: escapes and surrogate pairs.
gsm_default_text = st.text(
    st.one_of(st.sampled_from(GSM_CHARS[(0, 0)]), st.sampled_from("€^{}[]~|\\\f")), max_size=700
)


@st.composite
def text_and_encoding(draw: st.DrawFn) -> tuple[str, Encoding]:
    alphabet = draw(st.sampled_from([Alphabet.GSM7, Alphabet.UCS2, Alphabet.LATIN1, Alphabet.IA5]))
    if alphabet is Alphabet.GSM7:
        tables = draw(st.sampled_from(GSM_TABLES))
        chars = GSM_CHARS[tables]
        text = draw(st.text(st.sampled_from(chars), max_size=700))
        return text, Encoding(Alphabet.GSM7, *tables)
    if alphabet is Alphabet.UCS2:
        emoji = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
        bmp_and_astral = st.characters(exclude_categories=["Cs"])
        return draw(st.text(st.one_of(bmp_and_astral, emoji), max_size=400)), Encoding(alphabet)
    top = 0xFF if alphabet is Alphabet.LATIN1 else 0x7F
    return draw(st.text(st.characters(max_codepoint=top), max_size=600)), Encoding(alphabet)


methods = st.sampled_from(list(ConcatMethod))
ports = st.one_of(
    st.none(),
    st.builds(PortAddress, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
    st.builds(PortAddress, st.integers(0, 0xFF), st.integers(0, 0xFF), st.just(8)),
)


def _joined(segmented: Segmented) -> str:
    enc = segmented.encoding
    return "".join(
        decode_text(enc.data_coding, p.payload, enc.single_shift, enc.locking_shift)
        for p in segmented.parts
    )


def _check_parts(segmented: Segmented, method: ConcatMethod) -> None:
    parts = segmented.parts
    alphabet = segmented.encoding.alphabet
    total = len(parts)
    for sequence, part in enumerate(parts, start=1):
        udh_octets = part.udh.size if part.udh else 0
        if method is not ConcatMethod.PAYLOAD:
            if alphabet is Alphabet.GSM7:
                # the UDH padded to a septet boundary, then 7 bits a septet (TS 23.040 §9.2.3.24)
                assert -(-udh_octets * 8 // 7) + len(part.payload) <= 160
            else:
                assert udh_octets + len(part.payload) <= UD_OCTETS
        if method is ConcatMethod.SAR:
            # the SMSC adds a 7-octet concat UDH and must still fit
            if alphabet is Alphabet.GSM7:
                assert 8 + len(part.payload) <= 160
            else:
                assert 7 + len(part.payload) <= UD_OCTETS
        if alphabet is Alphabet.GSM7:
            assert not part.payload.endswith(bytes((gsm7.ESC,)))
        if alphabet is Alphabet.UCS2:
            assert len(part.payload) % 2 == 0
            if part.payload:
                assert not 0xD8 <= part.payload[-2] <= 0xDB  # no pair split at the end
                assert not 0xDC <= part.payload[0] <= 0xDF  # nor at the start
        udh_concat = part.udh.concat if part.udh else None
        concat = part.sar if method is ConcatMethod.SAR else udh_concat
        if total == 1:
            assert concat is None
        else:
            assert concat is not None
            assert (concat.total, concat.sequence) == (total, sequence)
        if part.udh is not None:
            assert parse_udh(part.short_message) == (part.udh, part.payload)


@settings(max_examples=300)
@given(text_and_encoding(), methods, st.integers(0, 0xFF), ports)
def test_split_then_join_gives_the_text_back(
    case: tuple[str, Encoding], method: ConcatMethod, reference: int, port: PortAddress | None
) -> None:
    text, encoding = case
    if method is ConcatMethod.SAR:
        assume(port is None and not encoding.single_shift)
    segmented = split(text, encoding=encoding, concat=method, reference=reference, ports=port)
    assert segmented.encoding == encoding
    assert _joined(segmented) == text
    _check_parts(segmented, method)


@settings(max_examples=200)
@given(gsm_default_text, st.sampled_from([ConcatMethod.UDH8, ConcatMethod.UDH16]))
def test_escapes_never_split(text: str, method: ConcatMethod) -> None:
    segmented = split(text, concat=method, reference=1)
    assert segmented.encoding == Encoding(Alphabet.GSM7)
    for part in segmented.parts:
        # every part decodes alone to a prefix-free piece of the text: no orphan escape
        assert gsm7.encode(gsm7.decode(part.payload)) == part.payload
    assert _joined(segmented) == text


@settings(max_examples=200)
@given(st.text(max_size=500), st.sampled_from([(), (1,), (2, 3), tuple(range(1, 14))]))
def test_chosen_alphabet_always_represents_the_text(text: str, allowed: tuple[int, ...]) -> None:
    encoding = choose_alphabet(text, allow_national=allowed)
    assert _joined(split(text, encoding=encoding, reference=0)) == text
    if encoding.alphabet is Alphabet.UCS2:
        assert not gsm7.can_encode(text)


@given(st.binary(max_size=1000), methods, ports)
def test_binary_split_rejoins(data: bytes, method: ConcatMethod, port: PortAddress | None) -> None:
    if method is ConcatMethod.SAR:
        assume(port is None)
    segmented = split(data, concat=method, reference=3, ports=port)
    assert b"".join(p.payload for p in segmented.parts) == data
    _check_parts(segmented, method)


@given(st.binary(max_size=300))
def test_ucs2_decode_is_total_and_exact_on_valid_input(data: bytes) -> None:
    text = decode_ucs2(data)
    try:
        valid = data.decode("utf-16-be")
    except UnicodeDecodeError:
        return
    assert text == valid
    assert encode_ucs2(text) == data


# --- UDH ------------------------------------------------------------------------------------

concats = st.one_of(
    st.none(),
    st.integers(1, 255).flatmap(
        lambda total: st.builds(
            Concat, st.integers(0, 0xFF), st.just(total), st.integers(1, total), st.just(8)
        )
    ),
    st.integers(1, 255).flatmap(
        lambda total: st.builds(
            Concat, st.integers(0, 0xFFFF), st.just(total), st.integers(1, total), st.just(16)
        )
    ),
)
extras = st.lists(
    st.builds(
        InformationElement,
        st.integers(0, 0xFF).filter(lambda iei: iei not in (0x00, 0x04, 0x05, 0x08, 0x24, 0x25)),
        st.binary(max_size=20),
    ),
    max_size=5,
)


@given(concats, ports, st.integers(0, 13), st.integers(0, 13), extras, st.binary(max_size=50))
def test_udh_round_trip(
    concat: Concat | None,
    port: PortAddress | None,
    single_shift: int,
    locking_shift: int,
    extra: list[InformationElement],
    rest: bytes,
) -> None:
    udh = build_udh(
        concat=concat,
        ports=port,
        single_shift=single_shift,
        locking_shift=locking_shift,
        extra=extra,
    )
    parsed, tail = parse_udh(udh.encode() + rest)
    assert parsed == udh
    assert tail == rest
    assert (parsed.concat, parsed.ports) == (concat, port)
    assert (parsed.single_shift, parsed.locking_shift) == (single_shift, locking_shift)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_parse_udh_raises_only_udh_error(data: bytes) -> None:
    try:
        udh, rest = parse_udh(data)
    except UdhError:
        return
    # whatever parses re-encodes to the octets it came from, and its properties are total
    assert udh.encode() + rest == data
    _ = (udh.concat, udh.ports, udh.single_shift, udh.locking_shift, udh.size)


# --- reassembly -----------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.data())
def test_reassembler_any_order_with_duplicates(data: st.DataObject) -> None:
    payloads = data.draw(st.lists(st.binary(max_size=20), min_size=2, max_size=12))
    total = len(payloads)
    sequences = list(range(1, total + 1))
    duplicates = data.draw(st.lists(st.sampled_from(sequences), max_size=10))
    order = data.draw(st.permutations(sequences + duplicates))
    reassembler = Reassembler(timeout=60.0)
    results = [
        reassembler.add(("src", "dst"), Concat(42, total, n), payloads[n - 1], now=float(i) * 0.001)
        for i, n in enumerate(order)
    ]
    assert [r for r in results if r is not None] == [b"".join(payloads)]
    assert reassembler.pending == 0
    assert reassembler.expire(now=1000.0) == []
