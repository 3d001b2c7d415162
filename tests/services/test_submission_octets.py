"""A plain-fields submission of octets a client encoded itself (`Submission.data_coding`, the
Jasmin endpoint's `coding` with `hex-content`): stored with that data_coding, split as its
alphabet is (UCS2 characters kept whole, 160 GSM septets in one part); a text's named
data_coding (Kannel's message waiting indication) must name its alphabet; the segmentation
cache tells apart every field that shapes the parts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opensmsc.engine import InvalidSubmission, Submission
from opensmsc.engine.ids import MessageIds
from opensmsc.engine.submission import prepare
from opensmsc.routing import AccountPolicy
from opensmsc.sms import parse_udh
from opensmsc.store import Address

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _prepare(binary: bytes, data_coding: int | None) -> list[tuple[int, bytes, int]]:
    submission = Submission(
        source=Address(5, 0, "Example"),
        destination=Address(1, 1, "447700900123"),
        binary=binary,
        data_coding=data_coding,
    )
    prepared = prepare(
        submission, system_id="a", policy=AccountPolicy(), ids=MessageIds(7), now=NOW
    )
    return [(r.data_coding, r.short_message, r.esm_class) for r in prepared.records]


def test_ucs2_octets_keep_their_data_coding_and_whole_characters() -> None:
    text = "Привет мир, " * 10  # 120 characters: two UCS2 parts
    parts = _prepare(text.encode("utf-16-be"), 0x08)
    assert [dc for dc, _, _ in parts] == [0x08, 0x08]
    payloads = [parse_udh(sm)[1] for _, sm, esm in parts]
    assert all(len(p) % 2 == 0 for p in payloads)
    assert b"".join(payloads).decode("utf-16-be") == text


def test_gsm_septets_fit_160_in_one_part_with_data_coding_0() -> None:
    (part,) = _prepare(b"A" * 160, 0x00)
    assert part == (0x00, b"A" * 160, 0)


def test_without_data_coding_octets_are_8_bit_binary() -> None:
    (part,) = _prepare(b"\x01\x02", None)
    assert part[:2] == (0x04, b"\x01\x02")


def test_an_unknown_data_coding_is_kept_and_split_as_binary() -> None:
    parts = _prepare(bytes(200), 0xF7)
    assert [dc for dc, _, _ in parts] == [0xF7, 0xF7]


def _one(**content: object) -> tuple[int, bytes, int]:
    submission = Submission(
        source=Address(5, 0, "Example"),
        destination=Address(1, 1, "447700900123"),
        **content,  # type: ignore[arg-type]
    )
    prepared = prepare(
        submission, system_id="a", policy=AccountPolicy(), ids=MessageIds(7), now=NOW
    )
    (record,) = prepared.records
    return record.data_coding, record.short_message, record.esm_class


def test_segmentations_cached_by_content_tell_every_content_field_apart() -> None:
    # The same text in a row, each time with one more field that shapes its parts: a cache
    # keyed on less would hand back the previous message's parts.
    plain = _one(text="hello")
    assert plain == (0x00, _one(text="hello")[1], 0)
    assert _one(text="hello", message_class=1)[0] == 0xF1  # GSM 7-bit, class 1
    assert _one(text="hello", flash=True)[0] == 0xF0  # class 0
    assert _one(text="hello", data_coding=0xD8)[0] == 0xD8  # a voicemail indication, GSM 7-bit
    with_udh = _one(text="hello", udh=b"\x05\x00\x03\x01\x02\x01")
    assert with_udh[1].startswith(b"\x05\x00\x03\x01\x02\x01") and with_udh[2] == 0x40
    assert _one(binary=b"\x00\x41", data_coding=0x08)[:2] == (0x08, b"\x00\x41")
    assert _one(binary=b"\x00\x41", data_coding=0xF7)[:2] == (0xF7, b"\x00\x41")
    assert _one(binary=b"\x00\x41")[:2] == (0x04, b"\x00\x41")
    assert _one(text="hello") == plain


def test_a_text_data_coding_must_name_the_texts_alphabet() -> None:
    with pytest.raises(InvalidSubmission) as caught:
        _one(text="hello", data_coding=0xE8)  # the UCS2 indication group, for a GSM text
    assert caught.value.field == "data_coding"
