"""POST /v1/messages against a running node: what is stored (the same record and routing as an
ESME's submit_sm), the answer only after the commit, and every error as its own problem."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opensmsc.errors import StoreUnavailable
from opensmsc.smpp import MessageState, Tag
from opensmsc.sms import parse_udh
from opensmsc.store import Address, Direction

from .api_node import MESSAGE, api_node

PROBLEM = "application/problem+json"


def _message(**fields: Any) -> dict[str, Any]:
    return {**MESSAGE, **fields}


async def test_a_message_is_stored_as_an_esmes_would_be(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.client.post(
            "/v1/messages",
            json=_message(
                text="Hello from HTTP",
                priority=2,
                receipt="final",
                client_reference="order-42",
                callback_url="http://127.0.0.1:9/dlr",  # nothing listens: no network needed
            ),
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["parts"] == 1 and body["encoding"] == "gsm7" and body["data_coding"] == 0
        assert body["ids"] == [body["id"]]
        assert body["client_reference"] == "order-42"
        assert answer.headers["location"] == f"/v1/messages/{body['id']}"
        record = await node.store.get(body["id"])
        assert record is not None
        assert record.system_id == "esme1" and record.direction is Direction.MT
        assert record.destination == Address(1, 1, "447700900123")
        assert record.source == Address(5, 0, "Example")
        assert record.priority_flag == 2 and record.registered_delivery == 1
        assert record.client_reference == "order-42"
        assert record.callback_url == "http://127.0.0.1:9/dlr"
        assert record.short_message == b"Hello from HTTP"  # GSM 7-bit, unpacked
        assert record.expires_at - record.submitted_at == timedelta(days=2)  # the default


async def test_the_message_is_delivered_and_its_receipt_stored_for_the_account(
    tmp_path: Path,
) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.client.post("/v1/messages", json=_message(receipt="final"))
        message_id = answer.json()["id"]
        for _ in range(100):  # the default route delivers at once
            record = await node.store.get(message_id)
            assert record is not None
            if record.is_final:
                break
            await asyncio.sleep(0.05)
        assert record.state is MessageState.DELIVERED
        assert record.route == node.running.engine.settings.default_route
        receipts = await node.store.pending_receipts("esme1", 10)
        assert [r.receipted_message_id for r in receipts] == [message_id]


async def test_a_long_text_is_split_as_smpp_does(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        text = "Привет, мир! " * 20  # 260 UCS-2 characters: 5 parts of 64 (port + concat IEs)
        answer = await node.client.post("/v1/messages", json=_message(text=text, port=3590))
        body = answer.json()
        assert answer.status_code == 201, body
        assert body["parts"] == 5 and body["encoding"] == "ucs2" and body["data_coding"] == 8
        records = [await node.store.get(i) for i in body["ids"]]
        joined = b""
        references = set()
        for seq, record in enumerate(records, start=1):
            assert record is not None and record.concat is not None
            assert (record.concat.seq, record.concat.total) == (seq, 5)
            assert record.esm_class & 0x40  # UDHI
            header, payload = parse_udh(record.short_message)
            assert header.concat is not None and header.concat.sequence == seq
            references.add(header.concat.reference)
            assert header.ports is not None and header.ports.destination == 3590
            joined += payload
        assert len(references) == 1
        assert joined.decode("utf-16-be") == text


async def test_binary_flash_and_forced_alphabets(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        binary = await node.client.post(
            "/v1/messages", json={**MESSAGE, "text": None, "binary": "0a0b0c"}
        )
        assert binary.status_code == 201  # null is absent
        binary = await node.client.post(
            "/v1/messages", json={"to": "+447700900123", "from": "12345", "binary": "0A0B0C"}
        )
        assert binary.status_code == 201, binary.text
        record = await node.store.get(binary.json()["id"])
        assert record is not None
        assert record.short_message == b"\x0a\x0b\x0c" and record.data_coding == 0x04
        assert record.source == Address(3, 0, "12345")  # a short code
        flash = await node.client.post("/v1/messages", json=_message(flash=True))
        record = await node.store.get(flash.json()["id"])
        assert record is not None and record.data_coding == 0xF0  # GSM 7-bit, class 0
        latin = await node.client.post("/v1/messages", json=_message(encoding="latin1"))
        assert latin.json()["encoding"] == "latin1" and latin.json()["data_coding"] == 3
        long_binary = "ff" * 300
        answer = await node.client.post(
            "/v1/messages",
            json={"to": "447700900123", "from": "+447700900999", "binary": long_binary},
        )
        assert answer.status_code == 201 and answer.json()["parts"] == 3
        record = await node.store.get(answer.json()["id"])
        assert record is not None and record.source == Address(1, 1, "447700900999")


async def test_a_schedule_and_a_validity(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        later = datetime.now(UTC) + timedelta(hours=1)
        answer = await node.client.post(
            "/v1/messages", json=_message(scheduled_at=later.isoformat(), validity=7200)
        )
        assert answer.status_code == 201, answer.text
        record = await node.store.get(answer.json()["id"])
        assert record is not None
        assert record.state is MessageState.SCHEDULED
        assert abs(record.due_at - later) < timedelta(milliseconds=1)
        assert record.expires_at - record.submitted_at == timedelta(seconds=7200)
        expired = await node.client.post(
            "/v1/messages", json=_message(scheduled_at=later.isoformat(), validity=60)
        )
        assert expired.status_code == 422
        assert expired.json()["type"] == "urn:opensmsc:problem:invalid-submission"
        assert expired.json()["field"] == "validity"
        assert expired.json()["command_status"] == 0x62  # ESME_RINVEXPIRY


async def test_no_id_without_the_store_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api_node(tmp_path) as node:
        store = node.store

        async def failing(*args: object, **kwargs: object) -> None:
            raise StoreUnavailable("disk full")

        monkeypatch.setattr(store, "submit_many", failing)
        answer = await node.client.post("/v1/messages", json=MESSAGE)
        assert answer.status_code == 503
        assert answer.headers["content-type"] == PROBLEM
        assert "id" not in answer.json()
        monkeypatch.undo()
        assert (await node.client.post("/v1/messages", json=MESSAGE)).status_code == 201


_BASE = {"to": "+447700900123", "from": "x", "text": "a"}
_DROP = object()


def _body(**fields: object) -> bytes:
    merged = {k: v for k, v in {**_BASE, **fields}.items() if v is not _DROP}
    return json.dumps(merged).encode()


_JSON = "application/json"


@pytest.mark.parametrize(
    ("content", "body", "status", "slug", "field"),
    [
        (_JSON, b'{"to": ', 400, "invalid-json", None),
        (_JSON, b"[1, 2]", 422, "validation", "body"),
        ("text/plain", b"to=1", 415, "unsupported-media-type", None),
        (_JSON, _body(to=447700900123), 422, "validation", "to"),
        (_JSON, _body(x=1), 422, "validation", "x"),
        (_JSON, _body(priority="2"), 422, "validation", "priority"),
        (_JSON, _body(priority=4), 422, "validation", "priority"),
        (_JSON, _body(validity=1.5), 422, "validation", "validity"),
        (_JSON, _body(flash=1), 422, "validation", "flash"),
        (_JSON, _body(receipt="yes"), 422, "validation", "receipt"),
        (_JSON, _body(scheduled_at="2030-01-01T00:00:00"), 422, "validation", "scheduled_at"),
        (_JSON, _body(callback_url="ftp://x"), 422, "validation", "callback_url"),
        (_JSON, _body(text=_DROP, binary="abc"), 422, "validation", "binary"),
        (_JSON, _body(text=_DROP), 422, "validation", "body"),
        (_JSON, _body(binary="00"), 422, "validation", "body"),
        (_JSON, _body(to="12"), 400, "invalid-number", "to"),
        (_JSON, _body(to="+999123456789"), 400, "invalid-number", "to"),
        (_JSON, _body(**{"from": "way too long a sender"}), 400, "invalid-number", "from"),
        (_JSON, _body(text="\u20ac", encoding="ia5"), 422, "invalid-submission", "encoding"),
    ],
)
async def test_each_error_is_its_own_problem(
    tmp_path: Path, content: str, body: bytes, status: int, slug: str, field: str | None
) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.client.post(
            "/v1/messages", content=body, headers={"content-type": content}
        )
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == PROBLEM
        problem = answer.json()
        assert problem["type"] == f"urn:opensmsc:problem:{slug}"
        assert problem["status"] == status
        assert problem["detail"]
        if field is not None:
            assert problem["field"] == field, problem
        assert await node.store.due(datetime.now(UTC) + timedelta(days=1), 10) == []


async def test_a_text_longer_than_255_parts_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.client.post("/v1/messages", json=_message(text="ж" * 19_000))
        assert answer.status_code == 422
        problem = answer.json()
        assert problem["field"] == "text" and problem["command_status"] == 1  # ESME_RINVMSGLEN


async def test_an_oversized_body_is_413_and_never_read_whole(tmp_path: Path) -> None:
    async with api_node(tmp_path, api="max_body_size = 2048") as node:
        answer = await node.client.post("/v1/messages", json=_message(text="a" * 3000))
        assert answer.status_code == 413
        assert answer.json()["type"] == "urn:opensmsc:problem:payload-too-large"

        async def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: chunked
            for _ in range(10):
                yield b" " * 1000

        chunked = await node.client.post(
            "/v1/messages", content=chunks(), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413
        assert (await node.client.post("/v1/messages", json=MESSAGE)).status_code == 201


async def test_the_payload_tlv_is_not_used_for_a_long_message(tmp_path: Path) -> None:
    # Parts go as short_message with a UDH, never as one message_payload: what every SMSC
    # downstream takes.
    async with api_node(tmp_path) as node:
        answer = await node.client.post("/v1/messages", json=_message(text="a" * 400))
        assert answer.json()["parts"] == 3
        for message_id in answer.json()["ids"]:
            record = await node.store.get(message_id)
            assert record is not None and record.tlv_values.get(Tag.MESSAGE_PAYLOAD) is None
