"""Jasmin's HTTP and REST APIs against a running node, with the request shapes Jasmin's
documentation and code show: every answer byte for byte (Jasmin's own texts and statuses), the
messages stored as the JSON API stores them, and delivery reports at levels 1, 2 and 3 posted
to a local receiver as Jasmin posts them, retried until it answers `ACK/Jasmin`."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from opensmsc.smpp import MessageState
from opensmsc.store import Change, Direction, MessageQuery, StoredMessage, system_clock

from .api_node import PASSWORD, Node, api_node
from .webhook_receiver import Received, webhook_receiver

QUICK = """
webhook_backoff = 0.05
webhook_max_backoff = 0.2
webhook_timeout = 1
"""
ACK = b"ACK/Jasmin"
CREDENTIALS = {"username": "esme1", "password": PASSWORD}
TO = "447700900123"
SUCCESS = re.compile(rb'^Success "([0-9a-f-]{36})"$')


def _id(body: bytes) -> str:
    match = SUCCESS.match(body)
    assert match is not None, body
    # Jasmin's own tests cut the id out by position.
    assert body[:7] == b"Success" and body[9:45] == match.group(1)
    uuid.UUID(match.group(1).decode())
    return match.group(1).decode()


def _ours(jasmin_id: str) -> str:
    return jasmin_id.replace("-", "")[:16]


async def _messages(node: Node) -> list[StoredMessage]:
    records, _ = await node.store.find(MessageQuery(system_id="esme1", limit=1000))
    return records


def _unauthenticated(node: Node) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=str(node.client.base_url), timeout=10)


async def test_send_by_get_form_post_and_json_post(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node, _unauthenticated(node) as client:
        args = {**CREDENTIALS, "to": TO, "content": "Hello", "from": "Example"}
        by_get = await client.get("/send", params=args)
        assert by_get.status_code == 200
        assert by_get.headers["content-type"] == "text/plain"
        by_form = await client.post("/send", data={**args, "content": "Hello form"})
        by_json = await client.post(
            "/send",
            content=json.dumps({**args, "to": int(TO), "content": "Hello json"}),
            headers={"content-type": "application/json"},
        )
        boundary = "jasminboundary"
        multipart = (
            b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
                for name, value in {**args, "content": "Hello multipart"}.items()
            )
            + f"--{boundary}--\r\n".encode()
        )
        by_multipart = await client.post(
            "/send",
            content=multipart,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        # Twisted separates arguments with ";" as with "&".
        by_semicolons = await client.get(
            "/send?username=esme1;password=" + PASSWORD + ";to=" + TO + ";content=Semi"
        )
        answers = (by_get, by_form, by_json, by_multipart, by_semicolons)
        ids = [_ours(_id(r.content)) for r in answers]
        assert [r.status_code for r in answers] == [200] * 5
        stored = {r.message_id: r for r in await _messages(node)}
        assert set(ids) <= set(stored)
        texts = [stored[i].short_message for i in ids]
        assert texts == [b"Hello", b"Hello form", b"Hello json", b"Hello multipart", b"Semi"]
        first = stored[ids[0]]
        assert first.destination.addr == TO and first.source.addr == "Example"
        assert first.data_coding == 0 and first.registered_delivery == 0


async def test_coding_hex_content_priority_validity_and_schedule(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node, _unauthenticated(node) as client:
        ucs2 = "Привет".encode("utf-16-be").hex()
        answer = await client.get(
            "/send",
            params={
                **CREDENTIALS,
                "to": "+" + TO,
                "coding": "8",
                "hex-content": ucs2,
                "priority": "2",
                "validity-period": "2880",  # minutes: two days from now
                "sdt": "000001000000000R",  # in one day
            },
        )
        record = await node.store.get(_ours(_id(answer.content)))
        assert record is not None
        assert record.data_coding == 8 and record.short_message == bytes.fromhex(ucs2)
        assert record.priority_flag == 2
        assert record.state is MessageState.SCHEDULED
        assert (record.due_at - record.submitted_at).total_seconds() == pytest.approx(86_400, abs=2)
        # coding 0: the UTF-8 content in the GSM alphabet, a character it lacks as "?"
        gsm = await client.get("/send", params={**CREDENTIALS, "to": TO, "content": "café ☺"})
        record = await node.store.get(_ours(_id(gsm.content)))
        assert record is not None and record.data_coding == 0
        assert record.short_message == b"caf\x05 ?"  # é is 0x05 in GSM 03.38


# (arguments, HTTP status, body): Jasmin's texts, from send.py, validation.py, errors.py and
# the strings its tests assert.
SEND_ERRORS = [
    ({}, 400, b'Error "Mandatory argument [to] is not found."'),
    ({"text": "Hi", **CREDENTIALS, "to": TO}, 400, b'Error "Argument [text] is unknown."'),
    (
        {**CREDENTIALS, "to": TO, "content": "x", "priority": "5"},
        400,
        b'Error "Argument [priority] has an invalid value: [5]."',
    ),
    (
        {"username": "esme1", "to": TO, "content": "x"},
        400,
        b'Error "Mandatory argument [password] is not found."',
    ),
    (
        {**CREDENTIALS, "to": "07700 900123", "content": "x"},
        400,
        b'Error "Argument [to] has an invalid value: [07700 900123]."',
    ),
    ({**CREDENTIALS, "to": TO}, 400, b'Error "content or hex-content not present."'),
    (
        {**CREDENTIALS, "to": TO, "content": "x", "hex-content": "78"},
        400,
        b'Error "content and hex-content cannot be used both in same request."',
    ),
    (
        {**CREDENTIALS, "to": TO, "hex-content": "zz"},
        400,
        b"Error \"Invalid hex-content data: 'b'zz''\"",
    ),
    (
        {**CREDENTIALS, "to": TO, "content": "x", "dlr-url": "ftp://example.com/"},
        400,
        b'Error "Argument [dlr-url] has an invalid value: [ftp://example.com/]."',
    ),
    (
        {**CREDENTIALS, "to": TO, "content": "x", "dlr": "maybe"},
        400,
        b'Error "Argument [dlr] has an invalid value: [maybe]."',
    ),
    (
        {**CREDENTIALS, "to": TO, "content": "x", "dlr-level": "4"},
        400,
        b'Error "Argument [dlr-level] has an invalid value: [4]."',
    ),
    (
        {**CREDENTIALS, "to": TO, "content": "x", "coding": "11"},
        400,
        b'Error "Argument [coding] has an invalid value: [11]."',
    ),
    (
        {"username": "esme1", "password": "wrong", "to": TO, "content": "x"},
        403,
        b'Error "Authentication failure for username:esme1"',
    ),
    (
        {"username": "nobody", "password": "x", "to": TO, "content": "x"},
        403,
        b'Error "Authentication failure for username:nobody"',
    ),
    (
        {"username": "a" * 17, "password": "x", "to": TO, "content": "x"},
        400,
        b'Error "Argument [username] has an invalid value: [' + b"a" * 17 + b']."',
    ),
]


async def test_send_errors_byte_for_byte(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node, _unauthenticated(node) as client:
        for params, status, body in SEND_ERRORS:
            answer = await client.get("/send", params=params)
            assert (answer.status_code, answer.content) == (status, body), params
            assert answer.headers["content-type"] == "text/plain"
            # The same through a form POST.
            posted = await client.post("/send", data=params)
            assert (posted.status_code, posted.content) == (status, body), params
        not_json = await client.post(
            "/send", content=b"to=1", headers={"content-type": "application/json"}
        )
        assert not_json.status_code == 500
        assert (
            not_json.content == b'Error "Unknown error: Expecting value: line 1 column 1 (char 0)"'
        )
        # A JSON number where Jasmin's regex wants text is read as its text.
        json_priority = await client.post(
            "/send",
            json={**CREDENTIALS, "to": int(TO), "content": "x", "priority": 7},
        )
        assert json_priority.content == b'Error "Argument [priority] has an invalid value: [7]."'
        # Octets that are not UTF-8: a username Jasmin cannot decode, a sender we cannot use.
        bad_user = await client.get("/send?username=%FF&password=x&to=" + TO + "&content=x")
        assert (bad_user.status_code, bad_user.content) == (
            500,
            b"Error \"Unknown error: 'utf-8' codec can't decode byte 0xff in position 0: "
            b'invalid start byte"',
        )
        bad_from = await client.get(
            "/send?username=esme1&password=" + PASSWORD + "&to=" + TO + "&content=x&from=%FF"
        )
        assert (bad_from.status_code, bad_from.content) == (
            400,
            b'Error "Argument [from] has an invalid value: [\xff]."',
        )
        # Answers Jasmin's own code gives for JSON it cannot use (checked against jasmin 0.11.0).
        for document, body in [
            ([1], b"Error \"Unknown error: 'list' object has no attribute 'items'\""),
            (
                {**CREDENTIALS, "to": TO, "content": "x", "dlr-method": 5},
                b"Error \"Unknown error: 'int' object has no attribute 'upper'\"",
            ),
            (
                {**CREDENTIALS, "to": TO, "content": None},
                b"Error \"Unknown error: 'NoneType' object has no attribute 'encode'\"",
            ),
            (
                {**CREDENTIALS, "to": TO, "content": "x", "dlr": True},
                b'Error "Argument [dlr] has an invalid value: [True]."',
            ),
        ]:
            answer = await client.post("/send", json=document)
            assert (answer.status_code, answer.content) == (
                500 if b"Unknown" in body else 400,
                body,
            ), document
        assert await _messages(node) == []


async def test_api_disabled_and_throughput_answers(tmp_path: Path) -> None:
    async with (
        api_node(tmp_path, account="api_enabled = false") as node,
        _unauthenticated(node) as client,
    ):
        answer = await client.get("/send", params={**CREDENTIALS, "to": TO, "content": "x"})
        assert (answer.status_code, answer.content) == (
            403,
            b'Error "Authentication failure for username:esme1"',
        )
    async with (
        api_node(tmp_path / "t", account="throughput = 1") as node,
        _unauthenticated(node) as client,
    ):
        params = {**CREDENTIALS, "to": TO, "content": "x"}
        first = await client.get("/send", params=params)
        second = await client.get("/send", params=params)
        assert first.status_code == 200
        assert (second.status_code, second.content) == (
            403,
            b'Error "User throughput exceeded"',
        )
        assert len(await _messages(node)) == 1


async def test_balance_rate_and_ping(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node, _unauthenticated(node) as client:
        balance = await client.get("/balance", params=CREDENTIALS)
        assert (balance.status_code, balance.content) == (
            200,
            b'{"balance": "ND", "sms_count": "ND"}',
        )
        assert balance.headers["content-type"] == "application/json"
        wrong = await client.get("/balance", params={"username": "esme1", "password": "no"})
        assert (wrong.status_code, wrong.content) == (
            403,
            b'"Authentication failure for username:esme1"',
        )
        empty = await client.get("/balance")
        assert (empty.status_code, empty.content) == (
            400,
            b'"Mandatory arguments not found, please refer to the HTTPAPI specifications."',
        )
        rate = await client.get("/rate", params={**CREDENTIALS, "to": TO, "content": "x" * 200})
        assert (rate.status_code, rate.content) == (
            200,
            b'{"unit_rate": 0.0, "submit_sm_count": 2}',
        )
        no_to = await client.get("/rate", params=CREDENTIALS)
        assert (no_to.status_code, no_to.content) == (
            400,
            b'"Mandatory argument [to] is not found."',
        )
        bad_rate = await client.get("/rate", params={**CREDENTIALS, "to": TO, "dlr": "yes"})
        assert bad_rate.content == b'"Argument [dlr] is unknown."'
        ping = await client.get("/ping")
        assert (ping.status_code, ping.content) == (200, b"Jasmin/PONG")
        json_ping = await client.get("/ping", headers={"accept": "application/json"})
        assert json_ping.content == b'{"data": "Jasmin/PONG"}'
        assert await _messages(node) == []  # /rate stores nothing


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


LINK = {
    "text": "Documentation related to this error",
    "href": "http://docs.jasminsms.com/en/latest/apis/rest/index.html",
    "rel": "help",
}


async def test_rest_api_send_balance_rate(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node, _unauthenticated(node) as client:
        auth = _basic("esme1", PASSWORD)
        sent = await client.post(
            "/secure/send",
            json={
                "to": int(TO),
                "from": "Jookies",
                "content": "Hello",
                "dlr_level": 2,
                "dlr_url": "http://127.0.0.1:9/dlr",
            },
            headers=auth,
        )
        assert sent.status_code == 200 and sent.headers["content-type"] == "application/json"
        data = sent.json()["data"]
        # Jasmin's proxy strips the quotes at both ends: the closing one is gone.
        assert re.fullmatch(r'Success "[0-9a-f-]{36}', data), data
        assert sent.content == json.dumps({"data": data}).encode()
        record = await node.store.get(_ours(data[9:45]))
        assert record is not None and record.callback_url == "http://127.0.0.1:9/dlr"
        assert record.registered_delivery == 1
        wrong = await client.post(
            "/secure/send", json={"to": TO, "content": "x"}, headers=_basic("esme1", "no")
        )
        assert (wrong.status_code, wrong.content) == (
            403,
            b'{"message": "Error \\"Authentication failure for username:esme1"}',
        )
        invalid = await client.post(
            "/secure/send", json={"to": TO, "content": "x", "priority": 9}, headers=auth
        )
        assert (invalid.status_code, invalid.json()) == (
            400,
            {"message": 'Error "Argument [priority] has an invalid value: [9].'},
        )
        anonymous = await client.post("/secure/send", json={"to": TO, "content": "x"})
        assert anonymous.status_code == 401
        assert anonymous.json() == {
            "title": "Authentication required",
            "description": "Please provide a valid Basic auth token",
            "link": LINK,
        }
        garbled = await client.post(
            "/secure/send", content=b"{nope", headers={**auth, "content-type": "application/json"}
        )
        assert garbled.status_code == 412
        assert garbled.json() == {
            "title": "Cannot parse JSON data",
            "description": "Got unparseable json data: b'{nope'",
        }
        plain = await client.post(
            "/secure/send", json={"to": TO}, headers={**auth, "accept": "text/plain"}
        )
        assert (plain.status_code, plain.content) == (415, b"")
        balance = await client.get("/secure/balance", headers=auth)
        assert balance.content == b'{"data": {"balance": "ND", "sms_count": "ND"}}'
        rate = await client.get("/secure/rate", params={"to": TO}, headers=auth)
        assert rate.content == b'{"data": {"unit_rate": 0.0, "submit_sm_count": 1}}'


async def test_rest_sendbatch_stores_every_message_and_calls_back(tmp_path: Path) -> None:
    async with (
        webhook_receiver(lambda n: 200) as receiver,
        api_node(tmp_path) as node,
        _unauthenticated(node) as client,
    ):
        batch = await client.post(
            "/secure/sendbatch",
            json={
                "globals": {"from": "Jookies"},
                "messages": [
                    {"to": ["447700900001", "447700900002"], "content": "Hello"},
                    {"to": "447700900003", "hex_content": "48656c6c6f"},
                    {"to": "447700900004", "content": "x", "priority": 9},
                    {"content": "no destination: skipped"},
                ],
                "batch_config": {
                    "callback_url": receiver.url,
                    "errback_url": receiver.url + "/err",
                },
            },
            headers=_basic("esme1", PASSWORD),
        )
        assert batch.status_code == 200, batch.text
        data = batch.json()["data"]
        assert data["messageCount"] == 4 and uuid.UUID(data["batchId"])
        stored = await _messages(node)
        assert sorted(r.destination.addr for r in stored) == [
            "447700900001",
            "447700900002",
            "447700900003",
        ]
        await receiver.wait_for(lambda: len(receiver.requests) >= 4)
        calls = [dict(parse_qsl(urlsplit(r.path).query)) for r in receiver.requests]
        by_to = {
            c["to"]: (urlsplit(r.path).path, c)
            for c, r in zip(calls, receiver.requests, strict=True)
        }
        path, failed = by_to["447700900004"]
        assert path == "/hooks/err" and failed["status"] == "0"
        assert failed["statusText"] == (
            'HTTPAPI error: Error "Argument [priority] has an invalid value: [9].'
        )
        path, ok = by_to["447700900003"]
        assert path == "/hooks" and ok["status"] == "1" and ok["batchId"] == data["batchId"]
        assert _ours(SUCCESS.match(ok["statusText"].encode()).group(1).decode()) in {  # type: ignore[union-attr]
            r.message_id for r in stored
        }
        refused = await client.post(
            "/secure/sendbatch", json={"messages": []}, headers=_basic("esme1", "no")
        )
        assert (refused.status_code, refused.json()) == (
            412,
            {
                "title": "Authentication failed",
                "description": "Authentication failed for user: esme1",
            },
        )
        scheduled = await client.post(
            "/secure/sendbatch",
            json={
                "messages": [{"to": TO, "content": "later"}],
                "batch_config": {"schedule_at": "3600s"},
            },
            headers=_basic("esme1", PASSWORD),
        )
        assert scheduled.json()["data"]["scheduled"] == "3600s"
        later = [r for r in await _messages(node) if r.short_message == b"later"]
        assert later and later[0].state is MessageState.SCHEDULED


def _fields(request: Received) -> list[tuple[str, str]]:
    if request.body:
        return parse_qsl(request.body.decode(), keep_blank_values=True)
    return parse_qsl(urlsplit(request.path).query, keep_blank_values=True)


LEVEL_2_NAMES = [
    "id", "level", "message_status", "connector", "id_smsc", "sub", "dlvrd", "subdate",
    "donedate", "err", "text",
]  # fmt: skip


@pytest.mark.parametrize("level", [1, 2, 3])
async def test_dlr_levels_as_jasmin_sends_them(tmp_path: Path, level: int) -> None:
    async with (
        webhook_receiver(lambda n: 200, reply=ACK) as receiver,
        api_node(tmp_path, api=QUICK) as node,
        _unauthenticated(node) as client,
    ):
        answer = await client.get(
            "/send",
            params={
                **CREDENTIALS,
                "to": TO,
                "content": "Hello",
                "dlr-url": receiver.url,
                "dlr-level": str(level),
            },
        )
        jasmin_id = _id(answer.content)
        expected = 2 if level == 3 else 1
        await receiver.wait_for(lambda: len(receiver.requests) >= expected)
        await receiver.wait_for(lambda: True, 0.3)  # nothing more comes
        assert len(receiver.requests) == expected
        reports = [dict(_fields(r)) for r in receiver.requests]
        for request in receiver.requests:
            assert request.headers["content-type"] == "application/x-www-form-urlencoded"
            assert request.headers["accept"] == "text/plain"
            assert request.headers["user-agent"] == "Jasmin gateway/1.0 DLRThrower"
            assert request.path == "/hooks"  # POST by default: the fields are the body
        if level in (1, 3):
            names = [name for name, _ in _fields(receiver.requests[0])]
            assert names == ["id", "level", "message_status", "connector"]
            assert reports[0] == {
                "id": jasmin_id,
                "level": "1",
                "message_status": "ESME_ROK",
                "connector": "network",  # the route that delivers it
            }
        if level in (2, 3):
            names = [name for name, _ in _fields(receiver.requests[-1])]
            assert names == LEVEL_2_NAMES
            final = reports[-1]
            assert final["id"] == jasmin_id and final["level"] == "2"
            assert final["message_status"] == "DELIVRD"
            assert final["id_smsc"] == final["connector"] == _ours(jasmin_id)
            assert (final["sub"], final["dlvrd"], final["err"]) == ("001", "001", "000")
            assert re.fullmatch(r"\d{10}", final["subdate"]) and re.fullmatch(
                r"\d{10}", final["donedate"]
            )
            assert final["text"] == "Hello"
        # Every report acknowledged: ended DELIVERED in the store.
        await _until_delivered(tmp_path, expected)


def _webhook_states(data_dir: Path) -> list[MessageState]:
    """The states of every stored callback (receipts with a URL), oldest first."""
    with sqlite3.connect(data_dir / "messages.sqlite3") as db:
        rows = db.execute(
            "SELECT state FROM message WHERE direction = 3 AND callback_url IS NOT NULL"
            " ORDER BY seq"
        ).fetchall()
    return [MessageState(state) for (state,) in rows]


async def _until_delivered(data_dir: Path, count: int) -> None:
    states: list[MessageState] = []
    for _ in range(100):
        states = _webhook_states(data_dir)
        if len(states) == count and all(s is MessageState.DELIVERED for s in states):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"callbacks not all acknowledged: {states}")


async def test_a_report_is_retried_until_acknowledged_by_get(tmp_path: Path) -> None:
    # A 200 without the acknowledgement, a 404 (Jasmin's no-retry check never matches: it
    # retries a 404 too), a 500, then ACK/Jasmin.
    async with webhook_receiver(lambda n: 200) as receiver:

        def script(n: int) -> int:
            receiver.reply = ACK if n >= 3 else b"OK"
            return [200, 404, 500][n] if n < 3 else 200

        receiver.script = script
        async with api_node(tmp_path, api=QUICK) as node, _unauthenticated(node) as client:
            answer = await client.get(
                "/send",
                params={
                    **CREDENTIALS,
                    "to": TO,
                    "content": "Hello",
                    "dlr-url": receiver.url + "?mine=1",
                    "dlr-level": "2",
                    "dlr-method": "get",
                },
            )
            jasmin_id = _id(answer.content)
            await receiver.wait_for(lambda: len(receiver.requests) >= 4)
            await _until_delivered(tmp_path, 1)
            assert [r.status for r in receiver.requests] == [200, 404, 500, 200]
            for request in receiver.requests:
                assert request.body == b""  # a GET: the fields are in the query
                fields = _fields(request)
                assert fields[0] == ("mine", "1")  # the dlr-url's own query kept first
                assert [name for name, _ in fields[1:]] == LEVEL_2_NAMES
                assert dict(fields)["id"] == jasmin_id
            assert len({r.path for r in receiver.requests}) == 1  # each retry the same report


@pytest.mark.parametrize("receipts", ["per_part", "whole"])
async def test_a_long_message_has_one_report_under_its_id(tmp_path: Path, receipts: str) -> None:
    account = f'long_message_receipts = "{receipts}"'
    async with (
        webhook_receiver(lambda n: 200, reply=ACK) as receiver,
        api_node(tmp_path, api=QUICK, account=account) as node,
        _unauthenticated(node) as client,
    ):
        answer = await client.post(
            "/send",
            data={
                **CREDENTIALS,
                "to": TO,
                "content": "long " * 80,
                "dlr-url": receiver.url,
                "dlr-level": "3",
            },
        )
        jasmin_id = _id(answer.content)
        parts = await _messages(node)
        assert len(parts) == 3 and parts[0].message_id == _ours(jasmin_id)
        # As Jasmin: asked on the last part; on every part when the account's receipts are
        # per long message (one comes when the last part ends, whichever it is).
        wanted = [0, 0, 1] if receipts == "per_part" else [1, 1, 1]
        assert [p.registered_delivery for p in parts] == wanted
        await receiver.wait_for(lambda: len(receiver.requests) >= 2)
        await _until_delivered(tmp_path, 2)
        reports = [dict(_fields(r)) for r in receiver.requests]
        assert [(r["id"], r["level"]) for r in reports] == [(jasmin_id, "1"), (jasmin_id, "2")]
        receipted = parts[2] if receipts == "per_part" else parts[0]
        assert reports[1]["id_smsc"] == receipted.message_id


async def test_the_endpoints_can_be_switched_off(tmp_path: Path) -> None:
    async with (
        api_node(tmp_path, api="jasmin_compat = false") as node,
        _unauthenticated(node) as client,
    ):
        for path in ("/send", "/balance", "/rate", "/ping"):
            assert (await client.get(path, params=CREDENTIALS)).status_code == 404
        assert (await client.post("/secure/send", json={})).status_code == 404
        # The JSON API is unchanged.
        sent = await node.client.post(
            "/v1/messages", json={"to": "+" + TO, "from": "Example", "text": "x"}
        )
        assert sent.status_code == 201


HANDSET = "447700900001"
SHORT_CODE = "5000"


def _mo_account(receiver_url: str, style: str) -> str:
    return f"""
        webhook_url = "{receiver_url}"
        mo_style = "{style}"
        mo_prefixes = ["{SHORT_CODE}"]
        """


async def test_an_mo_reaches_the_account_as_jasmins_http_connectors_get_it(
    tmp_path: Path,
) -> None:
    async with webhook_receiver(lambda n: 200, reply=ACK) as receiver:
        account = _mo_account(receiver.url, "jasmin;method=POST;connector=smsc-1")
        async with api_node(tmp_path, account=account) as node:
            network = node.running.network
            assert network is not None
            sent = await network.send_mo("+" + HANDSET, SHORT_CODE, "STOP ça")
            assert sent.is_accepted
            await receiver.wait_for(lambda: len(receiver.requests) >= 1)
            (request,) = receiver.requests
            assert request.path == "/hooks"
            assert request.headers["content-type"] == "application/x-www-form-urlencoded"
            assert request.headers["user-agent"] == "Jasmin gateway/1.0 deliverSmHttpThrower"
            fields = parse_qsl(request.body.decode(), keep_blank_values=True, encoding="latin-1")
            names = [name for name, _ in fields]
            assert names == [
                "id", "from", "to", "origin-connector", "content", "binary", "priority", "coding",
            ]  # fmt: skip
            mo = dict(fields)
            assert (mo["from"], mo["to"], mo["origin-connector"]) == (HANDSET, SHORT_CODE, "smsc-1")
            record = await node.store.get(_ours(mo["id"]))
            assert record is not None and record.direction is Direction.MO
            assert bytes.fromhex(mo["binary"]) == record.short_message
            assert mo["content"].encode("latin-1") == record.short_message
            # data_coding as Jasmin's code sends it: one raw octet.
            assert mo["coding"] == chr(record.data_coding) and mo["priority"] == "0"
            for _ in range(50):
                record = await node.store.get(record.message_id)
                if record is not None and record.state is MessageState.DELIVERED:
                    break
                await asyncio.sleep(0.05)
            assert record is not None and record.state is MessageState.DELIVERED


async def test_an_mo_not_acknowledged_stays_stored_and_goes_again_by_get(tmp_path: Path) -> None:
    async with (
        webhook_receiver(lambda n: 200, reply=b"thanks") as receiver,
        api_node(tmp_path, account=_mo_account(receiver.url, "jasmin")) as node,
    ):
        network = node.running.network
        assert network is not None
        await network.send_mo("+" + HANDSET, SHORT_CODE, "HELP")
        await receiver.wait_for(lambda: len(receiver.requests) >= 1)
        first = receiver.requests[0]
        assert first.body == b"" and first.path.startswith("/hooks?id=")  # GET by default
        message_id = _ours(dict(_fields(first))["id"])
        record = None
        for _ in range(50):
            record = await node.store.get(message_id)
            if record is not None and record.last_error is not None:
                break
            await asyncio.sleep(0.05)
        assert record is not None and record.state is MessageState.ENROUTE
        # The retry is on the schedule (minutes away): bring it forward; acknowledged now.
        receiver.reply = ACK
        now = system_clock()
        change = Change(
            message_id, MessageState.ENROUTE, now, next_attempt_at=now - timedelta(seconds=1)
        )
        assert await node.store.apply((change,)) == [None]
        node.running.engine.scheduler.wake()
        await receiver.wait_for(lambda: len(receiver.requests) >= 2)
        assert receiver.requests[1].path == first.path  # the same MO, the same fields
        for _ in range(50):
            record = await node.store.get(message_id)
            if record is not None and record.state is MessageState.DELIVERED:
                break
            await asyncio.sleep(0.05)
        assert record is not None and record.state is MessageState.DELIVERED


_NAMES = [
    "to", "from", "coding", "username", "password", "priority", "sdt", "validity-period", "dlr",
    "dlr-url", "dlr-level", "dlr-method", "tags", "content", "hex-content", "custom_tlvs", "text",
]  # fmt: skip
_VALUES: list[object] = [
    "esme1", PASSWORD, TO, "+" + TO, "0", "8", "3", "yes", "no", "POST", "get", "", "zz", "4142",
    "http://127.0.0.1:9/d", "000001000000000R", "991399999999000+", "99999999", "é☺\x00",
    "a" * 200, None, 0, 7, 2.5, True, [1, 2], {"a": 1},
]  # fmt: skip
# What Jasmin answers: `Error "..."` (text), a JSON string, or the REST API's JSON object.
_JASMIN_ANSWER = re.compile(rb'^(Success "|Error "|"|\{"(data|message|balance|unit_rate|title)")')


async def test_random_requests_get_only_jasmins_answers(tmp_path: Path) -> None:
    """Random arguments (query, form, JSON) to every endpoint: Jasmin's answers only, never an
    answer of our own error handling (an unhandled error would be an RFC 9457 500)."""
    chance = random.Random(12)
    async with api_node(tmp_path) as node, _unauthenticated(node) as client:
        for _ in range(300):
            path = chance.choice(
                ["/send", "/rate", "/balance", "/secure/send", "/secure/sendbatch"]
            )
            names = chance.sample(_NAMES, chance.randint(0, 8))
            args = {name: chance.choice(_VALUES) for name in names}
            flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in args.items()}
            how = chance.choice(["get", "form", "json"])
            if path == "/secure/send":
                answer = await client.post(path, json=args, headers=_basic("esme1", PASSWORD))
            elif path == "/secure/sendbatch":
                batch = {"messages": [args, chance.choice(_VALUES)], "globals": {"from": "X"}}
                answer = await client.post(path, json=batch, headers=_basic("esme1", PASSWORD))
            elif how == "get" or path != "/send":
                answer = await client.get(path, params=flat)
            elif how == "form":
                answer = await client.post(path, data=flat)
            else:
                answer = await client.post(path, json=args)
            assert _JASMIN_ANSWER.match(answer.content), (path, how, args, answer.content)
            assert answer.status_code in {200, 400, 403, 412, 500}, (path, args, answer.content)
