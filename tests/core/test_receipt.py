"""Delivery receipts (smpp/receipt.py): Appendix B text both ways, TLVs first, lenient reading.

Vectors are cited by source. CH = twitter-archive/cloudhopper-smpp
src/test/java/com/cloudhopper/smpp/util/DeliveryReceiptTest.java; PSL = python-smpplib
smpplib/tests/test_command.py.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmsc.smpp.codec import decode, encode
from opensmsc.smpp.constants import EsmClass, MessageState, Npi, Tag, Ton
from opensmsc.smpp.pdu import DataSm, DeliverSm, SubmitSm
from opensmsc.smpp.receipt import (
    STAT_BY_STATE,
    DeliveryReceipt,
    build_receipt_pdu,
    format_receipt,
    is_delivery_receipt,
    normalize_message_id,
    parse_receipt,
    receipt_from_pdu,
    receipt_tlvs,
    stat_for_state,
    state_from_stat,
)
from opensmsc.smpp.tlv import EMPTY_TLVS, NetworkErrorCode, Tlvs, encode_tlvs
from opensmsc.sms import gsm7


def utc(year: int, month: int, day: int, *hms: int) -> datetime:
    """An aware UTC datetime; hour, minute and second default to 0."""
    hour, minute, second = (*hms, 0, 0, 0)[:3]
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- format_receipt: the exact Appendix B form --------------------------------------------------


def test_format_matches_cloudhopper_to_short_message() -> None:
    # CH toShortMessage: 3-digit sub/dlvrd/err, 10-digit dates, text cut to 20 characters.
    receipt = DeliveryReceipt(
        id="0123456789",
        sub=1,
        dlvrd=1,
        submit_date=utc(2010, 5, 23, 20, 39),
        done_date=utc(2010, 5, 24, 23, 39),
        stat="DELIVRD",
        err="12",
        text="This is a sample message that I want to have added to the delivery receipt",
    )
    assert format_receipt(receipt) == (
        b"id:0123456789 sub:001 dlvrd:001 submit date:1005232039 done date:1005242339"
        b" stat:DELIVRD err:012 text:This is a sample mes"
    )


def test_format_missing_dates_as_zeros_like_cloudhopper() -> None:
    # CH toShortMessageWith10DigitLongMessageId: absent dates are written 0000000000.
    receipt = DeliveryReceipt(id="1234567890", sub=0, dlvrd=0, stat="BADSTAT")
    assert format_receipt(receipt) == (
        b"id:1234567890 sub:000 dlvrd:000 submit date:0000000000 done date:0000000000"
        b" stat:BADSTAT err:000 text:"
    )


def test_format_keeps_the_id_as_given() -> None:
    # CH pads numeric ids to 10 digits; we write the id the submit_sm_resp gave, unchanged.
    text = format_receipt(DeliveryReceipt(id="1", stat="DELIVRD"))
    assert text.startswith(b"id:1 sub:000 dlvrd:000 ")


def test_format_with_seconds_and_in_a_peer_zone() -> None:
    receipt = DeliveryReceipt(
        id="7", sub=1, dlvrd=0, submit_date=utc(2011, 2, 6, 19, 30, 41), stat="UNDELIV", err="1"
    )
    assert b"submit date:110206193041 done date:000000000000" in format_receipt(
        receipt, seconds=True
    )
    plus3 = timezone(timedelta(hours=3))
    assert b"submit date:1102062230 " in format_receipt(receipt, tz=plus3)


def test_format_keeps_what_the_gsm_alphabet_has() -> None:
    # Issue 10 item 5: the receipt goes with data_coding 0, the GSM 7-bit default alphabet
    # (TS 23.038 §6.2.1, unpacked septets): é, ä, ñ, € are in it; Cyrillic is not.
    receipt = DeliveryReceipt(id="9", stat="DELIVRD", text="Señor, café, Ärger €")
    formatted = format_receipt(receipt)
    assert formatted.endswith(b"text:Se\x7dor, caf\x05, \x5brger \x1b\x65")
    assert gsm7.decode(formatted).endswith("text:Señor, café, Ärger €")
    other = DeliveryReceipt(id="9", stat="DELIVRD", text="Привет, мир")
    assert format_receipt(other).endswith(b"text:??????, ???")


@pytest.mark.parametrize(
    "receipt",
    [
        DeliveryReceipt(id="", stat="DELIVRD"),
        DeliveryReceipt(id="a b", stat="DELIVRD"),
        DeliveryReceipt(id="1", stat=""),
        DeliveryReceipt(id="1", stat="DELIVERED"),
        DeliveryReceipt(id="1", stat="DELIVRD", err="1234"),
        DeliveryReceipt(id="1", stat="DELIVRD", sub=1000),
        DeliveryReceipt(id="1", stat="DELIVRD", dlvrd=-1),
    ],
)
def test_format_refuses_what_appendix_b_cannot_hold(receipt: DeliveryReceipt) -> None:
    with pytest.raises(ValueError):
        format_receipt(receipt)


# --- parse_receipt: public vectors --------------------------------------------------------------

PARSE_VECTORS = [
    (
        "CH parseShortMessage",
        "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339"
        " stat:DELIVRD err:012 text:This is a sample mes",
        DeliveryReceipt(
            id="0123456789",
            sub=2,
            dlvrd=1,
            submit_date=utc(2010, 5, 23, 20, 39),
            done_date=utc(2010, 5, 24, 23, 39),
            stat="DELIVRD",
            err="012",
            text="This is a sample mes",
        ),
    ),
    (
        "CH parseShortMessage, SMSC simulator receipt with 'Text:'",
        "id:4 sub:001 dlvrd:001 submit date:1006020051 done date:1006020051 stat:DELIVRD"
        " err:000 Text:Hello",
        DeliveryReceipt(
            id="4",
            sub=1,
            dlvrd=1,
            submit_date=utc(2010, 6, 2, 0, 51),
            done_date=utc(2010, 6, 2, 0, 51),
            stat="DELIVRD",
            err="000",
            text="Hello",
        ),
    ),
    (
        "CH parseRealWorldReceipt0: text with a colon",
        "id:0059113978 sub:001 dlvrd:001 submit date:1002101730 done date:1002101731"
        " stat:DELIVRD err:000 text:@$#!%&/:",
        DeliveryReceipt(
            id="0059113978",
            sub=1,
            dlvrd=1,
            submit_date=utc(2010, 2, 10, 17, 30),
            done_date=utc(2010, 2, 10, 17, 31),
            stat="DELIVRD",
            err="000",
            text="@$#!%&/:",
        ),
    ),
    (
        "CH parseReceiptWithTimestampIncludingSeconds: UUID id, 12-digit dates, empty text",
        "id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 sub:001 dlvrd:001 submit date:110206193041"
        " done date:110206193110 stat:DELIVRD err:000 text:",
        DeliveryReceipt(
            id="74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
            sub=1,
            dlvrd=1,
            submit_date=utc(2011, 2, 6, 19, 30, 41),
            done_date=utc(2011, 2, 6, 19, 31, 10),
            stat="DELIVRD",
            err="000",
        ),
    ),
    (
        "CH parseReceiptWithFieldsOutOfOrder",
        "sub:001 id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 err:000 dlvrd:001"
        " done date:110206193110 submit date:110206193041 text: stat:DELIVRD",
        DeliveryReceipt(
            id="74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
            sub=1,
            dlvrd=1,
            submit_date=utc(2011, 2, 6, 19, 30, 41),
            done_date=utc(2011, 2, 6, 19, 31, 10),
            stat="DELIVRD",
            err="000",
        ),
    ),
    (
        "CH parseShortMessageWith11DigitLongMessageId",
        "id:98765432101 sub:000 dlvrd:000 submit date:1001010000 done date:1001010000"
        " stat:ENROUTE err:000 text:",
        DeliveryReceipt(
            id="98765432101",
            sub=0,
            dlvrd=0,
            submit_date=utc(2010, 1, 1),
            done_date=utc(2010, 1, 1),
            stat="ENROUTE",
            err="000",
        ),
    ),
    (
        "CH parseReceiptWithMissingSubAndDlvrdFields: 14-digit dates, 1-digit err, no text",
        "id:2E179B310EDE971B2760C72B7F026E1B submit date:20110314181534"
        " done date:20110314181741 stat:DELIVRD err:0",
        DeliveryReceipt(
            id="2E179B310EDE971B2760C72B7F026E1B",
            submit_date=utc(2011, 3, 14, 18, 15, 34),
            done_date=utc(2011, 3, 14, 18, 17, 41),
            stat="DELIVRD",
            err="0",
        ),
    ),
    (
        "CH toShortMessageWith9DigitLongMessageId output: zero dates are no dates",
        "id:0123456789 sub:000 dlvrd:000 submit date:0000000000 done date:0000000000"
        " stat:BADSTAT err:000 text:",
        DeliveryReceipt(id="0123456789", sub=0, dlvrd=0, stat="BADSTAT", err="000"),
    ),
    (
        "PSL test_unrecognised_optional_parameters: 12-digit dates",
        "id:795920026 sub:001 dlvrd:001 submit date:200319131913 done date:200319131913"
        " stat:DELIVRD err:000 text:",
        DeliveryReceipt(
            id="795920026",
            sub=1,
            dlvrd=1,
            submit_date=utc(2020, 3, 19, 13, 19, 13),
            done_date=utc(2020, 3, 19, 13, 19, 13),
            stat="DELIVRD",
            err="000",
        ),
    ),
    (
        "e-com-net.com/article/2299106.htm: an UNDELIV receipt from an SMSC",
        "id:0911897980 sub:001 dlvrd:000 submit date:1201121551 done date:1201121551"
        " stat:UNDELIV err:075 text:-PROFILE",
        DeliveryReceipt(
            id="0911897980",
            sub=1,
            dlvrd=0,
            submit_date=utc(2012, 1, 12, 15, 51),
            done_date=utc(2012, 1, 12, 15, 51),
            stat="UNDELIV",
            err="075",
            text="-PROFILE",
        ),
    ),
    (
        "smppcenter.com/kb/how-read-smpp-delivery-receipt: 20-digit id, text with a space",
        "id:64567564356765435676 sub:001 dlvrd:001 submit date:190608165232"
        " done date:190608165237 stat:DELIVRD err:000 text:Hello World",
        DeliveryReceipt(
            id="64567564356765435676",
            sub=1,
            dlvrd=1,
            submit_date=utc(2019, 6, 8, 16, 52, 32),
            done_date=utc(2019, 6, 8, 16, 52, 37),
            stat="DELIVRD",
            err="000",
            text="Hello World",
        ),
    ),
    (
        "SMPP 3.4 Appendix B: the template itself reads as a receipt without dates",
        "id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm"
        " stat:DDDDDDD err:E Text: . . . . . . . . .",
        DeliveryReceipt(id="IIIIIIIIII", stat="DDDDDDD", err="E", text=". . . . . . . . ."),
    ),
]


@pytest.mark.parametrize(("source", "text", "expected"), PARSE_VECTORS)
def test_parse_vectors(source: str, text: str, expected: DeliveryReceipt) -> None:
    assert parse_receipt(text) == expected, source
    assert parse_receipt(text.encode("latin-1")) == expected, source


def test_real_world_receipt_reformats_byte_for_byte() -> None:
    # CH parseRealWorldReceipt0 ends with toShortMessage() == the SMSC's own text.
    text = PARSE_VECTORS[2][1]
    parsed = parse_receipt(text)
    assert parsed is not None
    # Byte for byte in our data_coding 0, the GSM 7-bit default alphabet ("@" is 0x00 there).
    assert format_receipt(parsed) == gsm7.encode(text)


# CH parseShortMessageMissingFields: each text misspells one key. CH's strict parser rejects all;
# ours reads on, except where the id or the stat is lost: without those it is no receipt.
MISSPELLED = [
    ("i:", "i:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339"
     " stat:DELIVRD err:012 text:This is a sample mes", None),
    ("su:", "id:0123456789 su:002 dlvrd:001 submit date:1005232039 done date:1005242339"
     " stat:DELIVRD err:012 text:This is a sample mes", "sub"),
    ("dlvr:", "id:0123456789 sub:002 dlvr:001 submit date:1005232039 done date:1005242339"
     " stat:DELIVRD err:012 text:This is a sample mes", "dlvrd"),
    ("submit dat:", "id:0123456789 sub:002 dlvrd:001 submit dat:1005232039"
     " done date:1005242339 stat:DELIVRD err:012 text:This is a sample mes", "submit_date"),
    ("one date:", "id:0123456789 sub:002 dlvrd:001 submit date:1005232039"
     " one date:1005242339 stat:DELIVRD err:012 text:This is a sample mes", "done_date"),
    ("sat:", "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339"
     " sat:DELIVRD err:012 text:This is a sample mes", None),
    ("rr:", "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339"
     " stat:DELIVRD rr:012 text:This is a sample mes", "err"),
    ("txt:", "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339"
     " stat:DELIVRD err:012 txt:This is a sample mes", "text"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "text", "lost"), MISSPELLED)
def test_cloudhopper_misspelled_keys(key: str, text: str, lost: str | None) -> None:
    parsed = parse_receipt(text)
    if lost is None:
        assert parsed is None, key
        return
    assert parsed is not None, key
    full = PARSE_VECTORS[0][2]
    missing: dict[str, object] = {
        "sub": None,
        "dlvrd": None,
        "submit_date": None,
        "done_date": None,
    }
    missing |= {"err": "", "text": ""}
    expected = {
        name: getattr(full, name)
        for name in ("id", "sub", "dlvrd", "submit_date", "done_date", "stat", "err", "text")
    }
    expected[lost] = missing[lost]
    assert {name: getattr(parsed, name) for name in expected} == expected, key


# --- parse_receipt: leniency --------------------------------------------------------------------


def test_keys_are_case_insensitive_and_underscores_or_spaces_are_allowed() -> None:
    parsed = parse_receipt(
        "ID:AbC Sub:001 DLVRD:001 Submit_Date:1005232039 DONE  DATE :1005242339"
        " STAT:delivrd ERR:000 TEXT:x"
    )
    assert parsed == DeliveryReceipt(
        id="AbC",
        sub=1,
        dlvrd=1,
        submit_date=utc(2010, 5, 23, 20, 39),
        done_date=utc(2010, 5, 24, 23, 39),
        stat="delivrd",
        err="000",
        text="x",
    )
    assert parsed.state is MessageState.DELIVERED


def test_extra_whitespace_is_ignored() -> None:
    parsed = parse_receipt(
        "  id: 123   sub:  001\tdlvrd:001\r\nsubmit date: 1005232039 done date:1005242339"
        "  stat:  REJECTD   err: 5  text:   hi there  \x00"
    )
    assert parsed is not None
    assert (parsed.id, parsed.sub, parsed.stat, parsed.err, parsed.text) == (
        "123",
        1,
        "REJECTD",
        "5",
        "hi there",
    )
    assert parsed.submit_date == utc(2010, 5, 23, 20, 39)


def test_text_keeps_colons_and_words_that_look_like_keys() -> None:
    parsed = parse_receipt("id:1 stat:DELIVRD err:000 text:see id:9 stat:EXPIRED a:b:c")
    assert parsed is not None
    assert (parsed.id, parsed.stat, parsed.text) == ("1", "DELIVRD", "see id:9 stat:EXPIRED a:b:c")


def test_values_of_unreadable_fields_read_as_missing() -> None:
    parsed = parse_receipt(
        "id:1 sub:1x dlvrd:-1 submit date:1013232039 done date:soon stat:EXPIRED err:"
    )
    assert parsed == DeliveryReceipt(id="1", stat="EXPIRED")


def test_hostile_long_numbers_read_as_missing() -> None:
    parsed = parse_receipt("id:1 stat:DELIVRD sub:" + "9" * 5000)
    assert parsed == DeliveryReceipt(id="1", stat="DELIVRD")


def test_whole_receipt_in_ucs2() -> None:
    text = "id:5 sub:001 dlvrd:001 submit date:1005232039 done date:1005242339 stat:DELIVRD"
    parsed = parse_receipt(text.encode("utf-16-be"))
    assert parsed is not None and parsed.id == "5" and parsed.state is MessageState.DELIVERED


def test_dates_in_the_peers_zone() -> None:
    parsed = parse_receipt(
        "id:1 submit date:1005232039 done date:1005242339 stat:DELIVRD",
        tz=timezone(timedelta(hours=2)),
    )
    assert parsed is not None and parsed.submit_date == utc(2010, 5, 23, 18, 39)


@pytest.mark.parametrize(
    "data",
    [
        "",
        b"",
        "hello world",
        "my id:5 is here",  # an id, but no stat
        "stat:DELIVRD err:000",  # a state, but whose?
        "id: stat:DELIVRD",  # empty id
        "xid:5 stat:DELIVRD",  # 'id' must start a word
        b"\x05\x00\x03\x42\x02\x01\xff\xfe",
        b"\x00",
    ],
)
def test_not_a_receipt(data: str | bytes) -> None:
    assert parse_receipt(data) is None


# --- states -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        # digest §1.7 / SMPP 3.4 Appendix B and §5.2.28 (CH STATE_* agree on 1-8)
        ("ENROUTE", MessageState.ENROUTE),
        ("DELIVRD", MessageState.DELIVERED),
        ("EXPIRED", MessageState.EXPIRED),
        ("DELETED", MessageState.DELETED),
        ("UNDELIV", MessageState.UNDELIVERABLE),
        ("ACCEPTD", MessageState.ACCEPTED),
        ("UNKNOWN", MessageState.UNKNOWN),
        ("REJECTD", MessageState.REJECTED),
        # SMPP 5.0 states, named as melroselabs.scrollhelp.site/ssg/delivery-receipts-dlrs does
        ("SCHEDLD", MessageState.SCHEDULED),
        ("SKIPPED", MessageState.SKIPPED),
    ],
)
def test_stat_codes_map_both_ways(stat: str, state: MessageState) -> None:
    assert stat_for_state(state) == stat
    assert state_from_stat(stat) is state
    assert state_from_stat(stat.lower()) is state
    assert state_from_stat(state.name) is state


def test_state_values_match_the_spec() -> None:
    assert [int(state) for state in STAT_BY_STATE] == list(range(10))
    assert state_from_stat("BADSTAT") is None
    assert state_from_stat("") is None


def test_is_delivery_receipt() -> None:
    assert is_delivery_receipt(0x04)
    assert is_delivery_receipt(0x44)  # with UDHI
    assert is_delivery_receipt(0x20)  # intermediate notification
    assert not is_delivery_receipt(0x00)
    assert not is_delivery_receipt(0x08)  # SME delivery acknowledgement
    assert not is_delivery_receipt(0x40)


# --- message ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "text_id", "tlv_id"),
    [
        ("PSL test_parse_deliver_sm: text decimal, TLV hex", "0489708364", "1d305b4c"),
        ("CH parseRealWorldReceipt0: text decimal, TLV hex", "0059113978", "38601fa"),
        ("CH toMessageIdAsHexString: 98765432101 = 0x16fee0e525", "98765432101", "16FEE0E525"),
    ],
)
def test_decimal_and_hex_ids_normalize_to_the_same_key(
    source: str, text_id: str, tlv_id: str
) -> None:
    assert normalize_message_id(text_id, hex_ids=False) == normalize_message_id(
        tlv_id, hex_ids=True
    ), source


@pytest.mark.parametrize(
    ("message_id", "hex_ids", "expected"),
    [
        ("0000012345", False, "12345"),
        ("0000012345", None, "12345"),  # the guess: all digits is decimal
        ("0000012345", True, str(0x12345)),
        ("1d305b4c", None, "489708364"),  # not all digits: hex
        ("1D305B4C", None, "489708364"),
        ("0", False, "0"),
        ("000", True, "0"),
        (" 42 ", False, "42"),
        ("74E02EE1-4E2F-4A6E-A78B-4B247D756A22", None, "74e02ee1-4e2f-4a6e-a78b-4b247d756a22"),
        ("xyz", True, "xyz"),  # not hex: compared ignoring case
        ("12ab", False, "12ab"),  # not decimal
        ("", None, ""),
    ],
)
def test_normalize_message_id(message_id: str, hex_ids: bool | None, expected: str) -> None:
    assert normalize_message_id(message_id, hex_ids=hex_ids) == expected


# --- receipt_from_pdu ---------------------------------------------------------------------------

# CH parseRealWorldReceipt0: a deliver_sm receipt from a real SMSC, with receipted_message_id
# "38601fa" and message_state 2 next to the text id 0059113978.
CH_REAL_WORLD = bytes.fromhex(
    "000000BA00000005000000000000000200010134343935313336313932300001013430343034000400000000"
    "000000006E69643A30303539313133393738207375623A30303120646C7672643A303031207375626D697420"
    "646174653A3130303231303137333020646F6E6520646174653A3130303231303137333120737461743A4445"
    "4C49565244206572723A30303020746578743A4024232125262F3A000E0001010006000101001E0008333836"
    "30316661000427000102"
)

# PSL test_parse_deliver_sm: the text travels in message_payload, with UCS-2 octets after text:
PSL_PAYLOAD = (
    b"\x00\x00\x00\xcb\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x01\x00"
    b"\x01\x0131600000000\x00\x05\x00XXX YYYY\x00\x04\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x0e\x00\x01\x01\x00\x06\x00\x01\x01\x00\x1e\x00"
    b"\t1d305b4c\x00\x04'\x00\x01\x02\x04$\x00rid:0489708364 sub:001"
    b" dlvrd:001 submit date:1810151907 done date:1810151907 stat:DELIVRD"
    b" err:000 text:\x04\x1f\x04@\x048\x042\x045\x04B\x04&\x00\x01\x01"
)

# PSL test_unrecognised_optional_parameters: no receipt TLVs, two vendor TLVs (0x1403, 0x1402).
PSL_VENDOR_TLVS = (
    b"\x00\x00\x00\xa8\x00\x00\x00\x05\x00\x00\x00\x00/p\xc6"
    b"\x9a\x00\x00\x0022549909028\x00\x01\x00\x00\x04\x00\x00"
    b"\x00\x00\x00\x00\x00\x00iid:795920026 sub:001 dlvrd:001 "
    b"submit date:200319131913 done date:200319131913 stat:DELIVRD err:000 text:"
    b"\x14\x03\x00\x07(null)\x00\x14\x02\x00\x04612\x00"
)


def _deliver(frame: bytes) -> DeliverSm:
    pdu = decode(frame, strict=False).pdu
    assert isinstance(pdu, DeliverSm)
    return pdu


def test_cloudhopper_real_world_receipt_prefers_tlvs() -> None:
    pdu = _deliver(CH_REAL_WORLD)
    info = receipt_from_pdu(pdu)
    assert info is not None
    assert info.source == "tlvs"
    assert info.message_id == "38601fa"
    assert info.state is MessageState.DELIVERED
    assert info.err == "000"
    assert info.network_error_code is None
    assert info.receipt is not None and info.receipt.id == "0059113978"
    assert info.receipt.text == "@$#!%&/:"


def test_smpplib_receipt_in_message_payload() -> None:
    pdu = _deliver(PSL_PAYLOAD)
    assert pdu.short_message == b""
    info = receipt_from_pdu(pdu)
    assert info is not None
    assert (info.message_id, info.state, info.source) == (
        "1d305b4c",
        MessageState.DELIVERED,
        "tlvs",
    )
    assert info.receipt is not None
    assert info.receipt.id == "0489708364"
    assert info.receipt.done_date == utc(2018, 10, 15, 19, 7)
    assert normalize_message_id(info.message_id, hex_ids=True) == normalize_message_id(
        info.receipt.id, hex_ids=False
    )


def test_smpplib_receipt_without_tlvs_falls_back_to_text() -> None:
    pdu = _deliver(PSL_VENDOR_TLVS)
    info = receipt_from_pdu(pdu)
    assert info is not None
    assert (info.message_id, info.state, info.err, info.source) == (
        "795920026",
        MessageState.DELIVERED,
        "000",
        "text",
    )


TEXT = (
    b"id:abc123 sub:001 dlvrd:000 submit date:2501311000 done date:2501311005"
    b" stat:UNDELIV err:034 text:hello"
)


def test_mixed_sources_and_network_error_code() -> None:
    pdu = DeliverSm(
        esm_class=EsmClass.DELIVERY_RECEIPT,
        short_message=TEXT,
        tlvs=EMPTY_TLVS.with_(Tag.RECEIPTED_MESSAGE_ID, "ABC123").with_(
            Tag.NETWORK_ERROR_CODE, NetworkErrorCode(3, 34)
        ),
    )
    info = receipt_from_pdu(pdu)
    assert info is not None
    assert info.source == "mixed"
    assert info.message_id == "ABC123"
    assert info.state is MessageState.UNDELIVERABLE  # from stat:UNDELIV
    assert info.err == "034"
    assert info.network_error_code == NetworkErrorCode(3, 34)


def test_tlvs_alone_are_enough() -> None:
    pdu = DeliverSm(
        esm_class=EsmClass.DELIVERY_RECEIPT,
        tlvs=Tlvs(((Tag.RECEIPTED_MESSAGE_ID, "77"), (Tag.MESSAGE_STATE, 3))),
    )
    info = receipt_from_pdu(pdu)
    assert info is not None
    assert (info.message_id, info.state, info.err, info.receipt, info.source) == (
        "77",
        MessageState.EXPIRED,
        None,
        None,
        "tlvs",
    )


def test_unknown_message_state_value_is_kept_as_an_int() -> None:
    pdu = DeliverSm(tlvs=Tlvs(((Tag.RECEIPTED_MESSAGE_ID, "77"), (Tag.MESSAGE_STATE, 42))))
    info = receipt_from_pdu(pdu)
    assert info is not None and info.state == 42


def test_data_sm_receipt_in_message_payload_ucs2() -> None:
    pdu = DataSm(
        esm_class=EsmClass.DELIVERY_RECEIPT,
        data_coding=0x08,
        tlvs=Tlvs(((Tag.MESSAGE_PAYLOAD, TEXT.decode().encode("utf-16-be")),)),
    )
    info = receipt_from_pdu(pdu)
    assert info is not None
    assert (info.message_id, info.state, info.source) == (
        "abc123",
        MessageState.UNDELIVERABLE,
        "text",
    )


def test_no_id_anywhere_is_no_receipt() -> None:
    assert receipt_from_pdu(DeliverSm(short_message=b"hello")) is None
    assert receipt_from_pdu(DeliverSm(tlvs=Tlvs(((Tag.MESSAGE_STATE, 2),)))) is None


# --- build_receipt_pdu --------------------------------------------------------------------------

SUBMIT = SubmitSm(
    source_addr_ton=Ton.ALPHANUMERIC,
    source_addr_npi=Npi.UNKNOWN,
    source_addr="OpenSMSC",
    dest_addr_ton=Ton.INTERNATIONAL,
    dest_addr_npi=Npi.ISDN,
    destination_addr="447700900123",
    short_message=b"Your code is 123456, valid for 5 minutes",
)


def _receipt(stat: str) -> DeliveryReceipt:
    return DeliveryReceipt(
        id="0a1b2c",
        sub=1,
        dlvrd=1 if stat == "DELIVRD" else 0,
        submit_date=utc(2025, 1, 31, 10, 0),
        done_date=utc(2025, 1, 31, 10, 0, 7),
        stat=stat,
        err="000" if stat == "DELIVRD" else "027",
        text="Your code is 123456, valid for 5 minutes",
    )


def test_build_receipt_reverses_addresses_and_carries_tlvs() -> None:
    pdu = build_receipt_pdu(SUBMIT, _receipt("DELIVRD"))
    assert (pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr) == (1, 1, "447700900123")
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr) == (5, 0, "OpenSMSC")
    assert pdu.esm_class == 0x04
    assert pdu.short_message == (
        b"id:0a1b2c sub:001 dlvrd:001 submit date:2501311000 done date:2501311000"
        b" stat:DELIVRD err:000 text:Your code is 123456,"
    )
    assert pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) == "0a1b2c"
    assert pdu.tlvs.get(Tag.MESSAGE_STATE) == MessageState.DELIVERED
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) is None


def test_build_failed_receipt_carries_network_error_code() -> None:
    error = NetworkErrorCode(3, 27)  # GSM, MAP absentSubscriber
    pdu = build_receipt_pdu(SUBMIT, _receipt("UNDELIV"), network_error_code=error)
    assert pdu.tlvs.get(Tag.MESSAGE_STATE) == MessageState.UNDELIVERABLE
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) == error


def test_network_error_code_is_left_out_of_a_success() -> None:
    pdu = build_receipt_pdu(SUBMIT, _receipt("DELIVRD"), network_error_code=NetworkErrorCode(3, 27))
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) is None


@pytest.mark.parametrize("stat", ["DELIVRD", "UNDELIV", "EXPIRED", "ACCEPTD"])
@pytest.mark.parametrize("reference", [None, 0, 0xFFFF])
def test_receipt_tlvs_are_build_receipt_pdus_in_wire_form(stat: str, reference: int | None) -> None:
    # A stored receipt keeps its TLVs as octets: the same TLVs as the PDU's, in the same order.
    error = NetworkErrorCode(3, 27)
    pdu = build_receipt_pdu(SUBMIT, _receipt(stat), network_error_code=error)
    tlvs = pdu.tlvs
    if reference is not None:
        tlvs = tlvs.with_(Tag.USER_MESSAGE_REFERENCE, reference)
    state = state_from_stat(stat)
    assert state is not None
    packed = receipt_tlvs(
        "0a1b2c", state, network_error_code=error, user_message_reference=reference
    )
    assert packed == encode_tlvs(tlvs)


def test_explicit_state_wins_and_an_unknown_stat_needs_one() -> None:
    receipt = _receipt("BADSTAT")
    with pytest.raises(ValueError):
        build_receipt_pdu(SUBMIT, receipt)
    pdu = build_receipt_pdu(SUBMIT, receipt, state=MessageState.UNKNOWN)
    assert pdu.tlvs.get(Tag.MESSAGE_STATE) == MessageState.UNKNOWN


def test_built_receipt_survives_the_wire_and_reads_back() -> None:
    error = NetworkErrorCode(3, 27)
    built = build_receipt_pdu(SUBMIT, _receipt("UNDELIV"), network_error_code=error)
    received = decode(encode(built, 42)).pdu
    assert received == built
    assert isinstance(received, DeliverSm)
    assert is_delivery_receipt(received.esm_class)
    info = receipt_from_pdu(received)
    assert info is not None
    assert (info.message_id, info.state, info.err, info.network_error_code, info.source) == (
        "0a1b2c",
        MessageState.UNDELIVERABLE,
        "027",
        error,
        "tlvs",
    )
    assert info.receipt is not None and info.receipt.text == "Your code is 123456,"


# --- properties ---------------------------------------------------------------------------------

ids = st.from_regex(r"\A[0-9A-Za-z][0-9A-Za-z.:_-]{0,63}\Z")
minutes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)
)
stats = st.sampled_from(sorted(STAT_BY_STATE.values())) | st.from_regex(r"\A[A-Z]{1,7}\Z")
errs = st.from_regex(r"\A[0-9]{3}\Z") | st.from_regex(r"\A[A-Za-z][0-9A-Za-z]{0,2}\Z")
# What the GSM 7-bit default alphabet has of printable ASCII (all but ` and some blanks).
texts = st.text(alphabet=[c for c in string.printable if gsm7.can_encode(c)], max_size=20).map(
    str.strip
)

receipts = st.builds(
    DeliveryReceipt,
    id=ids,
    sub=st.integers(0, 999),
    dlvrd=st.integers(0, 999),
    submit_date=st.none() | minutes,
    done_date=st.none() | minutes,
    stat=stats,
    err=errs,
    text=texts,
)


@given(receipts)
def test_format_then_parse_round_trip(receipt: DeliveryReceipt) -> None:
    # The text in its data_coding (0: the GSM 7-bit default alphabet) reads back the same.
    assert parse_receipt(gsm7.decode(format_receipt(receipt))) == receipt


@given(receipts)
def test_format_is_the_appendix_b_shape(receipt: DeliveryReceipt) -> None:
    text = gsm7.decode(format_receipt(receipt))
    assert text.startswith(f"id:{receipt.id} sub:")
    fields = text.split(" text:", 1)[0].split(" ")[1:]
    assert fields[0].startswith("sub:") and len(fields[0]) == 7
    assert fields[1].startswith("dlvrd:") and len(fields[1]) == 9
    assert fields[2] == "submit" and len(fields[3]) == len("date:YYMMDDhhmm")
    assert fields[4] == "done" and len(fields[5]) == len("date:YYMMDDhhmm")


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_parse_never_raises(data: bytes | str) -> None:
    parsed = parse_receipt(data)
    assert parsed is None or parsed.id


@given(st.builds(DeliveryReceipt, id=ids, stat=st.sampled_from(sorted(STAT_BY_STATE.values()))))
def test_build_then_read_round_trip(receipt: DeliveryReceipt) -> None:
    info = receipt_from_pdu(build_receipt_pdu(SUBMIT, receipt))
    assert info is not None
    assert info.message_id == receipt.id
    assert info.state is receipt.state
    assert info.source == "tlvs"
