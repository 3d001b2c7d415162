"""The Kannel drop-in against the real thing: Kannel's own bearerbox and smsbox (Debian `kannel`,
1.4.5) bind to the node as an ESME, and the same sendsms requests go to smsbox's sendsms port
and to the node's `/cgi-bin/sendsms`. Every answer (status, body, Kannel's headers) must be
the same octets; the delivery reports both send for the same messages to a dlr-url using
every escape must be the same GET, once the values that name a message or a moment are
masked (ids, UUIDs, times, Kannel's smsc-id).

Skipped when Kannel is not installed (`../shared/peers/kannel-client.sh` installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from opensmsc import app
from opensmsc.config import loads
from tests.integration.api_node import config_text

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        shutil.which("smsbox", path="/usr/sbin:/usr/bin") is None, reason="Kannel not installed"
    ),
]

A = "username=esme1&password=secret"
G = "from=Example&to=447700900123&text=x"
QUERIES = [
    "to=1",
    "",
    f"username=esme1&password=bad&{G}",
    f"user=esme1&pass=secret&{G}",
    f"user=esme1&username=bad&password=secret&{G}",
    f"{A}&text=x",
    f"{A}&to=&text=x",
    f"{A}&to&text=x",
    f"{A}&from=x&to=abc",
    f"{A}&from=x&to=+",
    f"{A}&from=Example&to=%20&text=x",
    f"{A}&from=Example&to=447700900123+44abc+447700900124&text=x",
    f"{A}&from=Example&to=44-77009+%2B4477&text=x",
    f"{A}&{G}&udh=%05%00",
    f"{A}&{G}&udh=%FF",
    f"{A}&from=x&to=abc&udh=%01",
    f"{A}&to=1&text=x",
    f"{A}&from=&to=1&text=x",
    f"{A}&{G}&account=a%5B",
    f"{A}&{G}&dlr-url=ftp://x/y",
    f"{A}&{G}&dlr-url=http:/",
    *(f"{A}&{G}&dlr-mask={m}" for m in (-2, -1, 63, 64, 66, 67, 127, 1000)),
    f"{A}&{G}&dlrmask=99",
    f"{A}&{G}&mclass=4",
    f"{A}&{G}&mclass=-1",
    f"{A}&{G}&pid=256",
    f"{A}&{G}&rpi=3",
    f"{A}&{G}&alt-dcs=2",
    f"{A}&{G}&mwi=8",
    f"{A}&{G}&mwi=1&coding=1",
    f"{A}&{G}&coding=3",
    f"{A}&{G}&coding=abc",
    f"{A}&{G}&compress=2",
    f"{A}&{G}&validity=-2",
    f"{A}&{G}&validity=0",
    f"{A}&{G}&validity=-1&deferred=-1",
    f"{A}&{G}&deferred=-5",
    f"{A}&{G}&deferred=0",
    f"{A}&{G}&priority=4",
    f"{A}&{G}&priority=-1",
    f"{A}&{G}&priority=-2",
    f"{A}&{G}&charset=no-such-charset",
    f"{A}&from=a&to=1&coding=0&charset=UTF-8&text=%FF",
    f"{A}&from=a&to=1&coding=0&charset=no-such&text=",
    f"{A}&from=a&to=1&coding=2&charset=no-such&text=x",
    f"{A}&{G}&mclass=9&dlr-mask=99",
]
_KANNEL_HEADERS = ("content-type", "pragma", "cache-control")
_X = {"X-Kannel-Username": "esme1", "X-Kannel-Password": "secret", "X-Kannel-From": "Example"}
POSTS: list[tuple[str, dict[str, str], bytes]] = [
    ("application/x-www-form-urlencoded", {}, f"{A}&to=1&text=x".encode()),
    ("text/plain", {**_X, "X-Kannel-To": "447700900123"}, b"hello"),
    ("text/plain", _X, b"hello"),
    ("text/plain", {**_X, "X-Kannel-To": ""}, b"hello"),
    ("text/html", {**_X, "X-Kannel-To": "447700900123"}, b"<p>hello</p>"),
    ("text/html", {"X-Kannel-To": "447700900123"}, b"<p>hello</p>"),
    ("text/plain", {**_X, "X-Kannel-To": "447700900123", "X-Kannel-Password": "bad"}, b"x"),
    ("application/json", {**_X, "X-Kannel-To": "447700900123"}, b"{}"),
    ("text/plain", {**_X, "X-Kannel-To": "447700900123", "X-Kannel-UDH": "0605040B8423F0"}, b"x"),
    ("text/plain", {**_X, "X-Kannel-To": "447700900123", "X-Kannel-UDH": "05"}, b"x"),
]
ESCAPES = (
    "type=%d&to=%p&from=%P&q=%q&Q=%Q&n=%n&c=%c&m=%m&M=%M&C=%C&O=%O&u=%u&k=%k&s=%s&r=%r&a=%a"
    "&pct=%%&x=%x&B=%B&o=%o&D=%D&v=%v&V=%V&meta=%#smpp#dlr_err#&mask=%#orig_msg#dlr_mask#"
    "&A=%A&t=%t&T=%T&F=%F&i=%i&I=%I"
)
NETWORK = """
[policyd]
enabled = false
[network]
[[network.subscribers]]
msisdn = "+447700900666"
state = "unknown"
[[network.subscribers]]
msisdn = "+447700900555"
state = "absent"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _kannel_conf(folder: Path, smpp_port: int, ports: dict[str, int]) -> str:
    return f"""group = core
admin-port = {ports["admin"]}
admin-interface = "127.0.0.1"
admin-password = "x"
status-password = "x"
admin-allow-ip = "127.0.0.1"
smsbox-port = {ports["box"]}
smsbox-interface = "127.0.0.1"
box-allow-ip = "127.0.0.1"
log-file = "{folder}/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = opensmsc
host = "127.0.0.1"
port = {smpp_port}
smsc-username = "esme1"
smsc-password = "secret"
system-type = ""
transceiver-mode = true
interface-version = 34
source-addr-autodetect = false
dest-addr-ton = 1
dest-addr-npi = 1

group = smsbox
bearerbox-host = "127.0.0.1"
bearerbox-port = {ports["box"]}
sendsms-port = {ports["sendsms"]}
sendsms-interface = "127.0.0.1"
log-file = "{folder}/smsbox.log"
log-level = 1

group = sendsms-user
username = "esme1"
password = "secret"
max-messages = 10
concatenation = true
"""


