"""Kannel's sendsms on a running node: the request shapes of Kannel's user guide and its
clients (RapidSMS, courier), every answer compared octet for octet with gw/smsbox.c's, several
recipients, and delivery reports fetched from a local receiver with the dlr-url's escapes
filled in as Kannel fills them, and all of them after a kill -9 of the node."""

from __future__ import annotations

import re
import signal
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from opensmsc.smpp import MessageState
from opensmsc.store import Address, Direction, MessageQuery, StoredMessage

from . import test_http_api_restart as restart
from .api_node import PASSWORD, Node, api_node
from .webhook_receiver import Received, webhook_receiver

AUTH = f"username=esme1&password={PASSWORD}"
KANNEL_HEADERS = {"content-type": "text/html", "pragma": "no-cache", "cache-control": "no-cache"}
QUICK = """
webhook_backoff = 0.05
webhook_max_backoff = 0.2
webhook_timeout = 1
"""
NETWORK = """
[network]
[[network.subscribers]]
msisdn = "+447700900666"
state = "unknown"
[[network.subscribers]]
msisdn = "+447700900555"
state = "absent"
"""


async def sendsms(node: Node, query: str) -> httpx.Response:
    # The query goes as written: httpx must not re-encode Kannel's `+` and `%2B`.
    return await node.client.get(httpx.URL(f"/cgi-bin/sendsms?{query}"), auth=None)


async def _messages(node: Node) -> list[StoredMessage]:
    records, _ = await node.store.find(MessageQuery(system_id="esme1", limit=1000))
    return [r for r in records if r.direction is Direction.MT]


async def _final(node: Node, message_id: str) -> StoredMessage:
    for _ in range(200):
        record = await node.store.get(message_id)
        if record is not None and record.is_final:
            return record
        await _pause()
    raise AssertionError(f"{message_id} did not end")


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)


def _kannel_answer(answer: httpx.Response, status: int, body: bytes) -> None:
    assert (answer.status_code, answer.content) == (status, body)
    for name, value in KANNEL_HEADERS.items():
        assert answer.headers[name] == value


