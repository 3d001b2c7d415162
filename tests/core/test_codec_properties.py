"""Codec properties (hypothesis): round trips for every PDU type, and nothing but typed errors.

- decode(encode(pdu, seq)) == Decoded(command_id, status, seq, pdu), in strict and lenient mode;
- the generated fast paths and the careful interpreter agree wherever the fast path answers;
- decode() of random and of mutated frames raises nothing but FramingError / PduError, and a
  PduError carries the header's command_id and sequence_number.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensmsc import smpp
from opensmsc.smpp import _compile, codec
from tests.core.strategies import PDU_TYPES, frames, mutated, pdu_of, sequence_numbers

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cls", PDU_TYPES, ids=lambda cls: cls.__name__)
@SETTINGS
@given(data=st.data(), seq=sequence_numbers)
def test_round_trip_every_pdu_type(cls: type[smpp.Pdu], data: st.DataObject, seq: int) -> None:
    pdu = data.draw(pdu_of(cls))
    encoded = smpp.encode(pdu, seq)
    status = pdu.command_status if isinstance(pdu, smpp.Response) else 0
    expected = smpp.Decoded(command_id=cls.command_id, status=status, sequence_number=seq, pdu=pdu)
    assert smpp.decode(encoded) == expected
    assert smpp.decode(encoded, strict=False) == expected
    assert int.from_bytes(encoded[:4], "big") == len(encoded)


@pytest.mark.parametrize("cls", PDU_TYPES, ids=lambda cls: cls.__name__)
@SETTINGS
@given(data=st.data(), seq=sequence_numbers)
def test_generated_encoder_matches_the_careful_one(
    cls: type[smpp.Pdu], data: st.DataObject, seq: int
) -> None:
    pdu = data.draw(pdu_of(cls))
    assert smpp.encode(pdu, seq) == codec._encode_careful(pdu, seq)


def _careful(frame: bytes, strict: bool) -> smpp.Pdu | type[Exception]:
    cls = smpp.PDU_CLASSES[int.from_bytes(frame[4:8], "big")]
    try:
        return codec._decode_careful(cls, frame, int.from_bytes(frame[8:12], "big"), strict)
    except Exception as exc:
        return type(exc)


@SETTINGS
@given(frames())
def test_generated_decoder_matches_the_careful_one(sample: tuple[bytes, int, smpp.Pdu]) -> None:
    frame, _, pdu = sample
    assert _careful(frame, True) == pdu
    assert smpp.decode(frame).pdu == pdu


def _check_only_typed_errors(data: bytes, strict: bool) -> smpp.Decoded | None:
    try:
        return smpp.decode(data, strict=strict)
    except smpp.FramingError as exc:
        assert exc.status == smpp.CommandStatus.ESME_RINVCMDLEN
        return None
    except smpp.PduError as exc:
        assert exc.command_id == int.from_bytes(data[4:8], "big")
        assert exc.sequence_number == int.from_bytes(data[12:16], "big")
        assert isinstance(exc.status, int)
        assert exc.status != 0
        return None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_raise_only_typed_errors(data: bytes, strict: bool) -> None:
    _check_only_typed_errors(data, strict)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFFFFFF), st.sampled_from(PDU_TYPES), st.binary(max_size=200))
def test_random_bodies_of_every_command_raise_only_typed_errors(
    seq: int, cls: type[smpp.Pdu], body: bytes
) -> None:
    data = (16 + len(body)).to_bytes(4, "big") + cls.command_id.to_bytes(4, "big")
    data += b"\0\0\0\0" + seq.to_bytes(4, "big") + body
    for strict in (True, False):
        _check_only_typed_errors(data, strict)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_frames_raise_only_typed_errors_and_both_paths_agree(
    data: st.DataObject,
) -> None:
    frame, _, _ = data.draw(frames())
    damaged = data.draw(mutated(frame))
    for strict in (True, False):
        decoded = _check_only_typed_errors(damaged, strict)
        if decoded is not None:
            # Whatever decode() answered, the careful interpreter answers the same.
            assert _careful(damaged, strict) == decoded.pdu
            # And what decodes re-encodes to something that decodes to the same PDU.
            again = smpp.decode(smpp.encode(decoded.pdu, decoded.sequence_number), strict=False)
            assert again.pdu == decoded.pdu


def test_fast_paths_exist_for_the_hot_pdus() -> None:
    for cls in (smpp.SubmitSm, smpp.DeliverSm, smpp.SubmitSmResp, smpp.DeliverSmResp):
        assert cls in _compile.FAST_DECODERS
        assert cls in _compile.FAST_ENCODERS
