"""The SMPP codec by example: field layouts, TLVs, responses, and the public API shape.

Byte-exact public vectors live in tests/vectors (test_vectors.py); these tests pin the
behaviours the vectors do not show, each with the spec section it follows.
"""

from __future__ import annotations

import dataclasses

import pytest

from opensmsc import smpp
from opensmsc.smpp import codec
from opensmsc.smpp._compile import LAYOUTS, generated_source
from opensmsc.smpp.constants import CommandId, CommandStatus, Tag

S = CommandStatus


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# -- the header and the simplest PDUs ---------------------------------------------------------


def test_enquire_link_matches_the_cloudhopper_vector() -> None:
    frame = h("00000010 00000015 00000000 0a342ee7")
    decoded = smpp.decode(frame)
    assert decoded == smpp.Decoded(
        command_id=CommandId.ENQUIRE_LINK,
        status=0,
        sequence_number=171192039,
        pdu=smpp.EnquireLink(),
    )
    assert smpp.encode(smpp.EnquireLink(), 171192039) == frame


def test_generic_nack_carries_its_status_in_the_header() -> None:
    frame = smpp.encode(smpp.GenericNack(command_status=S.ESME_RINVCMDID), 9)
    assert frame == h("00000010 80000000 00000003 00000009")
    assert smpp.decode(frame).pdu == smpp.GenericNack(command_status=3)


def test_request_with_a_status_in_the_header_decodes_and_reencodes_with_zero() -> None:
    decoded = smpp.decode(h("00000010 00000006 00000005 00000001"))
    assert decoded.status == 5
    assert decoded.pdu == smpp.Unbind()
    assert smpp.encode(decoded.pdu, 1) == h("00000010 00000006 00000000 00000001")


def test_every_command_id_has_a_class_and_every_class_its_command_id() -> None:
    assert set(smpp.PDU_CLASSES) == {int(c) for c in CommandId}
    for command_id, cls in smpp.PDU_CLASSES.items():
        assert cls.command_id == command_id
        is_response = bool(command_id & smpp.RESPONSE_BIT)
        assert issubclass(cls, smpp.Response) == is_response
        assert issubclass(cls, smpp.Request) == (not is_response)


def test_every_pdu_can_be_built_with_no_arguments_and_round_trips() -> None:
    for cls in smpp.PDU_CLASSES.values():
        pdu = cls()
        assert smpp.decode(smpp.encode(pdu, 1)).pdu == pdu


def test_responses_have_command_status_first_and_tlvs_last() -> None:
    for cls in smpp.PDU_CLASSES.values():
        names = [f.name for f in dataclasses.fields(cls)]
        if issubclass(cls, smpp.Response):
            assert names[0] == "command_status"
        else:
            assert "command_status" not in names
        if "tlvs" in names:
            assert names[-1] == "tlvs"


def test_pdus_are_frozen() -> None:
    pdu = smpp.SubmitSm(destination_addr="447700900123")
    with pytest.raises(dataclasses.FrozenInstanceError):
        pdu.destination_addr = "x"  # type: ignore[misc]


# -- submit_sm / deliver_sm (SMPP 3.4 §4.4.1, §4.6.1) -----------------------------------------


SUBMIT = smpp.SubmitSm(
    service_type="CMT",
    source_addr_ton=smpp.Ton.ALPHANUMERIC,
    source_addr_npi=smpp.Npi.UNKNOWN,
    source_addr="Shop",
    dest_addr_ton=smpp.Ton.INTERNATIONAL,
    dest_addr_npi=smpp.Npi.ISDN,
    destination_addr="447700900123",
    esm_class=0,
    registered_delivery=1,
    data_coding=0,
    short_message=b"Hi",
)
SUBMIT_HEX = (
    "00000036 00000004 00000000 00000007"
    " 434d5400 05 00 53686f7000 01 01 34343737303039303031323300"
    " 00 00 00 00 00 01 00 00 00 02 4869"
)


def test_submit_sm_fields_are_in_spec_order() -> None:
    assert smpp.encode(SUBMIT, 7) == h(SUBMIT_HEX)
    decoded = smpp.decode(h(SUBMIT_HEX))
    assert decoded.pdu == SUBMIT
    assert decoded.sequence_number == 7