async def test_the_user_guides_request_is_accepted_and_stored(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        # userguide l.8108: ...sendsms?username=foo&password=bar&to=0123456&text=Hello+world
        answer = await sendsms(node, f"{AUTH}&from=Example&to=%2B447700900123&text=Hello+world")
        _kannel_answer(answer, 202, b"0: Accepted for delivery")
        (record,) = await _messages(node)
        assert record.destination == Address(1, 1, "447700900123")
        assert record.source == Address(5, 0, "Example")
        assert record.short_message == b"Hello world"
        assert record.registered_delivery == 0 and record.callback_url is None


async def test_user_and_pass_and_several_recipients(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        # RapidSMS joins the numbers with spaces: `+` in the URL; a duplicate goes once;
        # a number with characters outside sendsms-chars is dropped, the others go.
        # (and, ours: one without digits or with more than an SMPP address holds)
        to = "447700900123+447700900124+%2B447700900125+447700900123+44abc+--+" + "1" * 21
        answer = await sendsms(node, f"user=esme1&pass={PASSWORD}&from=4000&to={to}&text=hi")
        _kannel_answer(answer, 202, b"0: Accepted for delivery")
        records = await _messages(node)
        assert sorted(r.destination.addr for r in records) == [
            "447700900123",
            "447700900124",
            "447700900125",
        ]
        assert {r.source for r in records} == {Address(3, 0, "4000")}


async def test_content_codings_charset_udh_class_validity_priority(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        base = f"{AUTH}&from=Example&to=447700900123"
        cases = [
            # coding 2 without charset: the text is UTF-16BE octets
            ("&coding=2&text=%00H%04%16", 0x08, b"\x00H\x04\x16", 0),
            # coding 2 with a charset: converted from it
            ("&coding=2&charset=UTF-8&text=%D0%96", 0x08, b"\x04\x16", 0),
            # coding 0: Latin-1 text converted; what GSM lacks becomes `?`
            ("&coding=0&charset=ISO-8859-1&text=%E9%D0", 0x00, b"\x05?", 0),
            # coding 1: octets as given
            ("&coding=1&text=%00%FF", 0x04, b"\x00\xff", 0),
            # no coding: the cheapest alphabet that holds the text
            ("&text=%D0%96", 0x08, b"\x04\x16", 0),
            # a udh: 8-bit by default, sent as given, UDHI set
            (
                "&udh=%06%05%04%0B%84%23%F0&text=%01%02",
                0x04,
                b"\x06\x05\x04\x0b\x84\x23\xf0\x01\x02",
                0x40,
            ),
            # mclass 0 (flash) in GSM 7-bit
            ("&mclass=0&text=x", 0xF0, b"x", 0),
            # mwi: set voicemail (store, GSM), clear fax (discard), set e-mail in UCS2, set
            # fax without text (discard); the class does not apply
            ("&mwi=0&mclass=1&text=x", 0xD8, b"x", 0),
            ("&mwi=5&text=x", 0xC1, b"x", 0),
            ("&mwi=2&coding=2&charset=UTF-8&text=%D0%96", 0xEA, b"\x04\x16", 0),
            ("&mwi=1", 0xC9, b"", 0),
            # mwi with octets: under the UCS2 group, as Kannel sends them
            ("&mwi=1&coding=1&text=%00A", 0xE9, b"\x00A", 0),
            # Kannel 1.4.5 takes an invalid sequence, or an unknown charset for no text
            ("&coding=0&charset=UTF-8&text=a%FF", 0x00, b"a?", 0),
            ("&charset=no-such-charset", 0x00, b"", 0),
            ("&text=x&dlr-mask=66", 0x00, b"x", 0),
            ("&text=x&validity=0", 0x00, b"x", 0),
            ("&text=x&validity=99999999999", 0x00, b"x", 0),  # capped by max_validity
            # not a number: as absent (sscanf)
            ("&coding=abc&mclass=&text=x", 0x00, b"x", 0),
        ]
        for query, data_coding, payload, esm_class in cases:
            answer = await sendsms(node, base + query)
            _kannel_answer(answer, 202, b"0: Accepted for delivery")
            records = await _messages(node)
            record = max(records, key=lambda r: r.message_id)
            assert (record.data_coding, record.short_message, record.esm_class) == (
                data_coding,
                payload,
                esm_class,
            ), query
        answer = await sendsms(node, base + "&text=x&validity=90&deferred=30&priority=3")
        _kannel_answer(answer, 202, b"0: Accepted for delivery")
        record = max(await _messages(node), key=lambda r: r.message_id)
        assert record.priority_flag == 3 and record.state is MessageState.SCHEDULED
        assert abs((record.due_at - record.submitted_at).total_seconds() - 1800) < 1
        assert abs((record.expires_at - record.submitted_at).total_seconds() - 5400) < 1
        long = await sendsms(node, base + "&text=" + "a" * 200)
        _kannel_answer(long, 202, b"0: Accepted for delivery")
        assert len(await _messages(node)) == len(cases) + 3  # split in two parts


_GOOD = "from=Example&to=447700900123&text=x"
_ERRORS = [
    # Authorisation first: without credentials even a request without `to` is refused so.
    ("to=447700900123", 403, b"Authorization failed for sendsms"),
    ("", 403, b"Authorization failed for sendsms"),
    (f"username=esme1&password=wrong&{_GOOD}", 403, b"Authorization failed for sendsms"),
    (f"username=nobody&password={PASSWORD}&{_GOOD}", 403, b"Authorization failed for sendsms"),
    (f"username=esme1&{_GOOD}", 403, b"Authorization failed for sendsms"),
    (f"{AUTH}&text=x", 400, b"Missing receiver number, rejected"),
    (f"{AUTH}&to=&text=x", 400, b"Empty receiver number not allowed, rejected"),
    (f"{AUTH}&to&text=x", 400, b"Empty receiver number not allowed, rejected"),
    (f"{AUTH}&from=x&to=abc", 400, b"Number(s) has/have been denied by white- and/or black-lists."),
    (f"{AUTH}&from=x&to=+", 400, b"Number(s) has/have been denied by white- and/or black-lists."),
    (f"{AUTH}&from=x&to=-", 400, b"Number(s) has/have been denied by white- and/or black-lists."),
    (
        f"{AUTH}&from=x&to=00{'1' * 21}",
        400,
        b"Number(s) has/have been denied by white- and/or black-lists.",
    ),
    (f"{AUTH}&{_GOOD}&udh=%05%00", 400, b"UDH field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&udh=%FF" + "%00" * 255, 400, b"UDH field is too long, rejected"),
    (f"{AUTH}&to=447700900123&text=x", 400, b"Sender missing and no global set, rejected"),
    (f"{AUTH}&{_GOOD}&account=" + "a" * 65, 400, b"Account field misformed or too long, rejected"),
    (f"{AUTH}&{_GOOD}&account=a%5B", 400, b"Account field misformed or too long, rejected"),
    (f"{AUTH}&{_GOOD}&dlr-url=ftp://x/y", 400, b"DLR-URL field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&dlr-url=http:/", 400, b"DLR-URL field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&dlr-mask=67", 400, b"DLR-Mask field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&dlrmask=-2", 400, b"DLR-Mask field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&mclass=4", 400, b"MClass field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&pid=256", 400, b"PID field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&rpi=3", 400, b"RPI field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&alt-dcs=2", 400, b"Alt-DCS field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&mwi=8", 400, b"MWI field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&coding=3", 400, b"Coding field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&compress=2", 400, b"Compress field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&validity=-2", 400, b"Validity field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&deferred=-5", 400, b"Deferred field misformed, rejected"),
    # ours: due after the account keeps a message (sscanf's int saturates, not a 500)
    (f"{AUTH}&{_GOOD}&deferred=99999999999", 400, b"Deferred field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&priority=4", 400, b"Priority field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&charset=no-such-charset", 400, b"Charset or body misformed, rejected"),
    (
        f"{AUTH}&from=a&to=1&coding=2&charset=no-such&text=x",
        400,
        b"Charset or body misformed, rejected",
    ),
    # The first failing check answers: the UDH before the numbers, the mask before the class.
    (f"{AUTH}&from=x&to=abc&udh=%01", 400, b"UDH field misformed, rejected"),
    (f"{AUTH}&{_GOOD}&mclass=9&dlr-mask=99", 400, b"DLR-Mask field misformed, rejected"),
]


@pytest.mark.parametrize(("query", "status", "body"), _ERRORS)
async def test_every_refusal_is_kannels_to_the_octet(
    tmp_path: Path, query: str, status: int, body: bytes
) -> None:
    async with api_node(tmp_path) as node:
        answer = await sendsms(node, query)
        _kannel_answer(answer, status, body)
        assert await _messages(node) == []


async def test_the_header_post(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        headers = {
            "X-Kannel-Username": "esme1",
            "X-Kannel-Password": PASSWORD,
            "X-Kannel-From": "Example",
            "X-Kannel-To": "447700900123 447700900124",
            "X-Kannel-Coding": "2",
        }

        async def post(body: bytes, content_type: str, **more: str) -> httpx.Response:
            return await node.client.post(
                "/cgi-bin/sendsms",
                content=body,
                headers={**headers, "Content-Type": content_type, **more},
                auth=None,
            )

        answer = await post("Жук".encode(), "text/plain; charset=UTF-8")
        _kannel_answer(answer, 202, b"0: Accepted for delivery")
        records = await _messages(node)
        assert len(records) == 2
        assert {r.short_message for r in records} == {"Жук".encode("utf-16-be")}
        form = await post(b"to=1&text=x", "application/x-www-form-urlencoded")
        _kannel_answer(form, 400, b"Invalid content-type")
        html = await post(b"<p>x</p>", "text/html")
        _kannel_answer(html, 415, b"Unsupported content-type, rejected")
        wrong = await post(b"x", "text/plain", **{"X-Kannel-Password": "wrong"})
        _kannel_answer(wrong, 403, b"Authorization failed for sendsms")
        no_to = await node.client.post(
            "/cgi-bin/sendsms",
            content=b"x",
            headers={
                "Content-Type": "text/plain",
                "X-Kannel-Username": "esme1",
                "X-Kannel-Password": PASSWORD,
            },
            auth=None,
        )
        _kannel_answer(no_to, 400, b"Missing receiver(s) number(s), rejected")
        assert len(await _messages(node)) == 2


async def test_over_the_throughput_is_a_temporal_failure(tmp_path: Path) -> None:
    async with api_node(tmp_path, account="throughput = 1") as node:
        first = await sendsms(node, f"{AUTH}&{_GOOD}")
        _kannel_answer(first, 202, b"0: Accepted for delivery")
        second = await sendsms(node, f"{AUTH}&{_GOOD}")
        _kannel_answer(second, 503, b"Temporal failure, try again later.")
        assert len(await _messages(node)) == 1


async def test_switched_off(tmp_path: Path) -> None:
    async with api_node(tmp_path, api="kannel_compat = false") as node:
        answer = await sendsms(node, f"{AUTH}&{_GOOD}")
        assert answer.status_code == 404
        assert await _messages(node) == []
        assert "/cgi-bin/sendsms" not in (await node.client.get("/openapi.json")).text


_ESCAPES = (
    "id=abc&type=%d&to=%p&from=%P&q=%q&answer=%A&smsc=%i&ts=%t&T=%T&I=%I&F=%F&n=%n"
    "&k=%k&c=%c&C=%C&O=%O&u=%u&o=%o&D=%D&pct=%%&x=%x&meta=%#smpp#dlr_err#&end"
)


async def test_delivery_reports_fill_the_escapes_as_kannel_does(tmp_path: Path) -> None:
    async with (
        webhook_receiver(lambda n: 200) as receiver,
        api_node(tmp_path, api=QUICK, extra=NETWORK) as node,
    ):
        url = quote(f"{receiver.url}?{_ESCAPES}", safe="")
        sent = [
            ("%2B447700900123", "3"),  # delivered: type 1
            ("00447700900666", "3"),  # unknown subscriber: failed, type 2
            ("447700900124", "2"),  # delivered, only failures asked: none
            ("447700900125", "0"),  # no mask: none
        ]
        for to, mask in sent:
            answer = await sendsms(
                node,
                f"{AUTH}&from=%2B447700900999&to={to}&text=Hello+you&dlr-mask={mask}"
                f"&dlr-url={url}&smsc=carrier-1",
            )
            _kannel_answer(answer, 202, b"0: Accepted for delivery")
        await receiver.wait_for(lambda: len(receiver.requests) >= 2)
        records = sorted(await _messages(node), key=lambda r: r.message_id)
        for record in records:
            await _final(node, record.message_id)
        await _pause()
        assert len(receiver.requests) == 2
        by_to = {}
        for request in receiver.requests:
            path, _, query = request.path.partition("?")
            assert path == "/hooks"
            assert request.headers["user-agent"].startswith("Kannel/")
            assert request.body == b""
            by_to[dict(parse_qsl(query))["to"]] = (query, request)
        delivered_query, _ = by_to["+447700900123"]
        failed_query, _ = by_to["00447700900666"]
        delivered = await node.store.get(records[0].receipt_id)  # type: ignore[arg-type]
        assert delivered is not None
        raw = dict(pair.split("=", 1) for pair in delivered_query.split("&") if "=" in pair)
        assert raw["type"] == "1" and raw["id"] == "abc"
        assert raw["to"] == "%2B447700900123"  # as the client wrote it, URL-encoded
        assert raw["from"] == "%2B447700900999"
        assert raw["q"] == "%2B447700900123"
        assert raw["smsc"] == "carrier-1"
        assert raw["n"] == "esme1"
        assert raw["F"] == records[0].message_id
        assert raw["k"] == "id%3A" + records[0].message_id
        assert raw["answer"].startswith(f"id%3A{records[0].message_id}+sub%3A001+dlvrd%3A001+")
        assert "+stat%3ADELIVRD+err%3A000+text%3AHello+you" in raw["answer"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d\+\d\d:\d\d:\d\d", raw["ts"])
        assert raw["T"] == str(int(delivered.submitted_at.timestamp()))
        assert uuid.UUID(raw["I"]) and raw["I"] != records[0].message_id
        assert (raw["c"], raw["C"], raw["O"], raw["u"], raw["pct"], raw["x"]) == (
            "-1",
            "UTF-8",
            "00",
            "",
            "%",
            "%x",
        )
        # as Kannel 1.4.5 fills them for a receipt from an SMPP SMSC (compared with it)
        assert raw["o"] == "esme1"
        assert raw["D"] == "%3Forig_msg%3Fdlr_mask%3D3%26%3Fsmpp%3Fdlr_err%3D%2503%2500%2500%26"
        assert delivered_query.endswith("&meta=%03%00%00&end")
        failed = dict(parse_qsl(failed_query))
        assert failed["type"] == "2"
        assert failed["q"] == "+447700900666"  # %q: a leading 00 is %2B
        assert "stat:UNDELIV" in failed["answer"]
        assert failed_query.endswith("&meta=%03%00%01&end")  # unknownSubscriber, GSM


async def test_an_intermediate_report_is_type_4(tmp_path: Path) -> None:
    async with (
        webhook_receiver(lambda n: 200) as receiver,
        api_node(tmp_path, api=QUICK, extra=NETWORK) as node,
    ):
        url = quote(f"{receiver.url}?type=%d&to=%p", safe="")
        answer = await sendsms(
            node, f"{AUTH}&from=Example&to=447700900555&text=x&dlr-mask=7&dlr-url={url}"
        )
        _kannel_answer(answer, 202, b"0: Accepted for delivery")
        await receiver.wait_for(lambda: len(receiver.requests) >= 1)
        assert receiver.requests[0].path == "/hooks?type=4&to=447700900555"


async def test_reports_pending_at_a_kill_9_all_arrive_after_the_restart(tmp_path: Path) -> None:
    up = False

    def script(n: int) -> int:
        return 200 if up else 500

    async with webhook_receiver(script) as receiver:
        config = restart._config(tmp_path, QUICK)
        url = quote(f"{receiver.url}?id=%I&msg=m%dn&to=%p", safe="")
        numbers = [f"4477009001{n:02d}" for n in range(10)]
        node, client = await restart._start(config)
        try:
            for start in (0, 5):  # five recipients in a request, twice
                answer = await client.get(
                    httpx.URL(
                        f"/cgi-bin/sendsms?{AUTH}&from=Example&text=x&dlr-mask=3&dlr-url={url}"
                        f"&to={'+'.join(numbers[start : start + 5])}"
                    ),
                    auth=None,
                )
                assert (answer.status_code, answer.content) == (202, b"0: Accepted for delivery")
            # Every report was tried (and failed) at least once: all are owed, none done.
            await receiver.wait_for(lambda: _reported(receiver.requests) == set(numbers))
            node.signal(signal.SIGKILL)
            assert await node.wait() == -signal.SIGKILL
        finally:
            await client.aclose()
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()
        up = True
        node, client = await restart._start(config)
        try:
            await receiver.wait_for(
                lambda: _reported([r for r in receiver.requests if r.status == 200]) == set(numbers)
            )
            node.signal(signal.SIGTERM)
            assert await node.wait() == 0
        finally:
            await client.aclose()
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()
    # A retry is the same report: the same %I.
    ids: dict[str, set[str]] = {}
    for request in receiver.requests:
        query = dict(parse_qsl(request.path.partition("?")[2]))
        assert query["msg"] == "m1n"
        ids.setdefault(query["to"], set()).add(query["id"])
    assert all(len(found) == 1 for found in ids.values())
    with sqlite3.connect(tmp_path / "data" / "messages.sqlite3") as db:
        states = db.execute(
            "SELECT state, COUNT(*) FROM message WHERE direction = 3 AND callback_url IS NOT NULL"
            " GROUP BY state"
        ).fetchall()
    assert states == [(int(MessageState.DELIVERED), 10)]


def _reported(requests: list[Received]) -> set[str]:
    return {dict(parse_qsl(r.path.partition("?")[2]))["to"] for r in requests}


async def test_smsc_ack_then_the_final_report_in_order(tmp_path: Path) -> None:
    async with (
        webhook_receiver(lambda n: 200) as receiver,
        api_node(tmp_path, api=QUICK, extra=NETWORK) as node,
    ):
        # courier's mask: 1 + 2 + 8 + 16
        url = quote(f"{receiver.url}?status=%d&answer=%A&F=%F", safe="")
        answer = await sendsms(
            node,
            f"{AUTH}&from=Example&to=447700900123+00447700900666&text=x&dlr-mask=27&dlr-url={url}",
        )
        _kannel_answer(answer, 202, b"0: Accepted for delivery")
        await receiver.wait_for(lambda: len(receiver.requests) >= 4)
        delivered, failed = sorted(await _messages(node), key=lambda r: r.message_id)
        paths = [r.path for r in receiver.requests]
        for record, final in ((delivered, "status=1&answer=id"), (failed, "status=2&answer=id")):
            mine = [p for p in paths if p.endswith(f"&F={record.message_id}")]
            assert len(mine) == 2, paths
            assert mine[0] == f"/hooks?status=8&answer=ACK%2F&F={record.message_id}"
            assert mine[1].startswith(f"/hooks?{final}")


async def test_a_full_store_is_a_temporal_failure_never_accepted(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        store = node.store

        def pages(full: bool) -> Callable[[sqlite3.Connection], None]:
            # SQLITE_FULL, what a full disk gives, without filling one: the file may not grow
            # past the pages it has (tests/store/test_migrations.py does the same).
            def limit(conn: sqlite3.Connection) -> None:
                count = conn.execute("PRAGMA page_count").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count = {count if full else 1 << 30}")

            return limit

        await store._write(pages(True))
        answers = []
        for _ in range(60):  # the free pages the file has fill up first
            answer = await sendsms(node, f"{AUTH}&from=x&text=x&to=447700900124+447700900125")
            answers.append(answer)
            if answer.status_code != 202:
                break
        _kannel_answer(answers[-1], 503, b"Temporal failure, try again later.")
        stored = len(await _messages(node))
        assert stored == 2 * (len(answers) - 1)  # all of a request or none of it
        await store._write(pages(False))
        _kannel_answer(await sendsms(node, f"{AUTH}&{_GOOD}"), 202, b"0: Accepted for delivery")
