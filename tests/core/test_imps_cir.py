"""imps.cir: the CIR channel texts (HELO, WVCI), GSM 7-bit packed (digest §5.4).

Vectors: "hellohello" → E8329BFD4697D9EC37 is the packing example of the GSM 03.38 / TS 23.038
SMS PDU literature (Lars Pettersson, "SMS and the PDU format", dreamfabric.com; the same
example in TS 23.038 §6.1.2.1.1's packing rule); the two HELO forms follow AIM's
SmsCirChannel.java (aosp-mirror/platform_packages_apps_im) and Android's
GsmAlphabet.stringToGsm7BitPacked (septet count in octet 0).
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmsc import sms
from opensmsc.imps import (
    PtsError,
    Status,
    decode_helo,
    decode_wakeup,
    encode_helo,
    encode_wakeup,
    pack_text,
    unpack_text,
)


def test_public_packing_vector_hellohello() -> None:
    assert pack_text("hellohello") == bytes.fromhex("E8329BFD4697D9EC37")
    assert unpack_text(bytes.fromhex("E8329BFD4697D9EC37")) == "hellohello"


def test_wakeup_round_trip() -> None:
    payload = encode_wakeup("1.2", "c00kie")
    assert unpack_text(payload) == "WVCI 1.2 c00kie"
    assert decode_wakeup(payload) == ("1.2", "c00kie")
    assert encode_wakeup("12", "c00kie") == payload  # "12" as in the PTS preamble


def test_seven_spare_bits_hold_a_space_not_an_at_sign() -> None:
    # 15 characters: 105 bits in 14 octets would leave 7 spare bits, which a reader taking
    # floor(8n/7) septets (AIM) sees as '@'. We pad with a space, which AIM's split drops.
    payload = encode_wakeup("1.2", "abcdef")  # "WVCI 1.2 abcdef" is 15 characters
    assert len(payload) == 14
    septets = sms.unpack_septets(payload, 16)
    assert septets[-1] == 0x20
    assert decode_wakeup(payload) == ("1.2", "abcdef")


def test_zero_filled_padding_from_another_packer_is_dropped() -> None:
    septets = sms.encode_text("WVCI 1.2 abcdef", sms.Encoding(sms.Alphabet.GSM7))
    payload = sms.pack_septets(septets)  # 7 zero fill bits: read as a final '@'
    assert decode_wakeup(payload) == ("1.2", "abcdef")


def test_helo_round_trip_and_android_length_prefix() -> None:
    assert decode_helo(encode_helo("s3ss10n")) == "s3ss10n"
    # AIM packs HELO with Android's stringToGsm7BitPacked: octet 0 is the septet count
    septets = sms.encode_text("HELO s3ss10n", sms.Encoding(sms.Alphabet.GSM7))
    android = bytes((len(septets),)) + sms.pack_septets(septets)
    assert decode_helo(android) == "s3ss10n"


@pytest.mark.parametrize(
    "payload",
    [
        pack_text("HELLO abc"),
        pack_text("HELO"),
        pack_text("HELO a b"),
        encode_wakeup("1.2", "abc"),
        b"",
    ],
)
def test_not_a_helo_is_a_pts_error(payload: bytes) -> None:
    with pytest.raises(PtsError) as raised:
        decode_helo(payload)
    assert raised.value.status == Status.BAD_REQUEST
    assert raised.value.detail.startswith("CIR:")


@pytest.mark.parametrize(
    "payload", [pack_text("WVCI 1.2"), pack_text("WVCI x abc"), encode_helo("abc")]
)
def test_not_a_wakeup_is_a_pts_error(payload: bytes) -> None:
    with pytest.raises(PtsError):
        decode_wakeup(payload)


@pytest.mark.parametrize(("version", "cookie"), [("1.2", "a b"), ("1.2", ""), ("v1", "abc")])
def test_unwritable_wakeup_is_a_value_error(version: str, cookie: str) -> None:
    with pytest.raises(ValueError):
        encode_wakeup(version, cookie)


tokens = st.from_regex(r"[A-Za-z0-9._+/=-]{1,40}", fullmatch=True)


@given(tokens)
def test_helo_round_trip_any_session(session: str) -> None:
    assert decode_helo(encode_helo(session)) == session


@given(st.sampled_from(["1.1", "1.2", "1.3"]), tokens)
def test_wakeup_round_trip_any_cookie(version: str, cookie: str) -> None:
    assert decode_wakeup(encode_wakeup(version, cookie)) == (version, cookie)


@given(st.binary(max_size=40))
def test_arbitrary_payload_raises_only_pts_error(payload: bytes) -> None:
    for decode in (decode_helo, decode_wakeup):
        with contextlib.suppress(PtsError):
            decode(payload)
