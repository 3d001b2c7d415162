"""IMPS over SMS end to end (issue 13, "Benchmark"): IMPS sessions held and instant messages per
second with 10,000 users, each on a handset of its own, every request and every answer a real
SMS through the SMSC: handset → SMSC → IMPS → SMSC → handset.

The path. This process plays the carrier: an SMPP server (uvloop) that the node's upstream
connector binds to (`[[smpp.client]] name = "carrier"`). A handset's request enters the node as
the carrier's `deliver_sm` MO from the handset's number to the IMPS short code, 8-bit, with the
port UDH 06 05 04 0E 06 0E 06 (port 3590 both ways): the connector's MoIngress stores it for
IMPS (claimed before any account, upstream/mo.py), the scheduler hands it to the ImpsRoute, the
service commits its effects, its answers are stored as MT messages and routed to the handset's
number by the node's default route, the same connector: they come back here as `submit_sm`,
answered ESME_ROK at once, their UDH stripped, PTS segments joined (`pts.Assembler`) and parsed
(`pts.parse`) as the handset would. Nothing is short-circuited: every SMS is stored, scheduled,
routed and sent by the node as any other.

Why this path and not the simulated network (measured, not assumed): the network's handset MO
endpoint is one HTTP request per SMS and the handset's inbox must be polled over HTTP. 300
logins driven that way (8 client threads, POST .../mo then GET .../inbox every 20 ms until the
RL came; a scratch probe, not kept) gave 81 logins/s, 6.8 ms of node CPU and 1.3 ms of client
CPU per login, against 1.9 ms of node CPU per login here and about 0.1 ms of bench CPU per SMS:
over HTTP the node would mostly be measured serving the driver. One SMPP connection carries the
same SMS as a carrier would, and the node does for them what it does for a carrier's traffic.
The node runs in its own process (`opensmsc run --config FILE`, bench/_harness.py
OpensmscProcess), its defaults but logging at warning, a fresh data folder per run.

Phases, on one node:

1. provision: the users are `[[imps.users]]` in the configuration file (user b00000 on
   +447900000000 and so on), added by the node at start in one SQLite transaction (timed: the
   node's start);
2. login: every handset sends LR (UI, PW) and waits for RL ST=200 with its SessionID, W
   logins in flight: logins/s; the node's VmRSS before and after, memory per session =
   delta / sessions;
3. keep-alive: every session sends KA, answered AK; a session that has ended would get 600/604:
   sessions held = AK answers with the session alive, checked again against `GET /v1/imps`;
4. messages: the users in pairs (b00000 ↔ b00001, ...), each pair's two sides in turn sending
   SM (UI = the other user, MC = a unique tag) with W SM in flight over all handsets. An IM is
   done when its MS (ST=200) reached the sender and its NM the recipient's handset; the
   recipient acknowledges each NM with MA at once, as a phone does, answered ST=200 (so every
   IM costs 2 MO and 3 MT SMS). IM/s end to end = IMs / time to the last NM or MS; SM-to-NM
   latency p50/p99 (from the deliver_sm written to the NM's submit_sm read); the node's CPU
   seconds per 1,000 IMs (/proc schedstat, the MA traffic included). Checked: every SM's NM
   arrived exactly once (by its tag), every MS and MA answer came, and at the end
   `GET /v1/imps` shows the sessions all live and no message pending.

5. the same IMs one at a time (`--alone`, W=1): the path's own SM-to-NM latency, no queue in
   front of it.

A run fails loudly (exit 1) when anything is lost, duplicated or refused, or stalls; its
figures are not printed.

What W does (2,000 users, 2,000 IMs, one run each): W=10 gave 67 IM/s at p50 131 ms, W=100
100 IM/s at p50 943 ms; with 10,000 users W=300 gave 119 IM/s at p50 2.3 s against 125 IM/s
at 0.74 s for W=100: past a few dozen in flight, more only queues (Little's law: the loaded
latency is about W / rate); one IM alone takes 15-30 ms (p50). The node spends about 5 ms of
CPU per IM (2 MO and 3 MT SMS, each stored, scheduled and sent; the IMPS service commits each
request on its one thread, SQLite synchronous=FULL, and the binding commits `sent()` again
after storing the answers). That was before group commit (imps/worker.py: the calls waiting on
the service thread share one transaction and one fsync; concurrent drains share one outbox
read). Interleaved on this machine, `--users 10000 --ims 5000 --alone 100 --repeat 1`, two
runs each, before → after: logins/s 312, 328 → 624, 581; IM/s 129, 101 → 250, 237; SM→NM p50
728, 1000 → 390, 383 ms, p99 1293, 1684 → 590, 584 ms; node CPU per 1,000 IMs 6.2, 7.0 → 4.3,
3.7 s; start with 10,000 users 7.2, 7.9 → 5.1, 5.4 s. What bounds it now is Python on one GIL:
under py-spy at 204 IM/s the event loop (the engine's path of 5 SMS per IM: stored,
scheduled, routed, sent; the binding's part of it about a fifth) was busy 64% of the time and
the IMPS service thread about 30% (its SQL spread over a dozen statements, none dominant).
Before that: on the shared 2-core machine these were measured on (load average
6-7 from other sessions) figures move by up to a third from run to run; the same run with the
data folder on tmpfs (`--dir /dev/shm`) gave 431 logins/s against 261 but 83 IM/s against 100,
so neither the fsyncs nor the CPU is shown to be the one limit.

    .venv/bin/python bench/imps.py [--users 10000] [--ims 10000] [--alone 200] [--w 100]
                                   [--repeat 2] [--quick] [--json] [--dir DIR]

`--quick`: 500 users, 500 IMs, 50 alone, one run (about 20 s; the smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import HOST, OpensmscProcess, cpu_ns, fmt, free_port, median, vm_rss_kib

from opensmsc.imps import pts
from opensmsc.smpp import (
    BindTransceiver,
    CommandId,
    DeliverSm,
    EsmClass,
    FrameBuffer,
    FramingError,
    SubmitSm,
    SubmitSmResp,
    decode,
    encode,
)
from opensmsc.sms import parse_udh

SHORT_CODE = "3590"
PORT_UDH = bytes.fromhex("0605040E060E06")  # IEI 0x05, ports 3590 → 3590
DATA_PORT = 3590
SYSTEM_ID = "bench"
PASSWORD = "bench-pw"
PASSWORD_ENV = "OPENSMSC_BENCH_PASSWORD"
CARRIER_WINDOW = 1000  # deliver_sm unanswered at once; the connector's receive_window
STALL = 60.0  # seconds without any progress: the run fails


def user_id(i: int) -> str:
    return f"b{i:05d}"


def msisdn(i: int) -> str:
    return f"447900{i:06d}"


def password(i: int) -> str:
    return f"pw{i:05d}"


def node_config(
    data_dir: Path, smpp_port: int, admin_port: int, carrier_port: int, users: int
) -> str:
    text = f"""\
