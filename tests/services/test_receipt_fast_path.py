"""engine.receipts.build_receipt builds the record directly; the general path (through
smpp.build_receipt_pdu and StoredMessage.from_pdu) is the reference it must equal, refusals
included."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from opensmsc.engine import receipts
from opensmsc.smpp.constants import MessageState, Tag
from opensmsc.smpp.tlv import EMPTY_TLVS, encode_tlvs
from opensmsc.store import Address, StoredMessage


def _outcome(fn: Any, record: StoredMessage, **kw: Any) -> tuple[Any, ...]:
    try:
        return ("ok", fn(record, **kw))
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))


def _general(record: StoredMessage, **kw: Any) -> StoredMessage:
    dlvrd = kw.pop("dlvrd")
    receipted = kw.pop("receipted_message_id") or record.message_id
    return receipts._build_receipt_general(
        record,
        dlvrd=(1 if kw["state"] is MessageState.DELIVERED else 0) if dlvrd is None else dlvrd,
        receipted=receipted,
        text=receipts.receipt_text(record),
        **kw,
    )


def test_the_direct_receipt_equals_the_general_one() -> None:
    rnd = random.Random(5)
    for _ in range(3000):
        submitted = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rnd.randint(0, 10**8))
        tlvs = EMPTY_TLVS
        if rnd.random() < 0.3:
            tlvs = tlvs.with_(Tag.USER_MESSAGE_REFERENCE, rnd.randint(0, 65535))
        if rnd.random() < 0.2:
            tlvs = tlvs.with_(Tag.SOURCE_PORT, 5)
        record = StoredMessage(
            message_id=rnd.choice(["abc", "0123456789abcdef", "x" * 64, "x" * 65, "a b", "é1"]),
            system_id="esme1",
            source=Address(1, 1, "12345"),
            destination=Address(2, 3, "456"),
            esm_class=rnd.choice([0, 0x40]),
            data_coding=rnd.choice([0, 8, 3]),
            short_message=rnd.choice(
                [b"hello world, longer than twenty", b"\x05\x00\x03\x01\x02\x01hi", b""]
            ),
            tlvs=encode_tlvs(tlvs),
            submitted_at=submitted,
            due_at=submitted,
            expires_at=submitted + timedelta(days=1),
            last_error=rnd.choice([None, 5]),
        )
        kw: dict[str, Any] = {
            "receipt_id": "r1",
            "state": rnd.choice(list(MessageState)),
            "at": submitted + timedelta(seconds=rnd.randint(0, 10**6)),
            "expires_at": submitted + timedelta(seconds=rnd.randint(-10, 10**6)),
            "error": rnd.choice([None, 0, 1, 34, 999, 1000, 70000]),
            "sub": rnd.choice([1, 3, 999, 1000]),
            "dlvrd": rnd.choice([None, 0, 2, 1000]),
            "intermediate": rnd.random() < 0.2,
            "receipted_message_id": rnd.choice([None, "other", "with space"]),
        }
        assert _outcome(receipts.build_receipt, record, **kw) == _outcome(
            _general, record, **dict(kw)
        ), kw
