"""FrameBuffer: incremental framing, split-invariant, with command_length checked early."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc import smpp
from tests.core.strategies import frames

ENQUIRE = bytes.fromhex("00000010000000150000000000000001")


def feed_all(chunks: list[bytes], max_length: int = smpp.DEFAULT_MAX_LENGTH) -> list[bytes]:
    buffer = smpp.FrameBuffer(max_length)
    out: list[bytes] = []
    for chunk in chunks:
        out += buffer.feed(chunk)
    assert buffer.buffered == 0
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=6), st.lists(st.integers(0, 10_000), max_size=12))
def test_any_chunking_yields_the_same_frames(
    samples: list[tuple[bytes, int, smpp.Pdu]], cuts: list[int]
) -> None:
    expected = [frame for frame, _, _ in samples]
    stream = b"".join(expected)
    assert feed_all([stream]) == expected
    assert feed_all(split(stream, cuts)) == expected


@settings(max_examples=30, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=3))
def test_one_octet_at_a_time_yields_the_same_frames(
    samples: list[tuple[bytes, int, smpp.Pdu]],
) -> None:
    expected = [frame for frame, _, _ in samples]
    stream = b"".join(expected)
    assert feed_all([stream[i : i + 1] for i in range(len(stream))]) == expected


def test_frames_are_bytes_and_decode() -> None:
    buffer = smpp.FrameBuffer()
    out = buffer.feed(bytearray(ENQUIRE + ENQUIRE[:5]))
    assert out == [ENQUIRE]
    assert type(out[0]) is bytes
    assert buffer.buffered == 5
    assert buffer.feed(memoryview(ENQUIRE[5:])) == [ENQUIRE]
    assert smpp.decode(out[0]).pdu == smpp.EnquireLink()


def test_empty_feed_is_harmless() -> None:
    buffer = smpp.FrameBuffer()
    assert buffer.feed(b"") == []
    assert buffer.feed(ENQUIRE[:3]) == []
    assert buffer.feed(b"") == []
    assert buffer.feed(ENQUIRE[3:]) == [ENQUIRE]


@pytest.mark.parametrize("length", [0, 15, 1_000_000, 0xFFFFFFFF])
def test_bad_command_length_is_refused_as_soon_as_its_four_octets_are_in(length: int) -> None:
    buffer = smpp.FrameBuffer(max_length=4096)
    prefix = length.to_bytes(4, "big")
    assert buffer.feed(prefix[:3]) == []
    with pytest.raises(smpp.FramingError) as caught:
        buffer.feed(prefix[3:])
    assert caught.value.status == smpp.CommandStatus.ESME_RINVCMDLEN
    assert caught.value.sequence_number is None
    assert buffer.buffered == 0  # nothing of the bad frame was kept


def test_framing_error_carries_the_sequence_number_when_it_arrived() -> None:
    buffer = smpp.FrameBuffer(max_length=100)
    with pytest.raises(smpp.FramingError) as caught:
        buffer.feed(bytes.fromhex("000000ff 00000004 00000000 0000002a"))
    assert caught.value.sequence_number == 42
    assert caught.value.command_id == 4


def test_frames_before_the_bad_one_are_on_the_error_and_the_stream_stays_broken() -> None:
    buffer = smpp.FrameBuffer()
    with pytest.raises(smpp.FramingError) as caught:
        buffer.feed(ENQUIRE + bytes.fromhex("00000008 00000015"))
    assert caught.value.frames == [ENQUIRE]
    with pytest.raises(smpp.FramingError):
        buffer.feed(ENQUIRE)


def test_max_length_is_configurable_and_inclusive() -> None:
    big = smpp.encode(smpp.DataSm(tlvs=smpp.Tlvs(((0x0424, bytes(200)),))), 1)
    assert feed_all([big], max_length=len(big)) == [big]
    with pytest.raises(smpp.FramingError):
        smpp.FrameBuffer(max_length=len(big) - 1).feed(big[:4])


def test_max_length_below_a_header_is_refused() -> None:
    with pytest.raises(ValueError, match="max_length"):
        smpp.FrameBuffer(max_length=15)


def test_a_64k_message_payload_fits_the_default() -> None:
    pdu = smpp.DataSm(tlvs=smpp.Tlvs(((0x0424, bytes(65_535)),)))
    frame = smpp.encode(pdu, 1)
    buffer = smpp.FrameBuffer()
    out: list[bytes] = []
    for i in range(0, len(frame), 1000):
        out += buffer.feed(frame[i : i + 1000])
    assert out == [frame]
    assert smpp.decode(out[0]).pdu == pdu