[node]
data_dir = "{data_dir}"

[logging]
level = "warning"

[policyd]
enabled = false

[http]
enabled = true
bind_address = "{HOST}"
port = {admin_port}

[smpp.server]
bind_address = "{HOST}"
port = {smpp_port}
tls_enabled = false

[[accounts]]
system_id = "{SYSTEM_ID}"
password_env = "{PASSWORD_ENV}"

[[smpp.client]]
name = "carrier"
host = "{HOST}"
port = {carrier_port}
system_id = "opensmsc"
password = "pw"
window = 1000
receive_window = {CARRIER_WINDOW}
reconnect_min_delay = 0.1
reconnect_max_delay = 0.5

[routing]
default_route = "carrier"   # the handsets' numbers: the carrier

[imps]
enabled = true
short_code = "{SHORT_CODE}"
keepalive = 3600.0          # no session may end during the run
"""
    lines = [text]
    for i in range(users):
        lines.append(
            f'[[imps.users]]\nuser_id = "{user_id(i)}"\nmsisdn = "{msisdn(i)}"\n'
            f'password = "{password(i)}"\n'
        )
    return "\n".join(lines)


def status_of(primitive: pts.Primitive) -> str | None:
    value = primitive.get("ST")
    if isinstance(value, tuple):
        return value[0] if value and isinstance(value[0], str) else None
    return value


# ---- the carrier and the handsets -------------------------------------------------------------


@dataclass
class Handset:
    index: int
    msisdn: str
    user: str
    session_id: str = ""
    transactions: itertools.cycle[int] = field(
        default_factory=lambda: itertools.cycle(range(1, 1000))
    )


Pending = Callable[[pts.Primitive, float], None]  # what to do with the answer


class Carrier:
    """The upstream SMSC the node binds to (module doc). Sends the handsets' MO as deliver_sm
    with at most CARRIER_WINDOW unanswered, answers every submit_sm at once and hands each
    PTS primitive it carries to `on_primitive(handset msisdn, primitive, now)`.

    One `_Link` per TCP connection (`protocol` is the server's factory); the one that sent
    bind_transceiver is the connector's. Another connection (on a shared machine, a stray
    client that found this port) is closed, whatever it sends; losing the connector's
    session fails the run (`lost`), since its unanswered MO would never be answered."""

    def __init__(self, on_primitive: Callable[[str, pts.Primitive, float], None]) -> None:
        self.on_primitive = on_primitive
        self.active: _Link | None = None
        self.bound: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: str | None = None
        self._sequence = itertools.count(1)
        self._ids = itertools.count(1)
        self._unanswered = 0
        self._queue: deque[bytes] = deque()
        self._assembler = pts.Assembler()
        self.mo_sent = 0
        self.mt_received = 0
        self.mo_refused = 0
        self.unreadable: list[str] = []

    def protocol(self) -> _Link:
        return _Link(self)

    def link_lost(self, link: _Link, why: str) -> None:
        if self.active is link:
            self.active = None
            self.lost = f"the connector's session ended: {why}"
            if not self.bound.done():
                self.bound.set_exception(RuntimeError(self.lost))

    def send_mo(self, handset: Handset, text: str) -> float:
        """Queue one PTS primitive as the handset's MO; the time it was queued."""
        pdu = DeliverSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr=handset.msisdn,
            destination_addr=SHORT_CODE,
            esm_class=EsmClass.UDHI,
            data_coding=0x04,
            short_message=PORT_UDH + text.encode("utf-8"),
        )
        self._queue.append(encode(pdu, next(self._sequence)))
        self._flush()
        return time.perf_counter()

    def _flush(self) -> None:
        if self.active is None:
            return
        transport = self.active.transport
        while self._queue and self._unanswered < CARRIER_WINDOW:
            transport.write(self._queue.popleft())
            self._unanswered += 1
            self.mo_sent += 1

    def on_frames(self, link: _Link, frames: list[bytes]) -> None:
        transport = link.transport
        now = time.perf_counter()
        for frame in frames:
            decoded = decode(frame, strict=False)
            command_id = decoded.command_id
            pdu = decoded.pdu
            if command_id == CommandId.BIND_TRANSCEIVER and self.active is None:
                assert isinstance(pdu, BindTransceiver)
                self.active = link
                transport.write(encode(pdu.response(system_id="BENCH"), decoded.sequence_number))
                if not self.bound.done():
                    self.bound.set_result(None)
                continue
            if link is not self.active:
                transport.close()
                return
            if command_id == CommandId.SUBMIT_SM:
                assert isinstance(pdu, SubmitSm)
                transport.write(
                    encode(SubmitSmResp(message_id=f"{next(self._ids):x}"), decoded.sequence_number)
                )
                self.mt_received += 1
                self._on_mt(pdu, now)
            elif command_id == CommandId.DELIVER_SM_RESP:
                self._unanswered -= 1
                if decoded.status != 0:
                    self.mo_refused += 1
            elif command_id in (CommandId.ENQUIRE_LINK, CommandId.UNBIND):
                transport.write(encode(pdu.response(), decoded.sequence_number))  # type: ignore[attr-defined]
        self._flush()

    def _on_mt(self, pdu: SubmitSm, now: float) -> None:
        content = pdu.short_message
        if not pdu.esm_class & EsmClass.UDHI:
            self.unreadable.append(f"no UDH to {pdu.destination_addr}: {content[:40]!r}")
            return
        header, payload = parse_udh(content)
        if header.ports is None or header.ports.destination != DATA_PORT:
            self.unreadable.append(f"not port 3590 to {pdu.destination_addr}: {header.ports}")
            return
        text = self._assembler.feed(pdu.destination_addr, payload.decode("utf-8"), now)
        if text is not None:
            self.on_primitive(pdu.destination_addr, pts.parse(text), now)


