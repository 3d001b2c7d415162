"""Strict and lenient decoding, and the command_status each malformed PDU earns.

Strict is the default: the spec's lengths and terminators hold, and an error names the status a
server must answer (SMPP 3.4 §5.1.3). Lenient (`strict=False`) accepts what real peers send:
Kannel's replace_sm with a service_type, a 65-octet cancel_sm destination_addr, a body on a
failed submit_sm_resp, a missing final NUL, a short body.
"""

from __future__ import annotations

import pytest

from opensmsc import smpp
from opensmsc.smpp.constants import CommandStatus, Tag

S = CommandStatus


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def frame(command_id: int, body: bytes, *, status: int = 0, seq: int = 42) -> bytes:
    return (
        (16 + len(body)).to_bytes(4, "big")
        + command_id.to_bytes(4, "big")
        + status.to_bytes(4, "big")
        + seq.to_bytes(4, "big")
        + body
    )


def submit_body(
    *, source: bytes = b"123", dest: bytes = b"456", sm: bytes = b"Hi", sm_length: int | None = None
) -> bytes:
    n = len(sm) if sm_length is None else sm_length
    return (
        b"\0" + b"\1\1" + source + b"\0" + b"\1\1" + dest + b"\0"
        b"\0\0\0" + b"\0" + b"\0" + b"\0\0\0\0" + bytes((n,)) + sm
    )


def rejects(data: bytes, status: int, *, strict: bool = True) -> smpp.PduError:
    with pytest.raises(smpp.PduError) as caught:
        smpp.decode(data, strict=strict)
    error = caught.value
    assert error.status == status, str(error)
    assert error.command_id == int.from_bytes(data[4:8], "big")
    assert error.sequence_number == int.from_bytes(data[12:16], "big")
    return error


# -- framing errors: the header is unusable ---------------------------------------------------


def test_frame_shorter_than_a_header_is_a_framing_error() -> None:
    with pytest.raises(smpp.FramingError) as caught:
        smpp.decode(h("0000000c 00000015 00000000"))
    assert caught.value.status == S.ESME_RINVCMDLEN
    assert caught.value.sequence_number is None


def test_command_length_not_matching_the_frame_is_a_framing_error_with_the_sequence() -> None:
    with pytest.raises(smpp.FramingError) as caught:
        smpp.decode(h("00000011 00000015 00000000 00000007"))
    assert caught.value.status == S.ESME_RINVCMDLEN
    assert caught.value.sequence_number == 7


# -- PDU errors: a good frame, a bad body ---------------------------------------------------------


def test_unknown_command_id_is_rinvcmdid_with_the_sequence() -> None:
    error = rejects(frame(0x00000099, b""), S.ESME_RINVCMDID)
    assert error.sequence_number == 42
    rejects(frame(0x00000099, b""), S.ESME_RINVCMDID, strict=False)


def test_over_long_destination_addr_is_rinvdstadr() -> None:
    rejects(frame(4, submit_body(dest=b"4" * 21)), S.ESME_RINVDSTADR)


def test_over_long_source_addr_is_rinvsrcadr() -> None:
    rejects(frame(4, submit_body(source=b"4" * 21)), S.ESME_RINVSRCADR)


def test_twenty_character_addresses_are_the_maximum() -> None:
    pdu = smpp.decode(frame(4, submit_body(source=b"1" * 20, dest=b"4" * 20))).pdu
    assert isinstance(pdu, smpp.SubmitSm)
    assert pdu.destination_addr == "4" * 20


def test_over_long_fields_are_accepted_by_lenient_decode_and_relayed_unchanged() -> None:
    data = frame(4, submit_body(source=b"1" * 30, dest=b"4" * 30))
    pdu = smpp.decode(data, strict=False).pdu
    assert isinstance(pdu, smpp.SubmitSm)
    assert pdu.source_addr == "1" * 30
    assert smpp.encode(pdu, 42) == data


@pytest.mark.parametrize("strict", [True, False])
def test_sm_length_past_the_end_is_rinvmsglen(strict: bool) -> None:
    rejects(frame(4, submit_body(sm=b"Hi", sm_length=10)), S.ESME_RINVMSGLEN, strict=strict)


