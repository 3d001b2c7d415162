"""ReceiptMatcher and the connector's pure helpers: no sockets, no sleeping, time passed in."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from opensmsc.errors import ConfigError
from opensmsc.smpp.constants import MessageState
from opensmsc.smpp.pdu import BindReceiver, BindTransceiver
from opensmsc.smpp.receipt import ReceiptInfo
from opensmsc.smpp.states import BindMode
from opensmsc.upstream import (
    SMPP_V50,
    ConnectorBind,
    ConnectorSettings,
    IdReading,
    MessageIdFormat,
    ReceiptMatcher,
    bind_request,
    reconnect_delay,
    resolve_password,
    upstream_id_keys,
)

AUTO, DEC, HEX = MessageIdFormat.AUTO, MessageIdFormat.DEC, MessageIdFormat.HEX


def receipt(message_id: str, state: MessageState = MessageState.DELIVERED) -> ReceiptInfo:
    return ReceiptInfo(
        message_id=message_id,
        state=state,
        err=None,
        network_error_code=None,
        source="tlvs",
        receipt=None,
    )


# -- id normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "id_format"),
    [
        ("00012345", "12345", DEC),  # leading zeros
        ("a0000001", "A0000001", HEX),  # letter case
        ("0A0000001", "a0000001", HEX),
        ("1d305b4c", "1D305B4C", AUTO),
        ("0489708364", "489708364", AUTO),
        ("10", "010", HEX),
        ("6F1C2A8E-0000-4000-8000-000000000001", "6f1c2a8e-0000-4000-8000-000000000001", AUTO),
    ],
)
def test_same_id_written_differently_is_matched(
    first: str, second: str, id_format: MessageIdFormat
) -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(id_format)
    matcher.expect()
    matcher.accepted(first, "ours")
    assert matcher.lookup(second) == (True, "ours")


def test_keys_carry_their_reading() -> None:
    assert upstream_id_keys("0010", DEC) == ("=0010", "dec:10")
    assert upstream_id_keys("0010", HEX) == ("=0010", "hex:16")
    # AUTO keeps a digits-only id under both readings until the upstream shows hex letters.
    assert upstream_id_keys("0010", AUTO) == ("=0010", "dec:10", "hex:16")
    assert upstream_id_keys("000a", AUTO) == ("=000a", "hex:10")
    assert upstream_id_keys("6F1C2A8E-0000", AUTO) == ("=6F1C2A8E-0000", "text:6f1c2a8e-0000")
    assert upstream_id_keys(" ", AUTO) == ()


# -- issue 10 item 7: an upstream that numbers its ids %016x -----------------------------------

HEX_IDS = [f"{n:016x}" for n in range(1, 51)]


@pytest.mark.parametrize(
    ("quote", "order"),
    [
        (lambda n, upstream_id: upstream_id, "forward"),
        (lambda n, upstream_id: upstream_id, "reverse"),
        (lambda n, upstream_id: upstream_id.upper(), "forward"),
        (lambda n, upstream_id: str(n), "forward"),  # hex in the resp, decimal in the receipt
        (lambda n, upstream_id: str(n), "reverse"),
    ],
)
def test_every_receipt_of_a_hex_numbering_upstream_finds_its_own_message(
    quote: Any, order: str
) -> None:
    matcher: ReceiptMatcher[int] = ReceiptMatcher(AUTO)
    for n, upstream_id in enumerate(HEX_IDS, start=1):
        matcher.expect()
        matcher.accepted(upstream_id, f"ours-{n}")
    numbers = list(range(1, 51))
    if order == "reverse":
        numbers.reverse()
    for n in numbers:
        quoted = quote(n, HEX_IDS[n - 1])
        [match] = matcher.receipt(receipt(quoted), n, now=0.0)
        assert match.our_id == f"ours-{n}", (quoted, match.our_id)


def test_digits_only_ids_settle_on_hex_once_a_letter_shows() -> None:
    reading = IdReading(AUTO)
    assert reading.namespaces == ("dec", "hex")
    reading.observe("0000000000000009")
    assert reading.namespaces == ("dec", "hex")
    reading.observe("000000000000000a")
    assert reading.namespaces == ("hex",)
    reading.observe("0000000000000010")  # digits again: hex stays
    assert reading.namespaces == ("hex",)
    assert IdReading(DEC).namespaces == ("dec",)
    assert IdReading(HEX).namespaces == ("hex",)


def test_the_two_readings_of_two_ids_never_meet() -> None:
    # "0000000000000010" read as decimal is 10, as is "000000000000000a" read as hex: the bug
    # of issue 10 item 7 matched the receipt of one to the other.
    matcher: ReceiptMatcher[int] = ReceiptMatcher(AUTO)
    for upstream_id, ours in [("000000000000000a", "ten"), ("0000000000000010", "sixteen")]:
        matcher.expect()
        matcher.accepted(upstream_id, ours)
    assert matcher.lookup("000000000000000a") == (True, "ten")
    assert matcher.lookup("0000000000000010") == (True, "sixteen")
    assert matcher.lookup("A") == (True, "ten")  # same base, no padding


def test_an_ambiguous_receipt_follows_the_base_the_connector_learnt() -> None:
    # Same base, written without the padding: "a" can only be hex, which teaches AUTO that
    # this upstream's receipts are in its own base; then "10" is 0x10, not decimal ten.
    matcher: ReceiptMatcher[int] = ReceiptMatcher(AUTO)
    for n, upstream_id in enumerate(HEX_IDS[:20], start=1):
        matcher.expect()
        matcher.accepted(upstream_id, f"ours-{n}")
    assert matcher.reading.receipts_in_other_base is None
    assert matcher.lookup("a") == (True, "ours-10")
    assert matcher.reading.receipts_in_other_base is False
    assert matcher.lookup("10") == (True, "ours-16")
    # The other way: "20" can only be decimal (0x20 was never handed out).
    other: ReceiptMatcher[int] = ReceiptMatcher(AUTO)
    for n, upstream_id in enumerate(HEX_IDS[:20], start=1):
        other.expect()
        other.accepted(upstream_id, f"ours-{n}")
    assert other.lookup("20") == (True, "ours-20")
    assert other.reading.receipts_in_other_base is True
    assert other.lookup("10") == (True, "ours-10")


def test_a_receipt_written_like_the_upstreams_ids_is_not_read_in_the_other_base() -> None:
    # The receipt of "0000000000000010" overtakes its resp: it is held, not taken for the
    # decimal ten that "000000000000000a" is.
    matcher: ReceiptMatcher[str] = ReceiptMatcher(AUTO)
    matcher.expect()
    matcher.accepted("000000000000000a", "ten")
    matcher.expect()
    assert matcher.receipt(receipt("0000000000000010"), "r16", now=0.0) == []
    [match] = matcher.accepted("0000000000000010", "sixteen")
    assert (match.our_id, match.token) == ("sixteen", "r16")


def test_may_refer_to_tells_a_repeat_from_a_collision() -> None:
    reading = IdReading(AUTO)
    reading.observe("000000000000000a")
    assert reading.may_refer_to("000000000000000a", "000000000000000a")
    assert reading.may_refer_to("10", "000000000000000a")  # decimal of the same number
    assert reading.may_refer_to("A", "000000000000000a")
    assert not reading.may_refer_to("0000000000000010", "000000000000000a")
    assert not reading.may_refer_to("11", "000000000000000a")


@pytest.mark.parametrize(
    ("resp_id", "receipt_id"),
    [
        (
            "A0000001",
            "2684354561",
        ),  # hex resp, decimal receipt (node-server --receipt-id-format dec)
        ("2684354561", "A0000001"),  # decimal resp, hex receipt
        ("10000001", "268435457"),  # hex resp with no letter in it, decimal receipt
        ("268435457", "10000001"),  # decimal resp, hex receipt with no letter in it
        ("0000A0000001", "a0000001"),
    ],
)
def test_auto_matches_an_id_quoted_in_the_other_base(resp_id: str, receipt_id: str) -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(AUTO)
    matcher.expect()
    assert matcher.accepted(resp_id, "ours-1") == []
    [match] = matcher.receipt(receipt(receipt_id), "token", now=0.0)
    assert (match.our_id, match.token, match.was_held) == ("ours-1", "token", False)


def test_configured_base_is_not_second_guessed() -> None:
    assert upstream_id_keys("10", HEX) == ("=10", "hex:16")
    matcher: ReceiptMatcher[str] = ReceiptMatcher(HEX)
    matcher.expect()
    matcher.accepted("10", "ours")
    assert matcher.lookup("16") == (False, None)  # 16 hex is 22
    assert matcher.lookup("0010") == (True, "ours")


def test_id_map_forgets_the_oldest_past_its_bound() -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(DEC, max_ids=2)
    for n in range(3):
        matcher.expect()
        matcher.accepted(str(n), f"ours-{n}")
    assert matcher.known == 2
    assert matcher.lookup("0") == (False, None)
    assert matcher.lookup("2") == (True, "ours-2")


def test_duplicate_receipt_still_matches() -> None:
    matcher: ReceiptMatcher[int] = ReceiptMatcher(DEC)
    matcher.expect()
    matcher.accepted("7", "ours")
    assert [m.our_id for m in matcher.receipt(receipt("7"), 1, now=0.0)] == ["ours"]
    assert [m.our_id for m in matcher.receipt(receipt("7"), 2, now=0.0)] == ["ours"]


# -- receipts ahead of their submit_sm_resp -------------------------------------------------------


def test_receipt_before_its_resp_is_held_then_matched() -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(HEX)
    matcher.expect()
    assert matcher.receipt(receipt("a0000001"), "deliver-1", now=10.0) == []
    assert matcher.held == 1
    [match] = matcher.accepted("A0000001", "ours-1")
    assert (match.our_id, match.token, match.was_held) == ("ours-1", "deliver-1", True)
    assert matcher.held == 0
    assert matcher.next_deadline() is None


def test_early_receipt_in_other_base_is_matched_when_resp_arrives() -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(AUTO)
    matcher.expect()
    matcher.expect()
    assert matcher.receipt(receipt("2684354562"), "r2", now=0.0) == []
    assert matcher.accepted("A0000001", "ours-1") == []  # not this one's receipt
    [match] = matcher.accepted("A0000002", "ours-2")
    assert (match.our_id, match.token) == ("ours-2", "r2")


def test_held_receipt_comes_out_unmatched_after_the_hold_timeout() -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(DEC, hold_timeout=5.0)
    matcher.expect()
    matcher.receipt(receipt("99"), "r", now=100.0)
    assert matcher.next_deadline() == 105.0
    assert matcher.expire(now=104.9) == []
    [match] = matcher.expire(now=105.0)
    assert (match.our_id, match.token, match.was_held) == (None, "r", True)
    assert matcher.held == 0
    # Its resp arriving later finds nothing held: the receipt was already handed over.
    assert matcher.accepted("99", "ours") == []


def test_held_receipts_are_bounded_oldest_released_first() -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(DEC, max_held=2)
    matcher.expect()
    matcher.expect()
    assert matcher.receipt(receipt("1"), "r1", now=0.0) == []
    assert matcher.receipt(receipt("2"), "r2", now=0.0) == []
    [released] = matcher.receipt(receipt("3"), "r3", now=0.0)
    assert (released.our_id, released.token) == (None, "r1")
    assert matcher.held == 2
    [match] = matcher.accepted("3", "ours-3")
    assert (match.our_id, match.token) == ("ours-3", "r3")
    assert matcher.held == 1  # r2 waits for the other awaited submit


def test_unknown_receipt_with_nothing_awaited_is_not_held() -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(DEC)
    [match] = matcher.receipt(receipt("5"), "r", now=0.0)
    assert (match.our_id, match.was_held) == (None, False)
    assert matcher.held == 0


def test_last_awaited_submit_failing_releases_every_held_receipt() -> None:
    matcher: ReceiptMatcher[str] = ReceiptMatcher(DEC)
    matcher.expect()
    matcher.expect()
    matcher.receipt(receipt("5"), "r5", now=0.0)
    matcher.receipt(receipt("6"), "r6", now=0.0)
    assert matcher.settled() == []  # one submit still awaited: its id may be 5 or 6
    released = matcher.settled()
    assert sorted((m.token, m.our_id) for m in released) == [("r5", None), ("r6", None)]


# -- back-off, password, bind ----------------------------------------------------------------


def test_reconnect_delay_grows_with_jitter_within_bounds() -> None:
    rng = random.Random(7)
    for failures in range(1, 12):
        ceiling = min(60.0, 1.0 * 2 ** (failures - 1))
        for _ in range(50):
            delay = reconnect_delay(failures, 1.0, 60.0, rng)
            assert max(1.0, ceiling / 2) <= delay <= ceiling
    assert reconnect_delay(1000, 1.0, 60.0, rng) <= 60.0
    assert reconnect_delay(3, 2.0, 2.0, rng) == 2.0


def _client(**fields: object) -> ConnectorSettings:
    base: dict[str, object] = {"name": "up", "host": "127.0.0.1", "system_id": "gw"}
    base.update(fields)
    return ConnectorSettings(**base)  # type: ignore[arg-type]


def test_password_comes_from_file_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert resolve_password(_client(password_file=secret)) == "s3cret"
    monkeypatch.setenv("UPSTREAM_PW", "envpw")
    assert resolve_password(_client(password_env="UPSTREAM_PW")) == "envpw"
    monkeypatch.delenv("UPSTREAM_PW")
    with pytest.raises(ConfigError, match="UPSTREAM_PW"):
        resolve_password(_client(password_env="UPSTREAM_PW"))
    assert resolve_password(_client()) == ""


def test_bind_request_carries_the_configured_fields() -> None:
    config = _client(
        password="pw",
        system_type="VMA",
        interface_version=SMPP_V50,
        addr_ton=1,
        address_range="^316",
        bind=ConnectorBind.PAIR,
    )
    pdu = bind_request(config, BindMode.RECEIVER, "pw")
    assert isinstance(pdu, BindReceiver)
    assert (pdu.system_id, pdu.password, pdu.system_type) == ("gw", "pw", "VMA")
    assert (pdu.interface_version, pdu.addr_ton, pdu.address_range) == (0x50, 1, "^316")
    assert isinstance(bind_request(config, BindMode.TRANSCEIVER, "pw"), BindTransceiver)