class _Link(asyncio.Protocol):
    """One TCP connection to the carrier (Carrier's doc)."""

    def __init__(self, carrier: Carrier) -> None:
        self.carrier = carrier
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport's kind
        self._frames = FrameBuffer()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._frames.feed(data)
        except FramingError as exc:
            self.transport.close()
            self.carrier.link_lost(self, f"not SMPP: {exc}")
            return
        self.carrier.on_frames(self, frames)

    def connection_lost(self, exc: Exception | None) -> None:
        self.carrier.link_lost(self, repr(exc) if exc else "closed")


class Driver:
    """The handsets: what each sent and waits for, the phases, their figures."""

    def __init__(self, users: int) -> None:
        self.handsets = [Handset(i, msisdn(i), user_id(i)) for i in range(users)]
        self.by_msisdn = {h.msisdn: h for h in self.handsets}
        self.carrier = Carrier(self._on_primitive)
        self.waiting: dict[tuple[str, int], Pending] = {}
        self.progress = time.perf_counter()
        # Messages: tag → (sent at, recipient msisdn); NM per tag; latencies.
        self.im_sent_at: dict[str, float] = {}
        self.im_recipient: dict[str, str] = {}
        self.im_done_parts: dict[str, int] = {}
        self.nm_count: dict[str, int] = {}
        self.latencies: list[float] = []
        self.unexpected: list[str] = []
        self.ma_sent = 0
        self.ma_ok = 0
        self.ma_failed = 0
        self._im_done: dict[str, Callable[[], None]] = {}

    # ---- requests and answers ------------------------------------------------------------

    def request(
        self, handset: Handset, code: str, params: tuple[tuple[str, pts.Value], ...], then: Pending
    ) -> float:
        transaction = next(handset.transactions)
        key = (handset.msisdn, transaction)
        if key in self.waiting:
            raise RuntimeError(f"{handset.user}: 999 requests unanswered")
        self.waiting[key] = then
        return self.carrier.send_mo(handset, pts.encode(pts.Primitive(code, transaction, params)))

    def _on_primitive(self, number: str, primitive: pts.Primitive, now: float) -> None:
        self.progress = now
        handset = self.by_msisdn.get(number)
        if handset is None:
            self.unexpected.append(f"to unknown {number}: {pts.encode(primitive)[:80]}")
            return
        if primitive.code == "NM":
            self._on_new_message(handset, primitive, now)
            return
        then = self.waiting.pop((number, primitive.transaction), None)
        if then is None:
            self.unexpected.append(f"{handset.user}: {pts.encode(primitive)[:80]}")
            return
        then(primitive, now)

    # ---- phases ---------------------------------------------------------------------------

    async def run_phase(
        self, name: str, count: int, w: int, start: Callable[[int, Callable[[], None]], None]
    ) -> tuple[float, float]:
        """`start(i, done)` for i in range(count), at most `w` not done; (first, last) time."""
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        state = {"started": 0, "done": 0, "in_flight": 0}

        def done() -> None:
            state["done"] += 1
            state["in_flight"] -= 1
            if state["done"] == count:
                if not finished.done():
                    finished.set_result(None)
                return
            fill()

        def fill() -> None:
            while state["in_flight"] < w and state["started"] < count:
                i = state["started"]
                state["started"] += 1
                state["in_flight"] += 1
                start(i, done)

        t0 = time.perf_counter()
        self.progress = t0
        fill()
        while not finished.done():
            await asyncio.wait([finished], timeout=1.0)
            if self.carrier.lost:
                raise RuntimeError(f"{name}: {self.carrier.lost}")
            if time.perf_counter() - self.progress > STALL:
                raise RuntimeError(
                    f"{name}: stalled at {state['done']}/{count} done; "
                    f"MO sent {self.carrier.mo_sent}, MT {self.carrier.mt_received}; "
                    f"unexpected: {self.unexpected[:3]}"
                )
        t1 = time.perf_counter()
        print(f"    {name}: {count:,} in {t1 - t0:.1f} s", file=sys.stderr, flush=True)
        return t0, t1

    def login(self, i: int, done: Callable[[], None], failures: list[str]) -> None:
        handset = self.handsets[i]

        def answered(primitive: pts.Primitive, now: float) -> None:
            session_id = primitive.text("SI") if primitive.code == "RL" else None
            if status_of(primitive) == "200" and session_id:
                handset.session_id = session_id
            else:
                failures.append(f"{handset.user}: {pts.encode(primitive)[:80]}")
            done()

        self.request(
            handset,
            "LR",
            (("UI", handset.user), ("PW", password(i))),
            answered,
        )

    def keepalive(self, i: int, done: Callable[[], None], failures: list[str]) -> None:
        handset = self.handsets[i]

        def answered(primitive: pts.Primitive, now: float) -> None:
            if primitive.code != "AK":
                failures.append(f"{handset.user}: {pts.encode(primitive)[:80]}")
            done()

        self.request(handset, "KA", (("SI", handset.session_id),), answered)

    def send_im(self, n: int, done: Callable[[], None], failures: list[str]) -> None:
        """IM number n: pair n % pairs, its sides in turn."""
        pairs = len(self.handsets) // 2
        pair, turn = n % pairs, (n // pairs) % 2
        sender = self.handsets[2 * pair + turn]
        recipient = self.handsets[2 * pair + 1 - turn]
        tag = f"m{n}"
        self.im_recipient[tag] = recipient.msisdn
        self.im_done_parts[tag] = 0
        self._im_done[tag] = done

        def answered(primitive: pts.Primitive, now: float) -> None:
            if primitive.code != "MS" or status_of(primitive) != "200":
                failures.append(f"{sender.user}: {pts.encode(primitive)[:80]}")
            self._part_done(tag)

        self.im_sent_at[tag] = self.request(
            sender,
            "SM",
            (
                ("SI", sender.session_id),
                ("UI", recipient.user),
                ("MC", tag),
                ("CT", "text/plain"),
            ),
            answered,
        )

    def _part_done(self, tag: str) -> None:
        parts = self.im_done_parts[tag] + 1
        self.im_done_parts[tag] = parts
        if parts == 2:
            self._im_done.pop(tag)()

    def _on_new_message(self, handset: Handset, primitive: pts.Primitive, now: float) -> None:
        tag = primitive.text("MC") or ""
        seen = self.nm_count.get(tag, 0)
        self.nm_count[tag] = seen + 1
        sent_at = self.im_sent_at.get(tag)
        if sent_at is None or self.im_recipient.get(tag) != handset.msisdn:
            self.unexpected.append(f"NM {tag!r} on {handset.user}")
        elif seen == 0:
            self.latencies.append(now - sent_at)
            self._part_done(tag)
        message_id = primitive.text("MI") or ""
        self.ma_sent += 1

        def acknowledged(answer: pts.Primitive, now: float) -> None:
            if answer.code == "ST" and status_of(answer) == "200":
                self.ma_ok += 1
            else:
                self.ma_failed += 1
                self.unexpected.append(f"MA {tag}: {pts.encode(answer)[:80]}")

        self.request(handset, "MA", (("SI", handset.session_id), ("MI", message_id)), acknowledged)


# ---- one run --------------------------------------------------------------------------------


async def admin_stats(port: int) -> dict[str, Any]:
    """`GET /v1/imps` on the admin listener (plain HTTP/1.0 on a stream: this folder's
    http.py hides the standard library's http package from a bench script)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(f"GET /v1/imps HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
        async with asyncio.timeout(30):
            answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or head.split()[1] != b"200":
        raise RuntimeError(f"GET /v1/imps: {head[:200]!r}")
    return dict(json.loads(body))


async def settle(pid: int, seconds: float = 1.0) -> int:
    """VmRSS once the node has been idle a moment (what it allocates lazily, allocated)."""
    await asyncio.sleep(seconds)
    return vm_rss_kib(pid)


async def one_run(users: int, ims: int, alone: int, w: int, workroot: Path) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    driver = Driver(users)
    carrier_port = free_port()
    server = await loop.create_server(driver.carrier.protocol, HOST, carrier_port)
    result: dict[str, Any] = {"users": users, "ims": ims, "alone": alone, "w": w}
    with tempfile.TemporaryDirectory(prefix="opensmsc-imps-bench-", dir=workroot) as tmp:
        smpp_port, admin_port = free_port(), free_port()
        node = OpensmscProcess(
            workdir=Path(tmp),
            config_text=node_config(Path(tmp) / "data", smpp_port, admin_port, carrier_port, users),
            port=smpp_port,
            system_id=SYSTEM_ID,
            password=PASSWORD,
            env={PASSWORD_ENV: PASSWORD},
        )
        started = time.perf_counter()
        # The node provisions the users (one commit each) before it listens: blocking start
        # in a thread, so that the carrier answers the connector's bind meanwhile.
        await asyncio.to_thread(node.start, 60.0 + users / 50)
        result["start_s"] = time.perf_counter() - started
        try:
            async with asyncio.timeout(30):
                await driver.carrier.bound
            pid = node.pid
            rss_idle = await settle(pid)

            failures: list[str] = []
            c0 = cpu_ns(pid)
            t0, t1 = await driver.run_phase(
                "login", users, w, lambda i, done: driver.login(i, done, failures)
            )
            c1 = cpu_ns(pid)
            if failures:
                raise RuntimeError(f"{len(failures)} logins failed: {failures[:3]}")
            rss_logged_in = await settle(pid)
            result["logins_per_s"] = users / (t1 - t0)
            result["login_cpu_ms_per_login"] = (c1 - c0) / 1e6 / users
            result["rss_idle_mib"] = rss_idle / 1024
            result["rss_logged_in_mib"] = rss_logged_in / 1024
            result["kib_per_session"] = (rss_logged_in - rss_idle) / users

            t0, t1 = await driver.run_phase(
                "keep-alive", users, w, lambda i, done: driver.keepalive(i, done, failures)
            )
            if failures:
                raise RuntimeError(f"{len(failures)} keep-alives failed: {failures[:3]}")
            result["keepalives_per_s"] = users / (t1 - t0)
            stats = await admin_stats(admin_port)
            result["sessions_held"] = stats["sessions"]
            if stats["sessions"] != users:
                raise RuntimeError(f"{stats['sessions']} sessions live, not {users}: {stats}")

            c0, own0 = cpu_ns(pid), time.process_time()
            t0, t1 = await driver.run_phase(
                "messages", ims, w, lambda n, done: driver.send_im(n, done, failures)
            )
            c1, own1 = cpu_ns(pid), time.process_time()
            loaded = driver.latencies
            # The same, one IM at a time: the latency of the path itself, no queue in front.
            driver.latencies = []
            await driver.run_phase(
                "messages one at a time",
                alone,
                1,
                lambda n, done: driver.send_im(ims + n, done, failures),
            )
            # The MA of the last NMs: their answers, then nothing may be pending.
            deadline = time.perf_counter() + STALL
            while driver.ma_ok + driver.ma_failed < driver.ma_sent:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"MA answers: {driver.ma_ok}/{driver.ma_sent}")
                await asyncio.sleep(0.05)
            rss_end = vm_rss_kib(pid)
            stats = await admin_stats(admin_port)
            lost = [tag for tag in driver.im_sent_at if driver.nm_count.get(tag, 0) == 0]
            twice = [tag for tag, count in driver.nm_count.items() if count > 1]
            problems = []
            if failures:
                problems.append(f"{len(failures)} SM refused: {failures[:3]}")
            if lost or twice:
                problems.append(f"NM lost {len(lost)} {lost[:3]}, twice {len(twice)} {twice[:3]}")
            if driver.ma_failed:
                problems.append(f"{driver.ma_failed} MA refused")
            if driver.unexpected or driver.carrier.unreadable:
                problems.append(
                    f"unexpected: {(driver.unexpected + driver.carrier.unreadable)[:3]}"
                )
            if driver.carrier.mo_refused:
                problems.append(f"{driver.carrier.mo_refused} deliver_sm refused by the node")
            if stats["pending_messages"] or stats["sessions"] != users:
                problems.append(f"after the run: {stats}")
            if problems:
                raise RuntimeError("; ".join(problems))
            result["ims_per_s"] = ims / (t1 - t0)
            result["p50_ms"] = statistics.median(loaded) * 1e3
            result["p99_ms"] = statistics.quantiles(loaded, n=100)[98] * 1e3
            result["alone_p50_ms"] = statistics.median(driver.latencies) * 1e3
            result["alone_p99_ms"] = statistics.quantiles(driver.latencies, n=100)[98] * 1e3
            result["cpu_s_per_1000_ims"] = (c1 - c0) / 1e9 / ims * 1000
            result["driver_cpu_s_per_1000_ims"] = (own1 - own0) / ims * 1000
            result["rss_end_mib"] = rss_end / 1024
            result["sms_mo"] = driver.carrier.mo_sent
            result["sms_mt"] = driver.carrier.mt_received
            result["stats_after"] = stats
        except BaseException:
            print(node.log_tail(), file=sys.stderr)
            raise
        finally:
            await asyncio.to_thread(node.stop)
            server.close()
            await server.wait_closed()
    return result


# ---- the command ----------------------------------------------------------------------------

ROWS = (
    ("sessions held", "sessions_held", ",.0f"),
    ("logins/s (LR → RL)", "logins_per_s", ",.0f"),
    ("node CPU ms per login", "login_cpu_ms_per_login", ".2f"),
    ("keep-alives/s (KA → AK)", "keepalives_per_s", ",.0f"),
    ("IM/s end to end", "ims_per_s", ",.0f"),
    ("SM → NM p50 ms", "p50_ms", ",.0f"),
    ("SM → NM p99 ms", "p99_ms", ",.0f"),
    ("SM → NM p50 ms, one IM at a time", "alone_p50_ms", ",.0f"),
    ("SM → NM p99 ms, one IM at a time", "alone_p99_ms", ",.0f"),
    ("node CPU s per 1,000 IMs", "cpu_s_per_1000_ims", ".2f"),
    ("bench CPU s per 1,000 IMs", "driver_cpu_s_per_1000_ims", ".2f"),
    ("node RSS idle, users provisioned MiB", "rss_idle_mib", ".1f"),
    ("node RSS, all logged in MiB", "rss_logged_in_mib", ".1f"),
    ("memory per session KiB", "kib_per_session", ".2f"),
    ("node RSS after the messages MiB", "rss_end_mib", ".1f"),
    ("node start with users s", "start_s", ".1f"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--users", type=int, default=10_000, help="IMPS users, one handset each")
    ap.add_argument("--ims", type=int, default=10_000, help="instant messages (default 10000)")
    ap.add_argument("--alone", type=int, default=200, help="IMs one at a time (default 200)")
    ap.add_argument("--w", type=int, default=100, help="requests in flight (default 100)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="500 users, 500 IMs, 1 run")
    ap.add_argument("--dir", help="where the data folders go (default: the system temp folder)")
    ap.add_argument("--json", action="store_true", help="print every result as JSON at the end")
    args = ap.parse_args()
    if args.quick:
        args.users, args.ims, args.alone, args.repeat = 500, 500, 50, 1
    if args.users < 2 or args.users % 2:
        raise SystemExit("--users: an even number, at least 2 (users talk in pairs)")
    import uvloop

    workroot = Path(args.dir or tempfile.gettempdir())
    runs: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        try:
            result = uvloop.run(one_run(args.users, args.ims, args.alone, args.w, workroot))
        except Exception as exc:  # the figures of a run with a loss must not be reported
            print(f"run {rep + 1} FAILED: {exc!r}", file=sys.stderr)
            raise SystemExit(1) from None
        runs.append(result)
        print(
            f"  run {rep + 1}: {result['logins_per_s']:,.0f} logins/s, "
            f"{result['ims_per_s']:,.0f} IM/s, {result['kib_per_session']:.2f} KiB/session",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"\nIMPS over SMS end to end through the carrier connector: {args.users:,} users on "
        f"{args.users:,} handsets, {args.ims:,} IMs, W={args.w}, median of {len(runs)} "
        f"run(s); {os.cpu_count()} cores"
    )
    for label, key, spec in ROWS:
        print(f"  {label:<40}{fmt(median([r.get(key) for r in runs]), spec):>12}")
    if args.json:
        print(json.dumps(runs))


if __name__ == "__main__":
    main()