def test_sm_length_shorter_than_the_message_leaves_a_broken_tlv_stream() -> None:
    # "Hi!" with sm_length 2: the "!" is then a 1-octet TLV fragment.
    data = frame(4, submit_body(sm=b"Hi!", sm_length=2))
    rejects(data, S.ESME_RINVOPTPARSTREAM)
    pdu = smpp.decode(data, strict=False).pdu
    assert isinstance(pdu, smpp.SubmitSm)
    assert pdu.short_message == b"Hi"
    assert pdu.tlvs == smpp.EMPTY_TLVS


def test_tlv_running_past_the_end_is_rinvoptparstream() -> None:
    rejects(frame(4, submit_body() + h("0424 0010 4869")), S.ESME_RINVOPTPARSTREAM)


def test_known_tlv_of_the_wrong_length_is_rinvparlen_or_raw_when_lenient() -> None:
    data = frame(4, submit_body() + h("0427 0002 0002"))
    rejects(data, S.ESME_RINVPARLEN)
    pdu = smpp.decode(data, strict=False).pdu
    assert isinstance(pdu, smpp.SubmitSm)
    assert pdu.tlvs == smpp.Tlvs(((Tag.MESSAGE_STATE, b"\0\2"),))
    assert smpp.encode(pdu, 42) == data  # kept raw, relayed byte for byte


def test_c_string_tlv_without_its_nul_is_rinvoptparamval_or_raw_when_lenient() -> None:
    data = frame(5, submit_body() + h("001e 0003 616263"))
    rejects(data, S.ESME_RINVOPTPARAMVAL)
    pdu = smpp.decode(data, strict=False).pdu
    assert isinstance(pdu, smpp.DeliverSm)
    assert pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) == b"abc"


def test_over_long_c_string_tlv_is_rinvparlen() -> None:
    rejects(frame(5, submit_body() + h("001e 0042") + b"a" * 65 + b"\0"), S.ESME_RINVPARLEN)


def test_missing_nul_in_the_middle_is_the_fields_status() -> None:
    # The body ends inside destination_addr: no NUL anywhere after it.
    rejects(frame(4, b"\0\x01\x01123\0\x01\x01456"), S.ESME_RINVDSTADR)


def test_body_ending_before_a_field_is_rinvcmdlen() -> None:
    rejects(frame(4, b"\0\x01\x01123\0"), S.ESME_RINVCMDLEN)


@pytest.mark.parametrize("strict", [True, False])
def test_octets_after_a_header_only_pdu_are_rinvcmdlen(strict: bool) -> None:
    rejects(frame(0x15, b"\xff"), S.ESME_RINVCMDLEN, strict=strict)


@pytest.mark.parametrize("strict", [True, False])
def test_octets_after_a_pdu_without_tlvs_are_rinvcmdlen(strict: bool) -> None:
    query = b"m1\0\x01\x01123\0"
    assert smpp.decode(frame(3, query)).pdu == smpp.QuerySm(
        message_id="m1", source_addr_ton=1, source_addr_npi=1, source_addr="123"
    )
    rejects(frame(3, query + b"\0\0\0\0\0"), S.ESME_RINVCMDLEN, strict=strict)


@pytest.mark.parametrize("strict", [True, False])
def test_bad_dest_flag_is_rinvdestflag(strict: bool) -> None:
    body = b"\0\x01\x01123\0" + b"\1" + b"\3xyz\0" + b"\0" * 10
    rejects(frame(0x21, body), S.ESME_RINVDESTFLAG, strict=strict)


def test_bind_fields_have_their_own_statuses() -> None:
    rejects(frame(2, b"a" * 16 + b"\0pw\0\0\x34\0\0\0"), S.ESME_RINVSYSID)
    rejects(frame(2, b"sys\0" + b"p" * 9 + b"\0\0\x34\0\0\0"), S.ESME_RINVPASWD)
    rejects(frame(2, b"sys\0pw\0" + b"t" * 13 + b"\0\x34\0\0\0"), S.ESME_RINVSYSTYP)


# -- the lenient cases the issue names -----------------------------------------------------------