def test_decoded_enum_fields_are_plain_ints_equal_to_the_enum() -> None:
    pdu = smpp.decode(h(SUBMIT_HEX)).pdu
    assert isinstance(pdu, smpp.SubmitSm)
    assert type(pdu.dest_addr_ton) is int
    assert pdu.dest_addr_ton == smpp.Ton.INTERNATIONAL


def test_short_message_of_255_octets_round_trips_and_256_is_refused() -> None:
    pdu = smpp.SubmitSm(short_message=bytes(range(255)))
    assert smpp.decode(smpp.encode(pdu, 1)).pdu == pdu
    with pytest.raises(smpp.LocalProtocolError):
        smpp.encode(smpp.SubmitSm(short_message=bytes(256)), 1)


def test_deliver_sm_receipt_with_typed_tlvs() -> None:
    receipt = smpp.DeliverSm(
        source_addr="447700900123",
        destination_addr="Shop",
        esm_class=smpp.EsmClass.DELIVERY_RECEIPT,
        short_message=b"id:abc sub:001 dlvrd:001 submit date:2501011200 done date:2501011201"
        b" stat:DELIVRD err:000 text:Hi",
        tlvs=smpp.Tlvs(
            (
                (Tag.RECEIPTED_MESSAGE_ID, "abc"),
                (Tag.MESSAGE_STATE, smpp.MessageState.DELIVERED),
                (Tag.NETWORK_ERROR_CODE, smpp.NetworkErrorCode(network_type=3, error_code=0)),
            )
        ),
    )
    frame = smpp.encode(receipt, 3)
    assert frame.endswith(h("001e 0004 61626300  0427 0001 02  0423 0003 03 0000"))
    decoded = smpp.decode(frame).pdu
    assert decoded == receipt
    assert isinstance(decoded, smpp.DeliverSm)
    assert decoded.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) == "abc"
    assert decoded.tlvs.get(Tag.NETWORK_ERROR_CODE) == smpp.NetworkErrorCode(3, 0)


# -- responses (contracts.md: command_status first; Request.response) -------------------------


def test_request_builds_its_response() -> None:
    assert SUBMIT.response(message_id="m1") == smpp.SubmitSmResp(message_id="m1")
    bind = smpp.BindTransceiver(system_id="esme")
    refused = bind.response(command_status=S.ESME_RINVPASWD)
    assert refused == smpp.BindTransceiverResp(command_status=S.ESME_RINVPASWD)
    assert smpp.EnquireLink().response() == smpp.EnquireLinkResp()
    assert smpp.BroadcastSm().response(message_id="b") == smpp.BroadcastSmResp(message_id="b")


def test_every_request_with_a_response_builds_it() -> None:
    for cls in smpp.PDU_CLASSES.values():
        if issubclass(cls, smpp.Request) and cls not in (smpp.Outbind, smpp.AlertNotification):
            response = cls().response()
            assert response.command_id == cls.command_id | smpp.RESPONSE_BIT


@pytest.mark.parametrize("cls", [smpp.Outbind, smpp.AlertNotification])
def test_outbind_and_alert_notification_have_no_response(cls: type[smpp.Request]) -> None:
    with pytest.raises(smpp.LocalProtocolError):
        cls().response()


def test_failed_response_with_default_fields_is_header_only() -> None:
    # SMPP 3.4 §4.4.2: the submit_sm_resp body is not returned when command_status is not 0.
    frame = smpp.encode(smpp.SubmitSmResp(command_status=S.ESME_RTHROTTLED), 4)
    assert frame == h("00000010 80000004 00000058 00000004")
    assert smpp.decode(frame).pdu == smpp.SubmitSmResp(command_status=S.ESME_RTHROTTLED)


def test_successful_response_always_has_its_body() -> None:
    assert smpp.encode(smpp.SubmitSmResp(), 4) == h("00000011 80000004 00000000 00000004 00")


def test_failed_response_with_fields_keeps_its_body() -> None:
    resp = smpp.DataSmResp(
        command_status=S.ESME_RDELIVERYFAILURE,
        tlvs=smpp.Tlvs(((Tag.DELIVERY_FAILURE_REASON, 2),)),
    )
    frame = smpp.encode(resp, 8)
    assert frame == h("00000016 80000103 000000fe 00000008 00 0425 0001 02")
    assert smpp.decode(frame).pdu == resp