@contextlib.asynccontextmanager
async def _kannel(folder: Path, smpp_port: int) -> AsyncIterator[int]:
    """bearerbox and smsbox bound to the node; yields smsbox's sendsms port once online."""
    ports = {"admin": _free_port(), "box": _free_port(), "sendsms": _free_port()}
    conf = folder / "kannel.conf"
    conf.write_text(_kannel_conf(folder, smpp_port, ports))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for box in ("bearerbox", "smsbox"):
            procs.append(
                subprocess.Popen(
                    [f"/usr/sbin/{box}", "-v", "4", str(conf)],
                    cwd=folder,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            await asyncio.sleep(1.0)  # smsbox gives up at once without a bearerbox
        status = f"http://127.0.0.1:{ports['admin']}/status.txt?password=x"
        async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(30):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    text = (await client.get(status)).text
                    # the SMPP connection to the node online, smsbox connected
                    if re.search(r"opensmsc.*\(online \d+s", text) and "smsbox:" in text:
                        break
                await asyncio.sleep(0.2)
        yield ports["sendsms"]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait, 5)


async def test_sendsms_answers_and_reports_are_kannels(tmp_path: Path) -> None:
    reports: list[str] = []

    async def receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        reports.append(head.split(b"\r\n")[0].decode())
        # `connection: close`: Kannel (which does not retry) must not reuse a closed one
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    sink = await asyncio.start_server(receiver, "127.0.0.1", 0)
    node_dir, kannel_dir = tmp_path / "node", tmp_path / "kannel"
    node_dir.mkdir()
    kannel_dir.mkdir()
    running = await app.start(loads(config_text(node_dir, extra=NETWORK)))
    try:
        ours = f"http://127.0.0.1:{running.ports['api']}/cgi-bin/sendsms"
        async with (
            _kannel(kannel_dir, running.ports["smpp"]) as sendsms_port,
            httpx.AsyncClient(timeout=20) as client,
        ):
            theirs = f"http://127.0.0.1:{sendsms_port}/cgi-bin/sendsms"
            differ = []
            for query in QUERIES:
                answers = [await client.get(httpx.URL(f"{url}?{query}")) for url in (theirs, ours)]
                seen = [
                    (a.status_code, a.content, [a.headers.get(h) for h in _KANNEL_HEADERS])
                    for a in answers
                ]
                if seen[0] != seen[1]:
                    differ.append(f"GET ?{query}: Kannel {seen[0]}, ours {seen[1]}")
            for content_type, headers, body in POSTS:
                sent = {"Content-Type": content_type, **headers}
                answers = [await client.post(u, content=body, headers=sent) for u in (theirs, ours)]
                seen = [(a.status_code, a.content) for a in answers]
                if seen[0] != seen[1]:
                    differ.append(f"POST {sent} {body!r}: Kannel {seen[0]}, ours {seen[1]}")
            assert differ == []

            # The same messages through both, reports to one receiver: each pair of reports
            # must be the same GET once the message's own values are masked.
            reports.clear()
            port = sink.sockets[0].getsockname()[1]
            sent_to = [
                ("%2B447700900123", "31", "Hello+you+all"),  # 8 then 1
                ("00447700900666", "27", "Hi"),  # 8 then 2 (unknown subscriber)
                ("447700900555", "7", "Later"),  # 4 (absent: kept for a retry)
            ]
            for to, mask, text in sent_to:
                dlr = quote(f"http://127.0.0.1:{port}/dlr?{ESCAPES}", safe="")
                query = f"{A}&from=Example&to={to}&text={text}&dlr-mask={mask}&dlr-url={dlr}"
                for url in (theirs, ours):
                    answer = await client.get(httpx.URL(f"{url}?{query}"))
                    assert answer.content == b"0: Accepted for delivery"
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    while len(reports) < 10:
                        await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # nothing more comes
    finally:
        await running.stop()
        sink.close()
    masked = sorted(_mask(r) for r in reports)
    assert len(masked) == 10, reports
    assert masked[0::2] == masked[1::2], "\n".join(masked)


def _mask(request_line: str) -> str:
    line = re.sub(r"[0-9a-f]{16}", "ID", request_line)  # our message ids, in %F and %A
    line = re.sub(r"I=[0-9a-f-]{36}", "I=UUID", line)
    line = re.sub(r"T=\d+", "T=N", line)
    line = re.sub(r"t=[0-9+:-]+", "t=TIME", line)
    line = re.sub(r"date%3A\d+", "date%3AD", line)
    return re.sub(r"i=[^&]*", "i=SMSC", line)  # Kannel's smsc-id; ours names none