def test_replace_sm_with_kannels_extra_service_type() -> None:
    spec_body = b"m1\0\x01\x01123\0\0\0\1\0\2Hi"
    kannel = frame(7, b"CMT\0" + spec_body)
    rejects(kannel, S.ESME_RINVOPTPARSTREAM)  # read as the spec layout, "Hi" is no TLV
    pdu = smpp.decode(kannel, strict=False).pdu
    expected = smpp.ReplaceSm(
        message_id="m1",
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="123",
        registered_delivery=1,
        short_message=b"Hi",
    )
    assert pdu == expected
    assert smpp.decode(frame(7, spec_body), strict=False).pdu == expected
    assert smpp.decode(frame(7, spec_body)).pdu == expected


def test_cancel_sm_with_a_65_octet_destination_addr() -> None:
    dest = b"4" * 64
    data = frame(8, b"\0m1\0\x01\x01123\0\x01\x01" + dest + b"\0")
    rejects(data, S.ESME_RINVDSTADR)
    pdu = smpp.decode(data, strict=False).pdu
    assert isinstance(pdu, smpp.CancelSm)
    assert pdu.destination_addr == dest.decode()
    assert smpp.encode(pdu, 42) == data


def test_failed_submit_sm_resp_with_a_body() -> None:
    data = frame(0x80000004, b"abc\0", status=S.ESME_RSUBMITFAIL)
    rejects(data, S.ESME_RINVMSGID)
    pdu = smpp.decode(data, strict=False).pdu
    assert pdu == smpp.SubmitSmResp(command_status=S.ESME_RSUBMITFAIL, message_id="abc")
    assert smpp.encode(pdu, 42) == data


def test_failed_submit_sm_resp_with_an_empty_message_id_and_tlvs_is_fine() -> None:
    # SMPP 5.0 §4.2.5: a failed submit_sm_resp may carry TLVs after a NULL message_id.
    data = frame(0x80000004, b"\0" + h("0425 0001 01"), status=S.ESME_RSUBMITFAIL)
    assert smpp.decode(data).pdu == smpp.SubmitSmResp(
        command_status=S.ESME_RSUBMITFAIL, tlvs=smpp.Tlvs(((Tag.DELIVERY_FAILURE_REASON, 1),))
    )


@pytest.mark.parametrize(
    "cls",
    [smpp.SubmitSmResp, smpp.BindTransceiverResp, smpp.DataSmResp, smpp.QuerySmResp],
)
@pytest.mark.parametrize("strict", [True, False])
def test_body_omitted_on_an_error_response(cls: type[smpp.Response], strict: bool) -> None:
    data = frame(cls.command_id, b"", status=S.ESME_RSYSERR)
    assert smpp.decode(data, strict=strict).pdu == cls(command_status=S.ESME_RSYSERR)
    assert smpp.encode(cls(command_status=S.ESME_RSYSERR), 42) == data


def test_body_omitted_on_a_successful_response_is_lenient_only() -> None:
    data = frame(0x80000004, b"")
    rejects(data, S.ESME_RINVCMDLEN)
    assert smpp.decode(data, strict=False).pdu == smpp.SubmitSmResp()


def test_missing_final_nul() -> None:
    data = frame(0x80000004, b"abc")
    rejects(data, S.ESME_RINVMSGID)
    assert smpp.decode(data, strict=False).pdu == smpp.SubmitSmResp(message_id="abc")
    bind_resp = frame(0x80000009, b"SMSC")
    rejects(bind_resp, S.ESME_RINVSYSID)
    assert smpp.decode(bind_resp, strict=False).pdu == smpp.BindTransceiverResp(system_id="SMSC")


def test_lenient_short_body_leaves_the_remaining_fields_default() -> None:
    data = frame(2, b"esme\0secret\0")
    rejects(data, S.ESME_RINVCMDLEN)
    assert smpp.decode(data, strict=False).pdu == smpp.BindTransmitter(
        system_id="esme", password="secret"
    )


def test_deliver_sm_resp_message_id_is_null_in_strict_mode() -> None:
    # SMPP 3.4 §4.6.2: message_id is unused, a C-Octet String of size 1.
    data = frame(0x80000005, b"123\0")
    rejects(data, S.ESME_RINVMSGID)
    assert smpp.decode(data, strict=False).pdu == smpp.DeliverSmResp(message_id="123")