def test_bind_resp_carries_sc_interface_version() -> None:
    resp = smpp.BindTransmitterResp(
        system_id="SMSC", tlvs=smpp.Tlvs(((Tag.SC_INTERFACE_VERSION, 0x34),))
    )
    frame = smpp.encode(resp, 1)
    assert frame == h("0000001a 80000002 00000000 00000001 534d534300 0210 0001 34")
    assert smpp.decode(frame).pdu == resp


# -- submit_multi (SMPP 3.4 §4.5) --------------------------------------------------------------


def test_submit_multi_with_sme_and_distribution_list_destinations() -> None:
    pdu = smpp.SubmitMulti(
        source_addr="Shop",
        dest_address=(
            smpp.SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="4477"),
            smpp.DistributionList(dl_name="staff"),
        ),
        short_message=b"Hi",
    )
    frame = smpp.encode(pdu, 2)
    body = frame[16:]
    assert body.startswith(h("00 00 00 53686f7000 02 01 01 01 3434373700 02 737461666600"))
    assert smpp.decode(frame).pdu == pdu


def test_submit_multi_resp_with_unsuccess_sme() -> None:
    pdu = smpp.SubmitMultiResp(
        message_id="m9",
        unsuccess_sme=(
            smpp.UnsuccessSme(
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr="4477",
                error_status_code=S.ESME_RINVDSTADR,
            ),
        ),
    )
    frame = smpp.encode(pdu, 2)
    assert frame[16:] == h("6d3900 01 01 01 3434373700 0000000b")
    assert smpp.decode(frame).pdu == pdu


# -- TLVs (SMPP 3.4 §5.3, 5.0 §4.8) -------------------------------------------------------------


def test_unknown_and_vendor_tlvs_are_kept_raw_and_reencoded_unchanged() -> None:
    tlvs = h("1403 0003 414243  7fff 0000  0424 0002 4869")
    frame = h("00000011 80000005 00000000 00000001 00")[:-1]
    frame = (len(frame) + 1 + len(tlvs)).to_bytes(4, "big") + frame[4:] + b"\0" + tlvs
    pdu = smpp.decode(frame).pdu
    assert isinstance(pdu, smpp.DeliverSmResp)
    assert list(pdu.tlvs) == [(0x1403, b"ABC"), (0x7FFF, b""), (Tag.MESSAGE_PAYLOAD, b"Hi")]
    assert smpp.encode(pdu, 1) == frame


def test_repeated_broadcast_area_identifier_is_kept_in_order() -> None:
    areas = (
        smpp.BroadcastAreaIdentifier(format=0, details=b"area-1"),
        smpp.BroadcastAreaIdentifier(format=1, details=b"\x01\x02"),
    )
    pdu = smpp.BroadcastSm(
        message_id="",
        tlvs=smpp.Tlvs(
            (
                (Tag.BROADCAST_AREA_IDENTIFIER, areas[0]),
                (Tag.BROADCAST_CONTENT_TYPE, smpp.BroadcastContentType(1, 2)),
                (Tag.BROADCAST_AREA_IDENTIFIER, areas[1]),
                (Tag.BROADCAST_REP_NUM, 5),
                (Tag.BROADCAST_FREQUENCY_INTERVAL, smpp.BroadcastFrequencyInterval(9, 10)),
            )
        ),
    )
    decoded = smpp.decode(smpp.encode(pdu, 1)).pdu
    assert decoded == pdu
    assert isinstance(decoded, smpp.BroadcastSm)
    assert decoded.tlvs.get_all(Tag.BROADCAST_AREA_IDENTIFIER) == list(areas)


def test_alert_on_message_delivery_zero_length_flag() -> None:
    pdu = smpp.SubmitSm(tlvs=smpp.Tlvs(((Tag.ALERT_ON_MESSAGE_DELIVERY, b""),)))
    frame = smpp.encode(pdu, 1)
    assert frame.endswith(h("130c 0000"))
    assert smpp.decode(frame).pdu == pdu


def test_tlv_integer_sizes_follow_the_spec() -> None:
    pdu = smpp.DataSm(
        tlvs=smpp.Tlvs(
            (
                (Tag.SOURCE_PORT, 0x0B84),
                (Tag.QOS_TIME_TO_LIVE, 3600),
                (Tag.DEST_ADDR_NP_COUNTRY, 44),
                (Tag.MORE_MESSAGES_TO_SEND, 1),
            )
        )
    )
    tail = smpp.encode(pdu, 1)[-28:]
    assert tail == h("020a 0002 0b84  0017 0004 00000e10  0613 0005 000000002c  0426 0001 01")


def test_tlvs_api() -> None:
    tlvs = smpp.Tlvs(((0x1E, "a"), (0x0427, 2), (0x1E, "b")))
    assert tlvs == smpp.Tlvs(((0x1E, "a"), (0x0427, 2), (0x1E, "b")))
    assert tlvs.__contains__(0x1E)  # `0x1E in tlvs`, spelled so that mypy --strict accepts it
    assert not tlvs.__contains__(0x0424)
    assert tlvs.has(0x1E)
    assert not tlvs.has(0x0424)
    assert tlvs.get(0x1E) == "a"
    assert tlvs.get(0x0424) is None
    assert tlvs.get(0x0424, b"") == b""
    assert tlvs.get_all(0x1E) == ["a", "b"]
    assert tlvs.with_(0x1E, "c") == smpp.Tlvs(((0x1E, "c"), (0x0427, 2)))
    assert tlvs.with_(0x0424, b"x")[-1] == (0x0424, b"x")
    assert tlvs.without(0x1E) == smpp.Tlvs(((0x0427, 2),))
    assert smpp.Tlvs() == smpp.EMPTY_TLVS
    assert not smpp.EMPTY_TLVS


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (Tag.MESSAGE_STATE, "2"),  # a str for an integer tag
        (Tag.RECEIPTED_MESSAGE_ID, 5),  # an int for a string tag
        (Tag.MESSAGE_STATE, 256),  # out of range for one octet
        (Tag.RECEIPTED_MESSAGE_ID, "€"),  # not Latin-1
        (0x1400, 7),  # an int for an unknown tag: its size is unknown
    ],
)
def test_tlv_value_that_cannot_be_written_is_our_bug(tag: int, value: smpp.TlvValue) -> None:
    with pytest.raises(smpp.LocalProtocolError):
        smpp.encode(smpp.SubmitSm(tlvs=smpp.Tlvs(((tag, value),))), 1)


# -- encoding errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pdu",
    [
        smpp.SubmitSm(esm_class=256),
        smpp.SubmitSm(dest_addr_ton=-1),
        smpp.SubmitSm(destination_addr="☃"),
        smpp.SubmitMulti(dest_address=(smpp.SmeAddress(dest_addr_ton=300),)),
        smpp.SubmitMultiResp(unsuccess_sme=(smpp.UnsuccessSme(error_status_code=1 << 32),)),
    ],
)
def test_unencodable_pdu_raises_local_protocol_error(pdu: smpp.Pdu) -> None:
    with pytest.raises(smpp.LocalProtocolError):
        smpp.encode(pdu, 1)


def test_sequence_number_out_of_range_is_our_bug() -> None:
    with pytest.raises(smpp.LocalProtocolError):
        smpp.encode(smpp.EnquireLink(), 1 << 32)


# -- constants ----------------------------------------------------------------------------------


def test_command_status_parse_keeps_unknown_values() -> None:
    assert CommandStatus.parse(0x58) is CommandStatus.ESME_RTHROTTLED
    assert CommandStatus.parse(0x400) == 0x400
    assert type(CommandStatus.parse(0x400)) is int


def test_smpp50_status_names_are_aliases() -> None:
    assert CommandStatus["ESME_RINVTLVSTREAM"] is CommandStatus.ESME_RINVOPTPARSTREAM
    assert int(CommandStatus["ESME_RINVTLVLEN"]) == 0xC2
    assert CommandStatus(0xC0).name == "ESME_RINVOPTPARSTREAM"


# -- the two code paths agree -------------------------------------------------------------------


def test_generated_code_is_available_for_reading() -> None:
    source = generated_source(smpp.SubmitSm)
    assert "def decode(buf, status):" in source
    assert "def encode(p, seq):" in source
    assert "careful path only" in generated_source(smpp.SubmitMulti)


def test_every_layout_names_real_fields() -> None:
    for cls, layout in LAYOUTS.items():
        field_names = {f.name for f in dataclasses.fields(cls)}
        assert {name for name, _ in layout} <= field_names
        assert set(field_names) - {name for name, _ in layout} <= {"command_status"}


def test_careful_encoder_matches_generated_one_on_an_example() -> None:
    assert codec._encode_careful(SUBMIT, 7) == smpp.encode(SUBMIT, 7)
